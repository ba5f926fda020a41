"""The tag's cache key: a rerun reuses a stored tag only when nothing that could change it has changed.

The key is a digest of every options field (dataclasses, recursively, as canonical JSON) and of the
registry's sha256 of each model used. Fields that cannot change a tag are left out, by name, here.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Mapping

from . import __version__

# "Class.field" of every options field that cannot change a tag: how fast or how visibly it is computed.
NOT_IN_KEY = frozenset({"ActionOptions.progress", "FaceOptions.onnx_runtime"})


def settings(options) -> object:
    """The options as plain JSON-able data, without the fields in NOT_IN_KEY."""
    if dataclasses.is_dataclass(options):
        cls = type(options).__name__
        return {f.name: settings(getattr(options, f.name)) for f in dataclasses.fields(options)
                if f"{cls}.{f.name}" not in NOT_IN_KEY}
    if isinstance(options, Mapping):
        return {str(k): settings(v) for k, v in options.items()}
    if isinstance(options, (list, tuple)):
        return [settings(v) for v in options]
    return options


def tag_version(options, model_digests: Mapping[str, str]) -> str:
    """`gifemo-<version>/<digest>`: the digest covers every tag-changing option and each model's sha256."""
    payload = json.dumps({"options": settings(options), "models": dict(model_digests)}, sort_keys=True,
                         separators=(",", ":"), allow_nan=False)
    return f"gifemo-{__version__}/{hashlib.sha256(payload.encode()).hexdigest()[:16]}"
