"""The per-corpus figures, computed the same way for every model.

- tweet_emotion: accuracy of the top emotion of the 7-way output against the mapped label
  (joy/love -> happiness). No restriction to the tweet labels: a "neutral" answer counts as wrong.
  `accuracy_tweet_labels` is the same with the top emotion taken among the 5 tweet labels only.
- goemotions_ekman: macro-F1 over its 7 labels. Each row's prediction is its top emotion; a class
  counts as a hit on a row when it is the prediction and is among the row's gold labels (per-class
  binary F1 over prediction sets vs. gold sets, then the unweighted mean). For single-label rows
  this is ordinary macro-F1; on a multi-label row either gold label is right. Also reported:
  `f1_threshold` (the multi-label protocol of the GoEmotions paper: predict every class with
  probability >= 0.3, plus the top one) and `f1_single` (single-label rows only).
"""
from __future__ import annotations

import numpy as np

from .. import metrics
from ..emotions import EMOTIONS
from .data import TWEET_EMOTIONS, TWEETS, TextSet

THRESHOLD = 0.3


def _macro_f1(predicted: np.ndarray, gold: np.ndarray) -> tuple[float, np.ndarray]:
    """predicted, gold: (N, C) bool. Mean over classes that occur in gold or predictions."""
    tp = (predicted & gold).sum(0)
    fp = (predicted & ~gold).sum(0)
    fn = (~predicted & gold).sum(0)
    denom = 2 * tp + fp + fn
    per_class = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)
    return float(np.nanmean(per_class)), per_class


def top_one(probs: np.ndarray) -> np.ndarray:
    out = np.zeros(probs.shape, dtype=bool)
    out[np.arange(len(probs)), probs.argmax(1)] = True
    return out


def confusion(probs: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """7x7 counts: rows = gold (first gold label of a row), columns = predicted."""
    return metrics.confusion(gold.argmax(1), probs.argmax(1))


def corpus_figures(corpus: TextSet, probs: np.ndarray) -> dict:
    """Figures for one corpus from the model's (N, 7) probabilities."""
    gold = corpus.labels
    predicted = top_one(probs)
    hit = (predicted & gold).any(1)
    macro, per_class = _macro_f1(predicted, gold)
    figures = {"corpus": corpus.name, "n": len(corpus), "accuracy": float(hit.mean()), "macro_f1": macro,
               "per_class_f1": {name: (None if np.isnan(v) else round(float(v), 4))
                                for name, v in zip(EMOTIONS, per_class)}}
    if corpus.name == TWEETS:
        restricted = np.where([e in TWEET_EMOTIONS for e in EMOTIONS], probs, -1.0)
        figures["accuracy_tweet_labels"] = float((top_one(restricted) & gold).any(1).mean())
    else:
        figures["f1_threshold"] = _macro_f1(predicted | (probs >= THRESHOLD), gold)[0]
        single = gold.sum(1) == 1
        figures["f1_single"] = _macro_f1(predicted[single], gold[single])[0]
    return figures


def headline(figures: dict) -> float:
    """The figure each corpus is judged by: tweet accuracy, GoEmotions macro-F1."""
    return figures["accuracy"] if figures["corpus"] == TWEETS else figures["macro_f1"]
