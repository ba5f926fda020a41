"""The facial-expression CNN: a compact VGG-style network for 48x48 grey face crops (FER2013 framing).

The architecture and how it is applied to FER-framed crops (ten-crop test-time views) live here;
loading and saving weights is in `weights.py`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 48  # FER2013 crops are 48x48; training uses random CROP_SIZE crops of them
CROP_SIZE = 44


@dataclass(frozen=True)
class ExpressionConfig:
    widths: tuple[int, ...] = (32, 64, 128, 256)  # channels of each stage; each stage halves the resolution
    convs_per_stage: int = 2
    dropout: float = 0.3
    num_classes: int = 7

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ExpressionConfig":
        return cls(**{**d, "widths": tuple(d["widths"])})


def _conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ExpressionNet(nn.Module):
    """Stages of 3x3 conv+BN+ReLU, max-pooled between stages, then global average pool and a linear head.

    Input: (N, 1, H, W) float in [0, 1] (any H, W >= 16: the pooling is global). Output: logits over EMOTIONS.
    """

    def __init__(self, config: ExpressionConfig = ExpressionConfig()):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        cin = 1
        for i, width in enumerate(config.widths):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            for _ in range(config.convs_per_stage):
                layers.append(_conv_bn(cin, width))
                cin = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(config.dropout),
                                  nn.Linear(cin, config.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Per-image standardisation makes the net indifferent to the brightness/contrast of GIF frames.
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-3)
        return self.head(self.features((x - mean) / std))


def ten_crops(images: torch.Tensor, size: int = CROP_SIZE) -> list[torch.Tensor]:
    """Centre + 4 corner crops and their mirrors: the test-time views matching the training crops."""
    full = images.shape[-1]
    c = (full - size) // 2
    offsets = [(c, c), (0, 0), (0, full - size), (full - size, 0), (full - size, full - size)]
    crops = [images[..., y:y + size, x:x + size] for y, x in offsets]
    return crops + [crop.flip(-1) for crop in crops]


@torch.no_grad()
def predict_proba(model: ExpressionNet, images: torch.Tensor, batch_size: int = 512, tta: bool = True,
                  bf16: bool = False) -> torch.Tensor:
    """Softmax over EMOTIONS for (N, 1, 48, 48) float images in [0, 1], averaged over the ten crops."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        views = ten_crops(batch) if tta else ten_crops(batch)[:1]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            probs = sum(F.softmax(model(v.contiguous()).float(), dim=1) for v in views) / len(views)
        out.append(probs)
    return torch.cat(out)
