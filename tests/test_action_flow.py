"""Optical flow for the I3D flow stream: direction, scaling to [-1, 1], and reuse of repeated frame pairs."""
import cv2
import numpy as np
import pytest

from gifemo.action import flow as flow_module
from gifemo.action.flow import FLOW_BOUND, FLOW_METHODS, clip_flow, scale_flow

SIZE = 128


def texture(seed: int = 0, margin: int = 20) -> np.ndarray:
    noise = np.random.default_rng(seed).uniform(0, 255, (SIZE + 2 * margin,) * 2).astype(np.float32)
    return cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 3), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def shifted(big: np.ndarray, dx: int, dy: int, margin: int = 20) -> np.ndarray:
    """The view of `big` after its content moved dx right and dy down, as an RGB frame."""
    grey = big[margin - dy:margin - dy + SIZE, margin - dx:margin - dx + SIZE]
    return np.repeat(grey[:, :, None], 3, axis=2)


def test_scale_flow_clips_at_20_pixels_and_maps_to_unit_range():
    pixels = np.array([-45.0, -20.0, -5.0, 0.0, 7.0, 20.0, 33.0], dtype=np.float32)
    assert scale_flow(pixels).tolist() == pytest.approx([-1, -1, -0.25, 0, 0.35, 1, 1])
    assert FLOW_BOUND == 20.0


@pytest.mark.parametrize("method", FLOW_METHODS)
def test_flow_measures_motion_in_pixels_x_then_y(method):
    big = texture()
    frames = np.stack([shifted(big, 0, 0), shifted(big, 3, -2)])
    flow = clip_flow(frames, [0, 1], method)
    assert flow.shape == (1, SIZE, SIZE, 2) and flow.dtype == np.float32
    inner = flow[0, 16:-16, 16:-16] * FLOW_BOUND
    assert np.median(inner[..., 0]) == pytest.approx(3.0, abs=0.4)
    assert np.median(inner[..., 1]) == pytest.approx(-2.0, abs=0.4)


def test_repeated_frames_give_zero_flow_and_pairs_are_computed_once(monkeypatch):
    big = texture(1)
    a, b = shifted(big, 0, 0), shifted(big, 2, 1)
    calls = []
    real = flow_module.flow_estimator

    def counting(method):
        estimate = real(method)
        return lambda x, y: calls.append(1) or estimate(x, y)

    monkeypatch.setattr(flow_module, "flow_estimator", counting)
    # A 2-frame GIF sampled faster than it plays: a a b b a a b (looping back from b to a).
    indices = [0, 0, 1, 1, 0, 0, 1]
    frames = np.stack([a if i == 0 else b for i in indices])
    flow = clip_flow(frames, indices, "dis")
    assert flow.shape == (6, SIZE, SIZE, 2)
    assert len(calls) == 2  # (0, 1) and (1, 0), each once
    for still in (0, 2, 4):
        assert not flow[still].any()
    np.testing.assert_array_equal(flow[1], flow[5])  # the same pair again
    forward, backward = np.median(flow[1][16:-16, 16:-16], axis=(0, 1)), np.median(flow[3][16:-16, 16:-16], axis=(0, 1))
    assert forward * FLOW_BOUND == pytest.approx([2.0, 1.0], abs=0.4)
    assert backward == pytest.approx(-forward, abs=0.02)


def test_bad_arguments_are_rejected():
    frames = np.zeros((3, 32, 32, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="unknown flow method"):
        clip_flow(frames, [0, 1, 2], "lucas-kanade")
    with pytest.raises(ValueError):
        clip_flow(frames, [0, 1], "dis")
    with pytest.raises(ValueError):
        clip_flow(frames[:1], [0], "dis")
