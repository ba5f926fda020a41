"""Frame sampling, resizing and cropping for I3D, on GIFs built in the test and a real Kinetics clip."""
import numpy as np
import pytest

from gifemo.action import preprocess
from gifemo.media import read_clip
from gifmaker import Frame, make_gif

BITS = 7  # frames carry their number as 7 horizontal bands (red = 1, white = 0) of 32 rows each


def coded_frame(number: int, delay_cs: int) -> Frame:
    rows = np.zeros((256, 256), dtype=np.uint8)
    for bit in range(BITS):
        if number >> bit & 1:
            rows[32 * bit:32 * bit + 32] = 1
    return Frame(rows, delay_cs=delay_cs)


def decode_number(crop: np.ndarray) -> int:
    # The 256x256 frame needs no resize; the crop drops 16 rows at the top, so band b starts at 32b - 16.
    return sum(1 << bit for bit in range(BITS) if crop[32 * bit + 8, 112, 1] < 128)  # red: no green


def expected_indices(count: int, frames: int, delay_ms: int, fps_ms: int = 40) -> list[set]:
    """Frame on screen at each 40 ms instant; both neighbours where an instant falls on a frame change."""
    loop = frames * delay_ms
    out = []
    for k in range(count):
        t = fps_ms * k % loop
        index = t // delay_ms
        out.append({index, (index - 1) % frames} if t % delay_ms == 0 and k else {index})
    return out


def write(tmp_path, frames, name="clip.gif"):
    path = tmp_path / name
    path.write_bytes(make_gif(frames, 256, 256))
    return path


def test_short_gif_loops_at_25_fps_to_min_frames(tmp_path):
    path = write(tmp_path, [coded_frame(n, delay_cs=9) for n in range(10)])  # 0.9 s: 22 instants, looped
    frames, indices = preprocess.load_frames(read_clip(path, num_frames=1), fps=25, min_frames=64, max_frames=250)
    assert frames.shape == (64, 224, 224, 3) and frames.dtype == np.uint8
    for k, (allowed, index, crop) in enumerate(zip(expected_indices(64, 10, 90), indices, frames)):
        assert index in allowed, k
        assert decode_number(crop) == index, k
    assert {decode_number(crop) for crop in frames} == set(range(10))


def test_long_gif_keeps_its_middle_max_frames(tmp_path):
    path = write(tmp_path, [coded_frame(n, delay_cs=5) for n in range(80)])  # 4 s: 100 instants
    frames, indices = preprocess.load_frames(read_clip(path, num_frames=1), fps=25, min_frames=16, max_frames=40)
    assert len(frames) == len(indices) == 40
    allowed = expected_indices(100, 80, 50)[30:70]
    assert all(index in ok for index, ok in zip(indices, allowed))
    assert [decode_number(crop) for crop in frames] == indices


@pytest.mark.parametrize("height,width", [(300, 400), (600, 300), (30, 40), (256, 256), (224, 600)])
def test_short_side_256_then_centre_crop_224(height, width):
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    frame[:, width // 2:] = 255  # right half white, left half black
    frame[height // 2:, :, 0] = 200  # bottom half has red
    resized = preprocess.resize_short_side(frame)
    assert min(resized.shape[:2]) == 256
    assert resized.shape[1] / resized.shape[0] == pytest.approx(width / height, rel=0.02)
    crop = preprocess.centre_crop(resized)
    assert crop.shape == (224, 224, 3)
    # The centre of the frame stays the centre of the crop.
    assert crop[112, 100, 1] < 60 and crop[112, 124, 1] > 200
    assert crop[100, 60, 0] < 60 and crop[124, 60, 0] > 150


def test_rgb_input_is_channels_first_in_minus_one_to_one():
    frames = np.zeros((5, 224, 224, 3), dtype=np.uint8)
    frames[2, 10, 20] = (0, 255, 51)
    clip = preprocess.rgb_input(frames)
    assert clip.shape == (1, 3, 5, 224, 224) and clip.dtype.is_floating_point
    assert clip.min().item() == -1.0 and clip.max().item() == 1.0
    assert clip[0, :, 2, 10, 20].tolist() == pytest.approx([-1.0, 1.0, -0.6])


def test_truncated_gif_loops_the_frames_it_has(tmp_path):
    data = make_gif([coded_frame(n, delay_cs=10) for n in range(4)], 256, 256)
    path = tmp_path / "cut.gif"
    path.write_bytes(data[: int(len(data) * 0.8)])  # the last frame(s) are cut off
    with pytest.warns(UserWarning):
        frames, indices = preprocess.load_frames(read_clip(path, num_frames=1), fps=25, min_frames=16, max_frames=16)
    assert len(frames) == 16
    assert [decode_number(crop) for crop in frames] == indices
    assert max(indices) < 3


def test_frame_counts_out_of_range_are_rejected(tmp_path):
    path = write(tmp_path, [coded_frame(n, 10) for n in range(3)])
    with pytest.raises(ValueError):
        preprocess.load_frames(read_clip(path, num_frames=1), min_frames=8)  # I3D needs 9 frames at least
    with pytest.raises(ValueError):
        preprocess.load_frames(read_clip(path, num_frames=1), min_frames=64, max_frames=32)


def test_real_kinetics_clip(shared_dir):
    frames, indices = preprocess.load_frames(read_clip(shared_dir / "data" / "samples" / "cricket_shot.gif", num_frames=1))
    # 79 frames of 40 ms (3.16 s) at 25 fps -> 79 instants, one per GIF frame; each instant falls on
    # a frame change, where float rounding may pick the frame before.
    assert frames.shape == (79, 224, 224, 3)
    assert all(index in ok for index, ok in zip(indices, expected_indices(79, 79, 40)))
    assert frames.std() > 20  # real picture content, not a blank crop
