"""Saving and loading the expression CNN: an ensemble of members, each stored as float16 to stay small.

File layout: {"members": [{"config", "state_dict", "info"}], "metrics"}; a member's `info` holds the
seed and options it was trained with and its own validation figures, `metrics` those of the ensemble.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

from .. import models
from .expression import ExpressionConfig, ExpressionEnsemble, ExpressionNet

EXPRESSION_WEIGHTS = "face_expression.pt"


@dataclass
class Member:
    model: ExpressionNet
    info: dict = field(default_factory=dict)  # "seed", "options", "history", validation figures

    @property
    def seed(self) -> Optional[int]:
        return self.info.get("seed")


def save_members(members: list[Member], path: str | Path, metrics: Optional[dict] = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = [{"config": m.model.config.to_dict(),
               "state_dict": {k: (v.half() if v.is_floating_point() else v) for k, v in m.model.state_dict().items()},
               "info": m.info} for m in members]
    torch.save({"members": stored, "metrics": metrics or {}}, path)
    return path


def _weights_path(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise models.MissingModelError(
            f"face expression weights not found at {path}; train them with "
            "`gifemo train face --data ../shared/data/fer2013`")
    return path


def load_members(path: str | Path) -> list[Member]:
    """The members stored at `path` (the shipped ones: models.resolve("face-expression", runtime)), float32, in eval mode."""
    path = _weights_path(path)
    checkpoint = models.load_torch_checkpoint(path)
    if not isinstance(checkpoint, dict) or not checkpoint.get("members"):
        raise ValueError(f"{path}: not a gifemo expression-model file (no members)")
    members = []
    for stored in checkpoint["members"]:
        model = ExpressionNet(ExpressionConfig.from_dict(stored["config"]))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in stored["state_dict"].items()})
        members.append(Member(model.eval(), stored.get("info", {})))
    return members


def load_expression(path: str | Path) -> ExpressionEnsemble:
    """The trained ensemble stored at `path`, in eval mode (float32)."""
    return ExpressionEnsemble([m.model for m in load_members(path)]).eval()
