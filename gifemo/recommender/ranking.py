"""Scoring, the rules a suggestion must pass, diversity and the `why` of each suggestion.

score = emotion_weight * (message emotions . GIF emotions) + semantic_weight * cos(message, GIF tag text)

The emotion term is the chance that the message and the GIF, each read as a draw from its emotion
distribution, show the same emotion; the semantic term lets the words of the message (e.g.
"dance") pull in GIFs whose actions, name or caption say the same. Both come out of one inner product
with the GIF vector. Then the rules: a GIF that fits no better than chance is not shown (fewer results,
and a note that says so), a GIF of the opposite feeling is never shown for a grieving, angry or
frightened message (FORBIDDEN), a low-confidence tag never comes first, and maximal marginal relevance
keeps the list from being five cuts of one clip.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

from ..emotions import EMOTIONS, scores_vector, top_emotion
from ..config import RankingOptions
from ..streams import SOURCES
from .index import GifIndex
from .vectors import EMOTION_ADJECTIVES

NUM_EMOTIONS = len(EMOTIONS)
# Message emotion -> GIF emotions never shown for it: laughter next to grief, anger or fear reads as mockery.
FORBIDDEN: dict[str, tuple[str, ...]] = {"sadness": ("happiness",), "anger": ("happiness",), "fear": ("happiness",)}
# Below this, the message's top emotion is no clear reading.
CLEAR_READING = 0.3


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
    matched_terms: list = field(default_factory=list)
    sha256: str = ""
    caption: str = ""

    def to_json(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "score": round(self.score, 4), "emotion": self.emotion,
                "confidence": round(self.confidence, 3), "source": self.source, "caption": self.caption,
                "why": self.why}


class Suggestions(list):
    """The suggestions, best first; `note`: why there are fewer than asked for, or what was left out;
    `reading`: the message's emotion scores they were ranked for."""

    def __init__(self, items=(), note: str = "", reading: Optional[dict] = None):
        super().__init__(items)
        self.note = note
        self.reading = reading or {}


def query_vector(message_scores: dict, message_embedding: np.ndarray, options: RankingOptions) -> np.ndarray:
    return np.concatenate([options.emotion_weight * scores_vector(message_scores),
                           options.semantic_weight * np.asarray(message_embedding, dtype=np.float32)])


def rank(index: GifIndex, message_scores: dict, message_embedding: np.ndarray, k: int = 8,
         filters: Optional[Filters] = None, options: Optional[RankingOptions] = None,
         feedback: Optional[Mapping[str, np.ndarray]] = None, subject: str = "message") -> Suggestions:
    """The k best GIFs that pass the rules. `feedback`: sha256 -> net votes per message emotion (7 numbers).
    `subject`: what the emotion scores are of ("message", or "face" on the camera page), for the `why`."""
    options = options or RankingOptions()
    if len(index) == 0 or k <= 0:
        return Suggestions(reading=message_scores)
    query = query_vector(message_scores, message_embedding, options)
    allowed = (filters or Filters()).mask(index)
    n = max(options.min_candidates, options.candidates_per_result * k)
    scores, ids = index.search(query, n, allowed)
    message = scores_vector(message_scores)
    if feedback:
        scores = scores + _feedback_bonus(index, ids, message, feedback, options)
    candidates = index.vectors_of(ids)
    fits = _fits(index, ids, candidates[:, :NUM_EMOTIONS], message, message_embedding, options)
    forbidden = forbidden_emotions(message_scores, options)
    allowed_pair = ~_tagged_with(index, ids, forbidden)
    keep = fits & allowed_pair
    picked = _diverse(index, ids[keep], scores[keep], candidates[keep, NUM_EMOTIONS:], k, options)
    reading = _reading_words(message_scores, subject)  # the same for every suggestion
    results = Suggestions((_explain(index, i, s, message_embedding, reading, options) for i, s in picked),
                          reading=message_scores)
    results.note = _note(len(results), k, int((fits & ~allowed_pair).sum()), forbidden, message_scores,
                         lead_missing=bool(keep.any()) and not results, subject=subject)
    return results


def forbidden_emotions(message_scores: Mapping[str, float], options: RankingOptions) -> list[int]:
    """Ids of the GIF emotions not to show: those FORBIDDEN for a feeling the message reads as at least
    `forbid_from` likely. (Also requiring that feeling to outweigh the GIF emotion in the message let 17
    happy GIFs through for sad, angry or frightened GoEmotions dev messages instead of 0.)"""
    return sorted({EMOTIONS.index(g) for m, gifs in FORBIDDEN.items() for g in gifs
                   if message_scores.get(m, 0.0) >= options.forbid_from})


def _tagged_with(index: GifIndex, ids: np.ndarray, emotion_ids: list[int]) -> np.ndarray:
    """Which of the GIFs `ids` are tagged with one of `emotion_ids` (a comparison per emotion: there are
    one or two, where np.isin's set machinery costs more than the search's candidates)."""
    tagged = index.emotion_ids[ids]
    found = np.zeros(len(ids), dtype=bool)
    for emotion_id in emotion_ids:
        found |= tagged == emotion_id
    return found


def _fits(index: GifIndex, ids: np.ndarray, emotions: np.ndarray, message: np.ndarray, message_embedding: np.ndarray,
          options: RankingOptions) -> np.ndarray:
    """A GIF fits when its emotion (`emotions`: the emotion part of its vector) matches better than chance, or
    one of its tag terms (an action, its name, the caption) says what the message says."""
    matchable = index.matchable[ids]
    fit = emotions @ message >= options.min_emotion_match
    # The words are looked at only where the emotion does not already fit (most of a search's candidates).
    unsure = np.flatnonzero(~fit & matchable)
    # In float64, as the `why` compares each term's cosine (`_word_matches`): the same terms count in both.
    best = index.best_word_match(ids[unsure], message_embedding).astype(np.float64)
    fit[unsure] = best >= options.min_term_match
    return matchable & fit


def _word_matches(index: GifIndex, i: int, message_embedding: np.ndarray) -> list[tuple[str, float]]:
    """(term, cosine with the message) for the GIF's word terms."""
    terms = index.words_of(i)
    if not len(terms):
        return []
    cosines = index.term_vectors[terms] @ message_embedding
    return [(index.terms[t], s) for t, s in zip(terms.tolist(), cosines.tolist())]


def _feedback_bonus(index: GifIndex, ids: np.ndarray, message: np.ndarray, feedback: Mapping[str, np.ndarray],
                    options: RankingOptions) -> np.ndarray:
    """Votes given on messages of the message's emotions count, squashed so that no pile of votes outweighs
    the emotion match."""
    votes = np.array([message @ feedback.get(index.rows["sha256"][i], np.zeros(NUM_EMOTIONS)) for i in ids],
                     dtype=np.float32)
    return options.feedback_weight * np.tanh(votes)


def _note(found: int, k: int, forbidden_count: int, forbidden: list, message_scores: dict, lead_missing: bool,
          subject: str) -> str:
    parts = []
    if lead_missing:
        parts.append("the GIFs that fit are tagged too uncertainly to suggest")
    elif found == 0:
        parts.append(f"no GIF in the corpus fits this {subject}")
    elif found < k:
        parts.append(f"only {found} GIF{'s' if found > 1 else ''} fit this {subject}")
    if forbidden_count:
        feeling = max(FORBIDDEN, key=lambda m: message_scores.get(m, 0.0))
        names = sorted({EMOTION_ADJECTIVES[EMOTIONS[g]] for g in forbidden})
        parts.append(f"left out {forbidden_count} {'/'.join(names)} GIF{'s' if forbidden_count > 1 else ''} "
                     f"for a {EMOTION_ADJECTIVES[feeling]} {subject}")
    return "; ".join(parts)


def _can_lead(index: GifIndex, ids: np.ndarray, options: RankingOptions) -> np.ndarray:
    """Which of the GIFs `ids` may come first: those with a confident tag, or, untagged, found by their words."""
    return (index.emotion_ids[ids] < 0) | (index.confidence[ids] >= options.lead_min_confidence)


def _diverse(index: GifIndex, ids: np.ndarray, scores: np.ndarray, semantic: np.ndarray, k: int,
             options: RankingOptions) -> list[tuple[int, float]]:
    """Maximal marginal relevance over the candidates (a GIF's similarity to those picked is the cosine of
    their tag-text and caption embeddings, the rows of `semantic`, so cuts of one clip, which share names and
    captions, push each other down), re-encodes of a picked GIF skipped, the first pick one that may lead;
    then, if every pick came from one stream (face or action), the last pick gives way to the best GIF of
    another stream whose score is nearly as good."""
    leaders = _can_lead(index, ids, options)
    if not leaders.any():
        return []
    gif = ids.tolist()
    similarity_to_picked = np.zeros(len(ids), dtype=np.float32)
    looked_at: list[int] = []  # candidates picked or passed over
    picked_at: list[int] = []
    gain = np.where(leaders, scores, -np.inf)  # the first pick: nothing picked yet to be unlike
    while True:
        at = int(gain.argmax())
        if gain[at] == -np.inf:  # every candidate looked at
            break
        looked_at.append(at)
        gain[at] = -np.inf
        if any(_near_duplicate(index, gif[at], gif[j], options) for j in picked_at):
            continue
        picked_at.append(at)
        if len(picked_at) == k:
            break
        similarity_to_picked = np.maximum(similarity_to_picked, semantic @ semantic[at])
        gain = scores - options.diversity * similarity_to_picked
        gain[looked_at] = -np.inf
    picked = [(gif[j], float(scores[j])) for j in picked_at]
    streams = {index.rows["source"][i] for i, _ in picked}
    if len(picked) == k > 1 and len(streams) == 1:
        best_first = np.argsort(-scores, kind="stable").tolist()
        for j in (j for j in best_first if j not in picked_at):
            i, s = gif[j], float(scores[j])
            if s < options.mix_sources_within * picked[-1][1]:
                break
            if index.rows["source"][i] not in streams and index.rows["source"][i] != "none" \
                    and not any(_near_duplicate(index, i, p, options) for p, _ in picked[:-1]):
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


def _reading_words(message_scores: dict, subject: str) -> str:
    """How the message reads, as the `why` says it."""
    message_top = top_emotion(message_scores)
    if message_scores.get(message_top, 0.0) >= CLEAR_READING:
        return f"your {subject} reads {EMOTION_ADJECTIVES[message_top]} ({message_scores[message_top]:.0%})"
    return f"your {subject} has no clear emotion"


def _explain(index: GifIndex, i: int, score: float, message_embedding: np.ndarray, reading: str,
             options: RankingOptions) -> Suggestion:
    """A `why` in words: what the streams saw, the caption, the tags that match the message's words, and
    how sure the tag is against how the message reads (`reading`)."""
    rows = index.rows
    emotion, source, caption = rows["emotion"][i], rows["source"][i], rows["caption"][i]
    matched = sorted(((t, s) for t, s in _word_matches(index, i, message_embedding)
                      if s >= options.min_term_match and t != caption), key=lambda ts: -ts[1])[:2]  # caption: quoted
    confidence = float(rows["confidence"][i])
    parts = [r for r in rows["reasons"][i] if not caption or caption not in r][:2]   # the caption is said below
    if caption:
        parts.append(f"caption '{caption}'")
    if matched:
        parts.append("about " + " and ".join(f"'{t}'" for t, _ in matched))
    if emotion:
        parts.append(f"tagged {EMOTION_ADJECTIVES[emotion]} ({confidence:.0%} sure); {reading}")
    else:
        parts.append("no emotion tagged: found by its words")
    return Suggestion(path=rows["path"][i], score=score, emotion=emotion, why="; ".join(parts), source=source,
                      confidence=confidence, matched_terms=[t for t, _ in matched], sha256=rows["sha256"][i],
                      caption=caption)
