"""Cropping a face out of a frame in FER2013 framing: eyes level, same size and place as in FER2013.

The targets were measured with the landmarker on 600 FER2013 val images (519 detected): median eye
centres (15.4, 19.0) and (32.9, 18.9), median eye-to-mouth distance 18.1 px, in the 48x48 crop.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from .landmarks import MOUTH, DetectedFace

FER_SIZE = 48
FER_EYE_MID = np.array([24.1, 19.0])
FER_EYE_DISTANCE = 17.4
FER_EYE_MOUTH = 18.1
OVERSAMPLE = 4  # warp at 4x then box-filter down, so large faces do not alias


def to_grey(image: np.ndarray | Image.Image, size: int = FER_SIZE) -> np.ndarray:
    """Any image (grey, RGB, RGBA, any size) as size x size uint8 grey: the `--aligned` input path."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    return np.asarray(pil.convert("L").resize((size, size), Image.BOX if min(pil.size) > size else Image.BILINEAR))


def face_transform(eye_a: np.ndarray, eye_b: np.ndarray, mouth: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(angle in radians, scale frame px -> FER px, eye midpoint in the frame) for one face.

    The scale averages the eye distance and the eye-to-mouth distance: a turned head shortens the
    first but not the second.
    """
    delta = eye_b - eye_a
    angle = float(np.arctan2(delta[1], delta[0]))
    mid = (eye_a + eye_b) / 2
    eye_distance = float(np.hypot(*delta))
    eye_mouth = float(np.hypot(*(mouth - mid)))
    scale = 2.0 / (max(eye_distance, 1e-3) / FER_EYE_DISTANCE + max(eye_mouth, 1e-3) / FER_EYE_MOUTH)
    return angle, scale, mid


def align_points(frame: np.ndarray, eye_a, eye_b, mouth, size: int = FER_SIZE) -> np.ndarray:
    """Warp `frame` (HxW grey or HxWx3 RGB) so the eyes land on their FER2013 places; size x size uint8 grey."""
    angle, scale, mid = face_transform(np.asarray(eye_a, float), np.asarray(eye_b, float), np.asarray(mouth, float))
    big = size * OVERSAMPLE
    s = scale * OVERSAMPLE * size / FER_SIZE
    cos, sin = np.cos(angle), np.sin(angle)
    # Output pixel (u, v) comes from frame point mid + R(angle) @ ((u, v) - target) / s.
    target = FER_EYE_MID * OVERSAMPLE * size / FER_SIZE
    a, b = cos / s, -sin / s
    d, e = sin / s, cos / s
    c = mid[0] - a * target[0] - b * target[1]
    f = mid[1] - d * target[0] - e * target[1]
    grey = Image.fromarray(np.asarray(frame)).convert("L")
    warped = grey.transform((big, big), Image.AFFINE, (a, b, c, d, e, f), resample=Image.BILINEAR)
    return np.asarray(warped.resize((size, size), Image.BOX))


def align_face(frame: np.ndarray, face: DetectedFace, size: int = FER_SIZE) -> np.ndarray:
    """The FER-framed grey crop of one detected face."""
    eye_a, eye_b = face.eye_centres
    mouth = face.landmarks[list(MOUTH), :2].mean(0)
    return align_points(frame, eye_a, eye_b, mouth, size)
