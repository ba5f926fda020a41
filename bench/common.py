"""What the benchmarks share: writing a results file, the figures of held-out decisions."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from gifemo.emotions import EMOTIONS
from gifemo.metrics import NONE, calibration, classification


def write_results(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")


def classification_figures(labels, predicted, emotions=EMOTIONS) -> dict:
    """Accuracy, macro-F1 and the recall of each of `emotions` of answers against labels."""
    m = classification(labels, predicted)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
            "recall": {e: m["per_class"][e]["recall"] for e in emotions}}


def held_out_figures(labels, held_out) -> dict:
    """Accuracy, macro-F1, recall per emotion and ECE of decisions (gifemo.decision.Decided) against labels;
    a decision without an emotion counts as no answer."""
    predicted = [d.emotion or NONE for d in held_out]
    return classification_figures(labels, predicted) | {
        "ece": calibration(labels, predicted, [d.confidence for d in held_out])["ece"]}


def sign_test(base_right: np.ndarray, new_right: np.ndarray) -> dict:
    """Two-sided exact sign test over the GIFs where one is right and the other wrong."""
    gained, lost = int((new_right & ~base_right).sum()), int((base_right & ~new_right).sum())
    n = gained + lost
    tail = sum(math.comb(n, i) for i in range(min(gained, lost) + 1)) / 2 ** n if n else 1.0
    return {"gained": gained, "lost": lost, "p_two_sided": min(1.0, 2 * tail)}
