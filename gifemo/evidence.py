"""Evidence: the one form in which every stream reports what it saw in a clip.

Streams (face, drawn faces, captions, actions) each turn a decoded clip into one Evidence; the GIF-level
decision (`gifemo.decision`) reads only Evidence, and the tag record stores every Evidence as it was, so
evaluation can score each stream alone without tagging again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from .emotions import EMOTIONS, top_emotion


@dataclass(frozen=True)
class Evidence:
    stream: str                                   # "face", "drawn", "caption", "action"
    scores: dict[str, float] = field(default_factory=dict)  # over EMOTIONS, sums to 1; empty when the stream abstains
    coverage: float = 0.0                         # share of the clip the stream saw (frames with a face, with text, ...)
    confidence: float = 0.0                       # the stream's own: P(its top emotion is right)
    reason: str = ""                              # one sentence a person understands: "sad face in 12 of 16 frames"
    details: dict[str, Any] = field(default_factory=dict)  # what `show` and the app display (AUs, caption text, ...)

    @property
    def abstained(self) -> bool:
        return not self.scores

    @property
    def emotion(self) -> Optional[str]:
        return top_emotion(self.scores) if self.scores else None

    def to_dict(self) -> dict:
        return {"stream": self.stream, "emotion": self.emotion, "scores": dict(self.scores),
                "coverage": float(self.coverage), "confidence": float(self.confidence), "reason": self.reason,
                "details": self.details}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Evidence":
        scores = {name: float(data["scores"][name]) for name in EMOTIONS if name in (data.get("scores") or {})}
        return cls(data["stream"], scores, float(data.get("coverage", 0.0)), float(data.get("confidence", 0.0)),
                   data.get("reason", ""), dict(data.get("details") or {}))

    @classmethod
    def abstain(cls, stream: str, reason: str, coverage: float = 0.0, **details) -> "Evidence":
        return cls(stream, {}, coverage, 0.0, reason, details)
