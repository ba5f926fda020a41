"""The drawn-face expression CNN: 64x64 colour crops -> 7 emotions. Colour is kept (a red face is angry, a
green one disgusted); stored as float16 (about 0.3 MB).

File layout: {"widths": [...], "state_dict": {...}, "metrics": {...}}.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from .. import models
from ..emotions import EMOTIONS
from ..paths import WEIGHTS_DIR

INPUT_SIZE = 64
DRAWN_WEIGHTS = "drawn_expression.pt"
DEFAULT_WIDTHS = (24, 48, 96, 128)


class DrawnNet(nn.Module):
    def __init__(self, widths: Sequence[int] = DEFAULT_WIDTHS):
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        # a strided first layer (64 -> 32) then conv + pool stages (32 -> 4): drawn cues are large, and the
        # CPU budget of training is small
        layers, channels = _conv(3, self.widths[0], stride=2), self.widths[0]
        for width in self.widths[1:]:
            layers += _conv(channels, width) + [nn.MaxPool2d(2)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(channels, len(EMOTIONS)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def _conv(channels: int, width: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(width),
            nn.ReLU(inplace=True)]


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, 64, 64, 3) uint8 RGB -> (N, 3, 64, 64) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


@torch.no_grad()
def predict_proba(model: DrawnNet, images: np.ndarray) -> np.ndarray:
    """(N, 7) probabilities, averaged with the mirror image (drawn expressions are left-right symmetric)."""
    if len(images) == 0:
        return np.zeros((0, len(EMOTIONS)), dtype=np.float32)
    x = to_tensor(images)
    probs = model(x).softmax(1) + model(x.flip(3)).softmax(1)
    return (probs / 2).numpy()


def save_drawn(model: DrawnNet, path: str | Path, metrics: Optional[dict] = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save({"widths": list(model.widths), "state_dict": state, "metrics": metrics or {}}, path)
    return path


def load_drawn(path: str | Path | None = None) -> DrawnNet:
    """The trained network in eval mode (float32). Default: data/weights/drawn_expression.pt."""
    path = Path(path) if path else WEIGHTS_DIR / DRAWN_WEIGHTS
    if not path.exists():
        raise models.MissingModelError(f"drawn-face expression weights not found at {path}; train them with "
                                       "`gifemo train drawn` (needs fonts-noto-color-emoji and fonts-symbola)")
    checkpoint = models.load_torch_checkpoint(path)
    if not isinstance(checkpoint, dict) or "widths" not in checkpoint:
        raise ValueError(f"{path}: not a gifemo drawn-expression file")
    model = DrawnNet(checkpoint["widths"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in checkpoint["state_dict"].items()})
    return model.eval()


def average_drawn(paths: Sequence[str | Path]) -> DrawnNet:
    """One network whose weights are the mean of these runs' (a "model soup"): runs fine-tuned from the same
    weights on different draws of the data stay in one basin, and their mean reads better than each run."""
    networks = [load_drawn(path) for path in paths]
    if not networks:
        raise ValueError("no weights to average")
    if len({n.widths for n in networks}) > 1:
        raise ValueError(f"these weights have different widths and cannot be averaged: {[str(p) for p in paths]}")
    states = [n.state_dict() for n in networks]
    # floating tensors (weights, BatchNorm statistics) are averaged; counters are the first run's
    mean = {k: sum(s[k] for s in states) / len(states) if v.is_floating_point() else v for k, v in states[0].items()}
    model = DrawnNet(networks[0].widths)
    model.load_state_dict(mean)
    return model.eval()
