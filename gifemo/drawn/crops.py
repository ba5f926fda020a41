"""Where to read a drawn face in a frame: the main object on a flat background (an emoji or a sticker), the
face MediaPipe found inside it (a character drawn with a body), or the whole frame (a cartoon scene).

A frame that is one flat colour has nothing to read.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from PIL import Image

from .model import INPUT_SIZE

BACKGROUND_DISTANCE = 40     # max channel difference from the background colour that still counts as background
FLAT_BORDER_SHARE = 0.6      # share of border pixels of the background colour for the frame to have a flat background
MIN_OBJECT_SHARE = 0.01      # an object smaller than this share of the frame is noise (or nothing)
FACE_IN_OBJECT_SHARE = 0.5   # a landmarker face smaller than this share of the object is read instead of it
FACE_MARGIN = 1.3            # landmark boxes are tight around the mesh; drawn faces need their outline too
OBJECT_MARGIN = 1.08


@dataclass(frozen=True)
class Crop:
    box: tuple[int, int, int, int]   # x, y, w, h in frame pixels
    source: str                      # "object", "landmarks" or "frame"


def object_box(frame: np.ndarray) -> Optional[tuple[int, int, int, int]] | str:
    """The box around what differs from a flat background, "frame" when the background is not flat, or None
    when the frame is (almost) all background."""
    rgb = frame.astype(np.int16)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    background = np.median(border, axis=0)
    if (np.abs(border - background).max(axis=1) <= BACKGROUND_DISTANCE).mean() < FLAT_BORDER_SHARE:
        return "frame"
    mask = np.abs(rgb - background).max(axis=2) > BACKGROUND_DISTANCE
    if mask.mean() < MIN_OBJECT_SHARE:
        return None
    ys, xs = np.nonzero(mask)
    # percentiles: a stray sparkle or caption letter does not stretch the box
    x0, x1 = np.percentile(xs, [1, 99])
    y0, y1 = np.percentile(ys, [1, 99])
    return int(x0), int(y0), int(x1 - x0) + 1, int(y1 - y0) + 1


def square(box: Sequence[int], margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """A square box around `box` grown by `margin`, kept inside the frame where it fits."""
    x, y, w, h = box
    side = int(round(max(w, h) * margin))
    side = max(1, min(side, max(width, height)))
    cx, cy = x + w / 2, y + h / 2
    x0 = int(round(min(max(cx - side / 2, 0), max(width - side, 0))))
    y0 = int(round(min(max(cy - side / 2, 0), max(height - side, 0))))
    return x0, y0, side, side


def choose_crop(frame: np.ndarray, face_boxes: Sequence[tuple[int, int, int, int]]) -> Optional[Crop]:
    """The one place to read the face of this frame (the largest landmarker face when there are several)."""
    height, width = frame.shape[:2]
    found = object_box(frame)
    if found is None:
        return None
    face = max(face_boxes, key=lambda b: b[2] * b[3]) if face_boxes else None
    if found == "frame":
        if face is not None:
            return Crop(square(face, FACE_MARGIN, width, height), "landmarks")
        return Crop(square((0, 0, width, height), 1.0, width, height), "frame")
    if face is not None and face[2] * face[3] < FACE_IN_OBJECT_SHARE * found[2] * found[3] and _inside(face, found):
        return Crop(square(face, FACE_MARGIN, width, height), "landmarks")
    return Crop(square(found, OBJECT_MARGIN, width, height), "object")


def _inside(inner, outer) -> bool:
    cx, cy = inner[0] + inner[2] / 2, inner[1] + inner[3] / 2
    return outer[0] <= cx <= outer[0] + outer[2] and outer[1] <= cy <= outer[1] + outer[3]


def cut(frame: np.ndarray, crop: Crop) -> np.ndarray:
    """The crop as the network's INPUT_SIZE x INPUT_SIZE x 3 input; parts outside the frame are white."""
    x, y, w, h = crop.box
    canvas = Image.new("RGB", (w, h), "white")
    canvas.paste(Image.fromarray(frame).crop((x, y, min(x + w, frame.shape[1]), min(y + h, frame.shape[0]))), (0, 0))
    return np.asarray(canvas.resize((INPUT_SIZE, INPUT_SIZE), Image.BICUBIC))
