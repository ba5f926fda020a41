"""Photo or drawing? A logistic regression on six edge and colour statistics of a few frames (or of a crop).

Drawings have large flat regions, saturated palettes and sharp edges between flat areas; photos have soft
gradients everywhere. Statistics that depend on how a file was encoded rather than on what it shows (the
number of distinct colours, the share of pixels unchanged between frames) are left out: GIF palettes and
optimisers differ between collections, and on gifs_dev's original files the colour count called 13 of 28
filmed GIFs drawn. The coefficients are fitted on gifs_train's `content` column
(`gifemo train drawn-style`) and stored in data/weights/drawn_style.json (figures in its "metrics").
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..paths import WEIGHTS_DIR

STYLE_WEIGHTS = "drawn_style.json"
FEATURES = ("flat_share", "strong_edge_share", "edge_sharpness", "mean_saturation", "vivid_share", "white_share")
ANALYSIS_SIDE = 128   # frames are shrunk to this longest side first: the statistics are about structure, not size
DRAWN_CONTENT = {"cartoon", "emoji-sticker"}
PHOTO_CONTENT = {"live-action-face", "live-action-noface", "animal"}


def _shrink(frame: np.ndarray) -> np.ndarray:
    from PIL import Image

    height, width = frame.shape[:2]
    scale = ANALYSIS_SIDE / max(height, width)
    if scale >= 1:
        return frame
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # NEAREST keeps a drawing's flat colours flat (no blended edge colours)
    return np.asarray(Image.fromarray(frame).resize(size, Image.NEAREST))


def frame_features(frame: np.ndarray) -> np.ndarray:
    """FEATURES of one HxWx3 uint8 RGB image."""
    rgb = _shrink(frame).astype(np.int32)
    grey = rgb.mean(axis=2)
    gx = np.abs(np.diff(grey, axis=1))[:-1, :]
    gy = np.abs(np.diff(grey, axis=0))[:, :-1]
    gradient = np.maximum(gx, gy)
    strong = (gradient > 40).mean()
    medium = ((gradient > 6) & (gradient <= 40)).mean()
    top, bottom = rgb.max(axis=2), rgb.min(axis=2)
    saturation = (top - bottom) / np.maximum(top, 1)
    return np.array([
        (gradient <= 2).mean(),
        strong,
        strong / (strong + medium + 1e-6),   # drawings: edges are sharp steps, rarely ramps
        saturation.mean(),
        ((saturation > 0.6) & (top > 100)).mean(),
        (bottom > 235).mean(),
    ], dtype=np.float64)


def clip_features(frames: Sequence[np.ndarray]) -> np.ndarray:
    """FEATURES of a sequence of frames: the per-frame statistics averaged."""
    return np.mean([frame_features(f) for f in frames], axis=0)


class StyleModel:
    """P(drawn) from FEATURES: standardise, then logistic regression."""

    def __init__(self, mean: Sequence[float], scale: Sequence[float], coef: Sequence[float], intercept: float,
                 metrics: Optional[dict] = None):
        self.mean, self.scale = np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)
        self.coef, self.intercept = np.asarray(coef, dtype=np.float64), float(intercept)
        self.metrics = metrics or {}

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(drawn) per row of (N, 6) features (or for one (6,) row, as a 0-d array)."""
        z = ((np.asarray(features) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict:
        return {"features": list(FEATURES), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept, "metrics": self.metrics}

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path: Optional[Path] = None) -> "StyleModel":
        path = Path(path) if path else WEIGHTS_DIR / STYLE_WEIGHTS
        data = json.loads(path.read_text())
        if data.get("features") != list(FEATURES):
            raise ValueError(f"{path}: fitted on other features than {FEATURES}; refit with `gifemo train drawn-style`")
        return cls(data["mean"], data["scale"], data["coef"], data["intercept"], data.get("metrics"))

    @classmethod
    def fit(cls, features: np.ndarray, drawn: np.ndarray, C: float = 1.0) -> "StyleModel":
        from sklearn.linear_model import LogisticRegression

        mean, scale = features.mean(0), features.std(0) + 1e-9
        model = LogisticRegression(C=C, max_iter=1000).fit((features - mean) / scale, drawn)
        return cls(mean, scale, model.coef_[0], model.intercept_[0])
