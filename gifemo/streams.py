"""The streams a decoded clip goes through, in one table: adding a stream is one entry here plus its package.

Each stream is a class built as `Stream(options, runtime)` (options: the field of `TagOptions` named after the
stream) with `analyze(clip) -> Evidence` and `close()`. Classes are imported only when used, so a run without
a stream never imports its heavy dependencies (torch, OCR runtimes).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from .evidence import Evidence


class Stream(Protocol):
    def analyze(self, clip) -> Evidence: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class StreamEntry:
    name: str
    target: str                 # "module:Class"
    # "always", or "fallback": a costly stream run only when the streams before it left the GIF undecided.
    run: str = "always"

    def load(self, options, runtime) -> Stream:
        module, cls = self.target.split(":")
        return getattr(importlib.import_module(module), cls)(options, runtime)


STREAMS: tuple[StreamEntry, ...] = (
    StreamEntry("face", "gifemo.facs.stream:FaceStream"),
    StreamEntry("drawn", "gifemo.drawn.stream:DrawnStream"),
    StreamEntry("action", "gifemo.action.stream:ActionStream", run="fallback"),
)

STREAM_NAMES: tuple[str, ...] = tuple(entry.name for entry in STREAMS)
