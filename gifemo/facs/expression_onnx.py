"""The expression ensemble run by ONNX Runtime: the same probabilities as torch (within 1e-5), for about 40 %
less CPU per face on these small convolutions (bench/bench_tag.py).

The graph is built from the loaded weights on first use and cached per weights file (gifemo.onnx_build), so
new weights get a new graph and every later process only loads it.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from ..config import Runtime
from ..onnx_build import built_model, session
from .expression import CROP_SIZE, ExpressionEnsemble

RECIPE = "ensemble-log-mean-probs/opset17"


def export(model: ExpressionEnsemble, dest: Path) -> None:
    """Write the ensemble's graph (input: (N, 1, CROP_SIZE, CROP_SIZE) views; output: log mean probabilities)."""
    torch.onnx.export(model.eval(), (torch.zeros(2, 1, CROP_SIZE, CROP_SIZE),), str(dest), input_names=["views"],
                      output_names=["log_probs"], opset_version=17, dynamo=False,
                      dynamic_axes={"views": {0: "n"}, "log_probs": {0: "n"}})


class OnnxEnsemble(nn.Module):
    """A drop-in for the loaded ExpressionEnsemble (`forward(views) -> log mean probabilities`) that runs its
    graph on ONNX Runtime."""

    def __init__(self, model: ExpressionEnsemble, weights: Path, runtime: Runtime, threads: int):
        super().__init__()
        self.members = model.members  # what callers count; the graph holds their weights
        digest = hashlib.sha256(Path(weights).read_bytes()).hexdigest()
        graph = built_model("face-expression", digest, RECIPE, runtime, lambda dest: export(model, dest))
        self.session = session(graph, threads)

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {"views": views.float().contiguous().numpy()})[0])
