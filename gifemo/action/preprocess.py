"""Clips for I3D, as in its training: 25 fps of real time, shorter side 256, centre crop 224, RGB in [-1, 1]."""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from ..media import Clip

SHORT_SIDE = 256
CROP_SIZE = 224
MIN_MODEL_FRAMES = 9  # I3D's temporal strides and final 2-step pooling need at least 9 frames


def resize_short_side(frame: np.ndarray, size: int = SHORT_SIDE) -> np.ndarray:
    h, w = frame.shape[:2]
    if min(h, w) == size:
        return frame
    scale = size / min(h, w)
    new_size = (max(size, round(w * scale)), max(size, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR  # AREA averages instead of aliasing
    return cv2.resize(frame, new_size, interpolation=interpolation)


def centre_crop(frame: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    h, w = frame.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return frame[top:top + size, left:left + size]


def centre_window(count: int, max_frames: int) -> slice:
    """The middle `max_frames` of `count` frames (all of them when there are fewer)."""
    start = max(count - max_frames, 0) // 2
    return slice(start, start + min(count, max_frames))


def load_frames(clip: Clip, fps: float = 25.0, min_frames: int = 64,
                max_frames: int = 250) -> tuple[np.ndarray, list[int]]:
    """(T, 224, 224, 3) uint8 RGB frames sampled at `fps` of GIF time from the file `clip` was read from,
    and the file frame index of each.

    Short GIFs loop until `min_frames`; long ones keep their middle `max_frames`.
    """
    if not MIN_MODEL_FRAMES <= min_frames <= max_frames:
        raise ValueError(f"need {MIN_MODEL_FRAMES} <= min_frames <= max_frames, got {min_frames} and {max_frames}")
    info = clip.info
    # Let the decoder shrink big frames to about the final size, so long GIFs stay small in memory.
    max_side = math.ceil(SHORT_SIDE * max(info.width, info.height) / min(info.width, info.height))
    clip = clip.resample(fps=fps, min_frames=min_frames, max_side=max_side)
    frames, indices = clip.frames, clip.indices
    if len(frames) < min_frames:  # frames past damage in a truncated file were dropped: loop what is left
        repeat = [k % len(frames) for k in range(min_frames)]
        frames, indices = [frames[k] for k in repeat], [indices[k] for k in repeat]
    window = centre_window(len(frames), max_frames)
    frames, indices = frames[window], indices[window]
    # Several instants often show the same GIF frame: resize and crop each distinct frame once.
    cropped: dict[int, np.ndarray] = {}
    for index, frame in zip(indices, frames):
        if index not in cropped:
            cropped[index] = centre_crop(resize_short_side(frame))
    return np.stack([cropped[index] for index in indices]), list(indices)


def rgb_input(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (1, 3, T, H, W) float32 in [-1, 1]."""
    return model_input(frames.astype(np.float32) / 127.5 - 1.0)


def model_input(clip: np.ndarray) -> torch.Tensor:
    """(T, H, W, C) float32 -> (1, C, T, H, W), the layout I3D takes."""
    return torch.from_numpy(np.ascontiguousarray(clip.transpose(3, 0, 1, 2)))[None]
