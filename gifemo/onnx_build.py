"""ONNX copies of the project's networks (text models, the expression CNN), built once per machine from verified
weights and cached.

A message is scored one at a time in the service, where PyTorch's per-layer dispatch costs more than the
arithmetic: the same networks run by ONNX Runtime on one thread take a fraction of the CPU
(bench/bench_message_encoder.py, data/weights/README.md). The copies are derived on the user's machine, never
shipped: each is named by the sha256 of what it was built from and by the recipe, so new weights or a new
recipe build a new copy, and it is written under a temporary name and renamed, so a reader never sees half a file.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable

from .config import Runtime
from .native_stderr import native_stderr_silenced


def built_model(label: str, source_digest: str, recipe: str, runtime: Runtime,
                build: Callable[[Path], None]) -> Path:
    """The cached ONNX file for `source_digest` (sha256 of the weights) and `recipe`; `build(path)` writes
    it when it is not there yet."""
    key = hashlib.sha256(f"{source_digest}:{recipe}".encode()).hexdigest()[:16]
    path = runtime.models_cache() / "built" / f"{label}-{key}.onnx"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        # The exporters' notes on tracing say nothing to a user: Python's as warnings, torch's C++ ones on fd 2.
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".build-") as tmp, warnings.catch_warnings(), \
                native_stderr_silenced(runtime.verbose == 0):
            warnings.simplefilter("ignore")
            partial = Path(tmp) / path.name
            build(partial)
            os.replace(partial, path)
    return path


def session(path: Path, threads: int = 1):
    """An ONNX Runtime session on the CPU. One thread per call by default: requests run side by side, each on
    its own core, rather than every call fanning out over cores the other requests are using."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
