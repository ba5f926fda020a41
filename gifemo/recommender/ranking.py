"""Scoring, filtering, diversity and the `why` of each suggestion.

score = emotion_weight * (message emotions . GIF emotions) + semantic_weight * cos(message, GIF tag text)

The emotion term is the chance that the message and the GIF, each read as a draw from its emotion
distribution, show the same emotion; the semantic term lets the words of the message (e.g. "dance")
pull in GIFs whose actions or name say the same. Both come out of one inner product with the GIF vector.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from ..emotions import EMOTIONS, top_emotion
from ..config import SOURCES, RankingOptions
from .index import GifIndex

NUM_EMOTIONS = len(EMOTIONS)


@dataclass
class Filters:
    emotions: Sequence[str] = ()         # keep GIFs tagged with one of these emotions
    min_confidence: float = 0.0
    sources: Sequence[str] = ()          # keep GIFs decided by these streams ("face", "action", "none")

    def mask(self, index: GifIndex) -> Optional[np.ndarray]:
        if not self.emotions and not self.sources and self.min_confidence <= 0:
            return None
        allowed = np.ones(len(index), dtype=bool)
        if self.emotions:
            allowed &= np.isin(index.emotion_ids, [EMOTIONS.index(e) for e in self.emotions])
        if self.sources:
            allowed &= np.isin(index.source_ids, [SOURCES.index(s) for s in self.sources])
        if self.min_confidence > 0:
            allowed &= index.confidence >= self.min_confidence
        return allowed


@dataclass
class Suggestion:
    path: str
    score: float
    emotion: Optional[str]
    why: str
    source: str = "none"
    confidence: float = 0.0
    emotion_match: float = 0.0
    semantic_match: float = 0.0
    matched_terms: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"path": self.path, "score": round(self.score, 4), "emotion": self.emotion, "why": self.why}


def query_vector(message_scores: dict, message_embedding: np.ndarray, options: RankingOptions) -> np.ndarray:
    emotion = np.array([message_scores.get(e, 0.0) for e in EMOTIONS], dtype=np.float32)
    return np.concatenate([options.emotion_weight * emotion,
                           options.semantic_weight * np.asarray(message_embedding, dtype=np.float32)])


def rank(index: GifIndex, message_scores: dict, message_embedding: np.ndarray, k: int = 8,
         filters: Optional[Filters] = None, options: Optional[RankingOptions] = None) -> list[Suggestion]:
    options = options or RankingOptions()
    if len(index) == 0 or k <= 0:
        return []
    query = query_vector(message_scores, message_embedding, options)
    allowed = (filters or Filters()).mask(index)
    n = max(options.min_candidates, options.candidates_per_result * k)
    scores, ids = index.search(query, n, allowed)
    picked = _diverse(index, ids, scores, k, options)
    return [_explain(index, int(i), float(s), message_scores, message_embedding, options) for i, s in picked]


def _diverse(index: GifIndex, ids: np.ndarray, scores: np.ndarray, k: int,
             options: RankingOptions) -> list[tuple[int, float]]:
    """Best first, skipping GIFs with nothing to match and re-encodes of a picked GIF; then, if every pick
    came from one stream (face or action), the last pick gives way to the best GIF of another stream whose
    score is nearly as good."""
    picked: list[tuple[int, float]] = []
    candidates = list(zip(ids.tolist(), scores.tolist()))
    rest = 0
    for rest, (i, s) in enumerate(candidates, 1):
        if index.matchable[i] and not any(_near_duplicate(index, i, j, options) for j, _ in picked):
            picked.append((i, s))
            if len(picked) == k:
                break
    streams = {index.rows["source"][i] for i, _ in picked}
    if len(picked) == k > 1 and len(streams) == 1:
        for i, s in candidates[rest:]:
            if s < options.mix_sources_within * picked[-1][1]:
                break
            if index.rows["source"][i] not in streams and index.rows["source"][i] != "none" \
                    and not any(_near_duplicate(index, i, j, options) for j, _ in picked[:-1]):
                picked[-1] = (i, s)
                break
    return picked


def _near_duplicate(index: GifIndex, i: int, j: int, options: RankingOptions) -> bool:
    """The same clip saved twice (re-encoded, resized, renamed): same frame count, shape, length and emotions."""
    rows = index.rows
    if rows["frames"][i] != rows["frames"][j] or abs(rows["duration"][i] - rows["duration"][j]) > 0.1:
        return False
    aspect_i = rows["width"][i] / max(rows["height"][i], 1)
    aspect_j = rows["width"][j] / max(rows["height"][j], 1)
    if abs(aspect_i - aspect_j) > 0.02 * max(aspect_i, aspect_j):
        return False
    l1 = np.abs(index.vectors[i, :NUM_EMOTIONS] - index.vectors[j, :NUM_EMOTIONS]).sum()
    return bool(l1 <= options.duplicate_emotion_l1)


def _explain(index: GifIndex, i: int, score: float, message_scores: dict, message_embedding: np.ndarray,
             options: RankingOptions) -> Suggestion:
    gif_emotions = index.vectors[i, :NUM_EMOTIONS]
    message = np.array([message_scores.get(e, 0.0) for e in EMOTIONS], dtype=np.float32)
    emotion_match = float(message @ gif_emotions)
    semantic_match = float(index.vectors[i, NUM_EMOTIONS:] @ message_embedding)
    term_ids = index.rows["term_ids"][i]
    matched: list[tuple[str, float]] = []
    if term_ids:
        sims = index.term_vectors[term_ids] @ message_embedding
        matched = sorted(((index.terms[t], float(s)) for t, s in zip(term_ids, sims) if s >= options.min_term_match),
                         key=lambda ts: -ts[1])[:2]
    emotion = index.rows["emotion"][i]
    source = index.rows["source"][i]
    confidence = float(index.rows["confidence"][i])
    message_top = top_emotion(message_scores)
    parts = []
    if emotion:
        parts.append(f"GIF {emotion} {gif_emotions[EMOTIONS.index(emotion)]:.2f} ({source}, confidence "
                     f"{confidence:.2f}) vs message {message_top} {message_scores.get(message_top, 0.0):.2f}: "
                     f"emotion match {emotion_match:.2f}")
    else:
        parts.append("no emotion tagged")
    if matched:
        parts.append("tags " + ", ".join(f"'{t}' {s:.2f}" for t, s in matched)
                     + f": text match {semantic_match:.2f}")
    else:
        parts.append(f"text match {semantic_match:.2f}")
    return Suggestion(path=index.rows["path"][i], score=score, emotion=emotion, why="; ".join(parts),
                      source=source, confidence=confidence, emotion_match=emotion_match,
                      semantic_match=semantic_match, matched_terms=[t for t, _ in matched])
