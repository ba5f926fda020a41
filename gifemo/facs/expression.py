"""The facial-expression CNN: a compact VGG-style network for 48x48 grey face crops (FER2013 framing).

The architecture, the ensemble of independently trained members, and how they are applied to
FER-framed crops (test-time views) live here; loading and saving weights is in `weights.py`.
"""
from __future__ import annotations

import math
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


class ExpressionEnsemble(nn.Module):
    """Members trained from different seeds; their probabilities are averaged.

    `forward` returns log mean probability, so a softmax of it (as `predict_proba` takes) is the mean of
    the members' softmaxes. A single network is an ensemble of one.
    """

    def __init__(self, members: list[ExpressionNet]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack([F.log_softmax(member(x).float(), dim=1) for member in self.members])
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))


TEST_VIEWS = (1, 2, 10)  # centre crop; + its mirror; centre and 4 corner crops, each also mirrored
# The face stream's default: on FER2013 val, 2 views come within 0.1 point of 10 (data/weights/README.md)
# at a fifth of the cost; `gifemo face --aligned` uses 10.
DEFAULT_VIEWS = 2


def crop_views(images: torch.Tensor, count: int = 10, size: int = CROP_SIZE) -> torch.Tensor:
    """The `count` test-time views of (N, 1, 48, 48) images, stacked view-major: (count * N, 1, size, size).

    They match the training crops (random CROP_SIZE crops, horizontal flips)."""
    if count not in TEST_VIEWS:
        raise ValueError(f"test-time views must be one of {TEST_VIEWS}, not {count}")
    full = images.shape[-1]
    c = (full - size) // 2
    offsets = [(c, c), (0, 0), (0, full - size), (full - size, 0), (full - size, full - size)]
    crops = [images[..., y:y + size, x:x + size] for y, x in offsets[:1 if count < 10 else 5]]
    if count > 1:
        crops += [crop.flip(-1) for crop in crops]
    return torch.cat(crops)


@torch.no_grad()
def predict_proba(model: nn.Module, images: torch.Tensor, batch_size: int = 256, views: int = DEFAULT_VIEWS,
                  bf16: bool = False) -> torch.Tensor:
    """Softmax over EMOTIONS for (N, 1, 48, 48) float images in [0, 1], averaged over the test-time views.

    All views of a batch go through the network together: one call per batch, not per view."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(crop_views(batch, views).contiguous()).float()
        out.append(F.softmax(logits, dim=1).view(views, len(batch), -1).mean(0))
    return torch.cat(out)
