"""Fuse the face and action streams into one emotion per GIF, with face priority.

1. Faces found reliably (in enough of the sampled frames, confident enough): the face emotion wins.
2. Otherwise the action stream, when it is available and did not abstain.
3. Otherwise a face seen only weakly (few frames), which is still better evidence than none.
4. Otherwise `source: none`: no emotion is claimed (never silently "neutral").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .emotions import top_emotion


@dataclass
class FusionOptions:
    # Thresholds measured on ../shared/data/gifs_dev (see README "Fusion"): faces that show up in
    # fewer sampled frames than this are mostly false detections or passers-by.
    min_face_frame_share: float = 0.25
    min_face_confidence: float = 0.0
    min_action_confidence: float = 0.0


@dataclass
class FusedEmotion:
    emotion: Optional[str]
    scores: dict
    confidence: float
    source: str          # "face", "action" or "none"
    reason: str


def face_share(face) -> float:
    return face.frames_with_face / face.frames_analyzed if face is not None and face.frames_analyzed else 0.0


def face_is_reliable(face, options: FusionOptions) -> bool:
    return (face is not None and face.scores is not None and face_share(face) >= options.min_face_frame_share
            and face.confidence >= options.min_face_confidence)


def fuse(face, action, options: Optional[FusionOptions] = None) -> FusedEmotion:
    """`face`: a FaceAnalysis or None; `action`: an ActionAnalysis or None (stream off/unavailable)."""
    options = options or FusionOptions()
    has_face = face is not None and face.scores is not None
    if face_is_reliable(face, options):
        return FusedEmotion(face.emotion, face.scores, face.confidence, "face",
                            f"faces in {face.frames_with_face}/{face.frames_analyzed} sampled frames")
    action_usable = action is not None and action.available and not action.abstained and action.scores is not None
    if action_usable:
        confidence = max(action.scores.values()) * action.mapped_mass
        if confidence >= options.min_action_confidence:
            top = ", ".join(f"{name} {p:.2f}" for name, p in action.top_actions[:2])
            return FusedEmotion(top_emotion(action.scores), action.scores, confidence, "action",
                                f"no reliable face; actions: {top}")
    if has_face:
        return FusedEmotion(face.emotion, face.scores, face.confidence * face_share(face), "face",
                            f"weak face evidence: faces in only {face.frames_with_face}/{face.frames_analyzed} frames")
    why = "no face found"
    if action is None:
        why += "; action stream off"
    elif not action.available:
        why += "; action stream unavailable (I3D weights missing)"
    else:
        why += f"; actions did not map to an emotion (mapped mass {action.mapped_mass:.2f})"
    return FusedEmotion(None, {}, 0.0, "none", why)
