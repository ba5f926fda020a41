"""Combining CNN probabilities with EMFACS rule scores: a multinomial logistic regression fitted on
FER2013 val (cross-validated there), stored as data/weights/face_fusion.json.

Features per face: log CNN probabilities (7) and rule scores (7). A face without AUs (the landmarker
found no face in an aligned crop) keeps the CNN probabilities alone.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..emotions import EMOTIONS
from ..paths import WEIGHTS_DIR

FUSION_WEIGHTS = "face_fusion.json"


def features(cnn_probs: np.ndarray, rules: np.ndarray) -> np.ndarray:
    """(N, 14): log CNN probabilities then rule scores, both in EMOTIONS order."""
    return np.concatenate([np.log(np.clip(cnn_probs, 1e-6, 1.0)), rules], axis=1)


@dataclass
class Fusion:
    coef: np.ndarray       # (7, 14)
    intercept: np.ndarray  # (7,)
    metrics: dict

    def combine(self, cnn_probs: np.ndarray, rules: np.ndarray) -> np.ndarray:
        logits = features(np.atleast_2d(cnn_probs), np.atleast_2d(rules)) @ self.coef.T + self.intercept
        logits -= logits.max(1, keepdims=True)
        probs = np.exp(logits)
        return probs / probs.sum(1, keepdims=True)

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps({"emotions": list(EMOTIONS), "features": feature_names(),
                                    "coef": self.coef.round(6).tolist(), "intercept": self.intercept.round(6).tolist(),
                                    "metrics": self.metrics}, indent=1))
        return path

    @classmethod
    def load(cls, path: Optional[Path] = None) -> Optional["Fusion"]:
        """The fitted fusion, or None when no file exists (then the CNN alone is used)."""
        path = Path(path or WEIGHTS_DIR / FUSION_WEIGHTS)
        if not path.exists():
            return None
        d = json.loads(path.read_text())
        return cls(np.asarray(d["coef"], dtype=np.float64), np.asarray(d["intercept"], dtype=np.float64), d["metrics"])


def feature_names() -> list[str]:
    return [f"log_cnn_{e}" for e in EMOTIONS] + [f"rule_{e}" for e in EMOTIONS]


def fit(cnn_probs: np.ndarray, rules: np.ndarray, labels: np.ndarray, folds: int = 5, seed: int = 0) -> Fusion:
    """Fit on all rows; report 5-fold cross-validated accuracy of CNN alone, rules alone and the fusion."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = features(cnn_probs, rules)
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    model = lambda: LogisticRegression(C=1.0, max_iter=2000)  # noqa: E731

    def recall(pred):
        return {name: float((pred[labels == i] == i).mean()) for i, name in enumerate(EMOTIONS) if (labels == i).any()}

    fused_pred = cross_val_predict(model(), x, labels, cv=cv)
    rules_pred = cross_val_predict(model(), rules, labels, cv=cv)
    cnn_pred = cnn_probs.argmax(1)
    metrics = {
        "rows": int(len(labels)), "folds": folds,
        "accuracy_cnn": float((cnn_pred == labels).mean()),
        "accuracy_rules_argmax": float((rules.argmax(1) == labels).mean()),
        "accuracy_rules_fitted_cv": float((rules_pred == labels).mean()),
        "accuracy_fused_cv": float((fused_pred == labels).mean()),
        "recall_cnn": recall(cnn_pred), "recall_fused_cv": recall(fused_pred),
    }
    final = model().fit(x, labels)
    return Fusion(final.coef_, final.intercept_, metrics)
