"""Optical flow for the I3D flow stream: TV-L1 on greyscale as in the paper, or a faster estimator.

Flow is clipped to +-20 pixels and scaled to [-1, 1] (Carreira & Zisserman 2017, section 3.5).
Channel 0 is horizontal motion, channel 1 vertical, in pixels of the 224x224 crop per frame step.
"""
from __future__ import annotations

from typing import Callable, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from ..config import FLOW_METHODS

FLOW_BOUND = 20.0

FlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def flow_estimator(method: str) -> FlowFn:
    """(grey_a, grey_b) uint8 -> (H, W, 2) float32 flow in pixels, for one of FLOW_METHODS."""
    if method == "tvl1":  # OpenCV's defaults, which follow the TV-L1 paper (about 1-2 s a pair at 224x224)
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
        return lambda a, b: tvl1.calc(a, b, None)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return lambda a, b: dis.calc(a, b, None)
    if method == "farneback":
        return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, pyr_scale=0.5, levels=3, winsize=15,
                                                         iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
    raise ValueError(f"unknown flow method {method!r}; expected one of {', '.join(FLOW_METHODS)}")


def scale_flow(flow: np.ndarray) -> np.ndarray:
    """Pixels -> [-1, 1]: clip to +-FLOW_BOUND, divide by it."""
    return (np.clip(flow, -FLOW_BOUND, FLOW_BOUND) / FLOW_BOUND).astype(np.float32)


def clip_flow(frames: np.ndarray, indices: Sequence[int], method: str = "tvl1",
              progress: bool = False) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB -> (T - 1, H, W, 2) scaled flow between consecutive frames.

    `indices` are the file frame shown at each instant. Sampling a GIF at 25 fps repeats frames
    (a 10 fps GIF shows each for 2-3 instants) and looping repeats frame pairs, so flow is computed
    once per distinct pair, and is zero where the same frame is shown twice.
    """
    if len(frames) != len(indices) or len(frames) < 2:
        raise ValueError(f"need >= 2 frames with one index each, got {len(frames)} frames, {len(indices)} indices")
    estimate = flow_estimator(method)
    grey = {index: cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for index, frame in zip(indices, frames)}
    still = np.zeros(frames.shape[1:3] + (2,), dtype=np.float32)
    pairs = list(zip(indices[:-1], indices[1:]))
    computed: dict[tuple[int, int], np.ndarray] = {}
    moving = sorted({(a, b) for a, b in pairs if a != b})
    for a, b in tqdm(moving, desc=f"flow ({method})", unit="pair", disable=not progress):
        computed[a, b] = scale_flow(estimate(grey[a], grey[b]))
    return np.stack([computed.get(pair, still) for pair in pairs])
