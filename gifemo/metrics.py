"""Classification and calibration metrics, one implementation for evaluation and every trainer."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .emotions import EMOTIONS

NONE = "none"  # the prediction when nothing answered; counts as wrong


def confusion(truth: Sequence[int], predicted: Sequence[int]) -> np.ndarray:
    """7x7 counts over EMOTIONS indexes: rows = true, columns = predicted."""
    matrix = np.zeros((len(EMOTIONS), len(EMOTIONS)), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def recall(matrix: np.ndarray) -> dict[str, float]:
    """Per-class recall from a confusion matrix (0 for a class with no true items)."""
    return {name: float(r) for name, r in zip(EMOTIONS, matrix.diagonal() / np.maximum(matrix.sum(1), 1))}


def classification(truth: Sequence[str], predicted: Sequence[str]) -> dict:
    """Accuracy over all items (abstentions, NONE, count as wrong), macro-F1 over the classes present in
    `truth`, per-class precision/recall/F1/support, the 7x7 confusion matrix (rows = true) and abstentions."""
    from sklearn.metrics import precision_recall_fscore_support

    truth, predicted = list(truth), list(predicted)
    n = len(truth)
    covered = [i for i, p in enumerate(predicted) if p != NONE]
    present = [e for e in EMOTIONS if e in truth]
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(EMOTIONS), zero_division=0)
    macro = [f1[EMOTIONS.index(e)] for e in present]
    return {
        "n": n,
        "accuracy": sum(t == p for t, p in zip(truth, predicted)) / n if n else 0.0,
        "macro_f1": float(sum(macro) / len(macro)) if macro else 0.0,
        "coverage": len(covered) / n if n else 0.0,
        "accuracy_on_covered": (sum(truth[i] == predicted[i] for i in covered) / len(covered)) if covered else None,
        "per_class": {e: {"precision": float(precision[k]), "recall": float(recall[k]), "f1": float(f1[k]),
                          "support": int(support[k])} for k, e in enumerate(EMOTIONS)},
        "predicted_share": {e: (predicted.count(e) / n if n else 0.0) for e in EMOTIONS},
        "labels": list(EMOTIONS),
        "confusion_matrix": confusion([EMOTIONS.index(truth[i]) for i in covered],
                                      [EMOTIONS.index(predicted[i]) for i in covered]).tolist() if n else [],
        "abstained": {e: sum(1 for t, p in zip(truth, predicted) if t == e and p == NONE) for e in EMOTIONS},
    }


def calibration(truth: Sequence[str], predicted: Sequence[str], confidence: Sequence[float],
                bins: int = 10) -> dict:
    """Expected calibration error over the answered items: the gap between confidence and accuracy, averaged
    over equal-width confidence bins weighted by their size; and the bins themselves (a reliability diagram)."""
    rows = [(t == p, float(c)) for t, p, c in zip(truth, predicted, confidence) if p != NONE]
    if not rows:
        return {"ece": None, "bins": [], "answered": 0}
    right = np.array([r for r, _ in rows], dtype=float)
    conf = np.clip(np.array([c for _, c in rows]), 0.0, 1.0)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        mask = which == b
        if not mask.any():
            continue
        accuracy, mean_conf = float(right[mask].mean()), float(conf[mask].mean())
        ece += mask.mean() * abs(accuracy - mean_conf)
        table.append({"low": b / bins, "high": (b + 1) / bins, "n": int(mask.sum()),
                      "confidence": mean_conf, "accuracy": accuracy})
    return {"ece": float(ece), "bins": table, "answered": len(rows)}


def recall_of(report: dict, emotion: str) -> Optional[float]:
    cls = report["per_class"][emotion]
    return cls["recall"] if cls["support"] else None
