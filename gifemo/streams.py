"""The streams a decoded clip goes through, in one table: adding a stream is one entry here plus its package.

Each stream is a class built as `Stream(options, runtime)`, with `analyze(clip) -> Evidence` and `close()`;
its options are a dataclass with defaults. Both are named as "module:attribute" and imported only when used,
so a run without a stream never imports its heavy dependencies (torch, OCR runtimes).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from .evidence import Evidence


class Stream(Protocol):
    def analyze(self, clip) -> Evidence: ...

    def close(self) -> None: ...


RUN_MODES = ("always", "fallback", "off")


@dataclass(frozen=True)
class StreamEntry:
    name: str
    target: str                 # "module:Class" of the stream
    options: str                # "module:Class" of its options dataclass
    # "always"; "fallback": a costly stream, run only when the streams before it left the GIF undecided;
    # "off": available but not run unless asked for.
    run: str = "always"
    help: str = ""
    models: tuple[str, ...] = ()  # registry names of the weights it loads: their digests are in the tag's key

    def load(self, options, runtime) -> Stream:
        return _attribute(self.target)(options, runtime)

    def default_options(self):
        return _attribute(self.options)()


def _attribute(spec: str):
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


STREAMS: tuple[StreamEntry, ...] = (
    StreamEntry("face", "gifemo.facs.stream:FaceStream", "gifemo.config:FaceOptions",
                help="photographed faces: MediaPipe landmarks, expression CNN, EMFACS rules",
                models=("face-landmarker", "face-expression", "face-combine")),
    StreamEntry("drawn", "gifemo.drawn.stream:DrawnStream", "gifemo.config:DrawnOptions",
                help="drawn faces (emoji, stickers, cartoons): photo-or-drawing check, drawn-face CNN",
                models=("face-landmarker", "drawn-expression", "drawn-style")),
    StreamEntry("caption", "gifemo.caption.stream:CaptionStream", "gifemo.config:CaptionOptions",
                help="words written in the GIF: OCR (PP-OCR on ONNX Runtime), text-emotion model",
                models=("text-bilstm",)),
    StreamEntry("action", "gifemo.action.stream:ActionStream", "gifemo.config:ActionOptions", run="fallback",
                help="two-stream I3D Kinetics actions mapped to emotions",
                models=("i3d-rgb", "i3d-flow", "kinetics-labels")),
)

STREAM_NAMES: tuple[str, ...] = tuple(entry.name for entry in STREAMS)
SOURCES: tuple[str, ...] = STREAM_NAMES + ("none",)   # what can decide a GIF's emotion (a record's `source`)


def stream_rank(name: str) -> int:
    """A stream's place in STREAMS (faces first), for ordering evidence; an unknown stream comes last."""
    return STREAM_NAMES.index(name) if name in STREAM_NAMES else len(STREAM_NAMES)


def stream_entry(name: str) -> StreamEntry:
    for entry in STREAMS:
        if entry.name == name:
            return entry
    raise KeyError(f"unknown stream {name!r}; known: {', '.join(STREAM_NAMES)}")
