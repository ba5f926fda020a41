"""Saving and loading the expression CNN's weights (stored as float16 to stay small)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from .. import models
from ..paths import WEIGHTS_DIR
from .expression import ExpressionConfig, ExpressionNet

EXPRESSION_WEIGHTS = "face_expression.pt"


def save_expression(model: ExpressionNet, path: str | Path, metrics: Optional[dict] = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save({"config": model.config.to_dict(), "state_dict": state, "metrics": metrics or {}}, path)
    return path


def load_expression(path: str | Path | None = None) -> ExpressionNet:
    """The trained CNN in eval mode (float32). Default path: data/weights/face_expression.pt."""
    path = Path(path) if path else WEIGHTS_DIR / EXPRESSION_WEIGHTS
    if not path.exists():
        raise models.MissingModelError(
            f"face expression weights not found at {path}; train them with "
            "`gifemo train face --data ../shared/data/fer2013`")
    checkpoint = models.load_torch_checkpoint(path)
    model = ExpressionNet(ExpressionConfig.from_dict(checkpoint["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in checkpoint["state_dict"].items()})
    return model.eval()
