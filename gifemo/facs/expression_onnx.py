"""The expression ensemble run by ONNX Runtime: the same probabilities as torch (within 1e-6), for about 40 %
less CPU per face on these small convolutions (bench/bench_tag.py).

The graph is exported from the loaded weights on first use and kept in the model cache under the weights
file's sha256, so new weights get a new graph and every later process only loads it.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from .expression import CROP_SIZE, ExpressionEnsemble

ONNX_OPSET = 17


def available() -> bool:
    """The onnx package exports the graph and ONNX Runtime runs it; without either, torch runs the CNN (same scores)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))


def graph_path(weights: Path, cache: Path) -> Path:
    digest = hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:16]
    return cache / "derived" / f"face-expression-{digest}.onnx"


def export(model: ExpressionEnsemble, path: Path) -> Path:
    """Write the ensemble's graph (input: (N, 1, CROP_SIZE, CROP_SIZE) views; output: log mean probabilities)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation notes are not the user's business
            torch.onnx.export(model.eval(), (torch.zeros(2, 1, CROP_SIZE, CROP_SIZE),), tmp, input_names=["views"],
                              output_names=["log_probs"], opset_version=ONNX_OPSET, dynamo=False,
                              dynamic_axes={"views": {0: "n"}, "log_probs": {0: "n"}})
        os.replace(tmp, path)  # atomic: parallel workers exporting at once each write a whole file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


class OnnxEnsemble(nn.Module):
    """A drop-in for the loaded ExpressionEnsemble (`forward(views) -> log mean probabilities`) that runs its
    exported graph on ONNX Runtime."""

    def __init__(self, model: ExpressionEnsemble, weights: Path, cache: Path, threads: int):
        import onnxruntime

        super().__init__()
        self.members = model.members  # what callers count; the graph holds their weights
        path = graph_path(weights, cache)
        if not path.exists():
            export(model, path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(None, {"views": views.float().contiguous().numpy()})[0])
