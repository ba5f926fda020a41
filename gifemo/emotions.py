"""The seven emotion names used everywhere, and helpers to keep score dicts well-formed."""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

EMOTIONS: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")

EMOJI: dict[str, str] = {
    "anger": "\N{POUTING FACE}",
    "disgust": "\N{NAUSEATED FACE}",
    "fear": "\N{FACE SCREAMING IN FEAR}",
    "happiness": "\N{GRINNING FACE WITH SMILING EYES}",
    "sadness": "\N{CRYING FACE}",
    "surprise": "\N{ASTONISHED FACE}",
    "neutral": "\N{NEUTRAL FACE}",
}

# What a tagged GIF's two kinds of numbers mean, in the words show, the app and the service's docs use.
CONFIDENCE_MEANS = "the chance it is right"
SCORES_MEAN = "rare emotions weighted up: they pick the answer; they are not chances of being right"

# Label spellings found in data sets (FER2013 folders, GIFGIF, GoEmotions, CARER) and by users.
SYNONYMS: dict[str, str] = {
    "angry": "anger", "mad": "anger", "rage": "anger", "annoyed": "anger", "anger": "anger",
    "disgust": "disgust", "disgusted": "disgust", "gross": "disgust", "contempt": "disgust",
    "fear": "fear", "scared": "fear", "afraid": "fear", "fearful": "fear", "terrified": "fear",
    "happiness": "happiness", "happy": "happiness", "joy": "happiness", "love": "happiness",
    "amusement": "happiness", "excited": "happiness", "excitement": "happiness", "pleasure": "happiness",
    "sadness": "sadness", "sad": "sadness", "sorrow": "sadness", "crying": "sadness",
    "surprise": "surprise", "surprised": "surprise", "shocked": "surprise", "shock": "surprise",
    "neutral": "neutral", "calm": "neutral", "none": "neutral",
}


def normalize_label(label: str) -> str:
    """Map a label spelling ('Happy', 'scared', 'joy') to one of EMOTIONS; ValueError if unknown."""
    key = label.strip().lower()
    if key not in SYNONYMS:
        raise ValueError(f"unknown emotion label {label!r}; expected one of {', '.join(EMOTIONS)} or a synonym")
    return SYNONYMS[key]


def scores_dict(values: Iterable[float]) -> dict[str, float]:
    """A dict over all 7 emotions that sums to 1 (uniform when the input is all zeros)."""
    arr = np.clip(np.asarray(list(values), dtype=np.float64), 0.0, None)
    if arr.shape != (len(EMOTIONS),):
        raise ValueError(f"expected {len(EMOTIONS)} scores, got shape {arr.shape}")
    total = arr.sum()
    arr = arr / total if total > 0 else np.full(len(EMOTIONS), 1.0 / len(EMOTIONS))
    return {name: float(v) for name, v in zip(EMOTIONS, arr)}


def scores_vector(scores: Mapping[str, float]) -> np.ndarray:
    """The inverse of scores_dict: a float32 vector in EMOTIONS order (missing names count 0)."""
    return np.array([float(scores.get(name, 0.0)) for name in EMOTIONS], dtype=np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities from logits, over the last axis (the emotions)."""
    z = np.exp(logits - logits.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def top_emotion(scores: Mapping[str, float]) -> str:
    return max(EMOTIONS, key=lambda name: scores.get(name, 0.0))
