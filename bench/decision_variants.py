"""The fitted GIF decision against a few principled variants of it, each by the same 5-fold cross-validation
grouped by source collection, read from one tagged corpus (nothing is tagged): accuracy, macro-F1, the recall of
the two rarest emotions, ECE and the Brier score of the confidence (whether the answer is right), and the ECE a
perfectly calibrated decision would show with the same confidences on so few GIFs (the noise floor).

    gifemo train decision --data ../shared/data/gifs_train --data ../shared/data/gifs_dev --db labelled.db
    .venv/bin/python bench/decision_variants.py --db labelled.db

Writes bench/results/decision_variants.json. About a minute on 2 cores.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from common import held_out_figures, write_results
from gifemo import decision
from gifemo.emotions import EMOTIONS
from gifemo.evaluate import labelled_records, load_dataset, mean_over_frames
from gifemo.metrics import calibration

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def face_mean_over_frames(row):
    """The row with the face stream's expressive pooling replaced by its plain mean over frames."""
    return [(mean_over_frames(e) or e) if e.stream == "face" and not e.abstained else e for e in row]


VARIANTS = {   # name: (module constants of gifemo.decision to change, how each row is changed)
    "shipped": ({}, None),
    "confidence: the class-weighted top score": ({"prior_correction": lambda labels: np.zeros(len(EMOTIONS))}, None),
    "classes balanced (n^-1)": ({"CLASS_POWER": 1.0}, None),
    "full coverage at half the GIF": ({"FULL_COVERAGE": 0.5}, None),
    "face: mean over frames": ({}, face_mean_over_frames),
}


def noise_floor(confidence: np.ndarray, draws: int = 1000) -> dict:
    """ECE of answers right exactly as often as their confidence says, on as many answers."""
    rng = np.random.default_rng(0)
    eces = [calibration(["x"] * len(confidence), ["x" if r else "y" for r in rng.random(len(confidence)) < confidence],
                        confidence)["ece"] for _ in range(draws)]
    return {"mean": float(np.mean(eces)), "p90": float(np.quantile(eces, 0.9))}


def score(labels, held_out) -> dict:
    figures = held_out_figures(labels, held_out)
    answered = [i for i, d in enumerate(held_out) if d.emotion]
    confidence = np.array([held_out[i].confidence for i in answered])
    right = np.array([held_out[i].emotion == labels[i] for i in answered], dtype=float)
    return {"accuracy": figures["accuracy"], "macro_f1": figures["macro_f1"],
            "recall_disgust": figures["recall"]["disgust"], "recall_fear": figures["recall"]["fear"],
            "neutral_predicted": sum(d.emotion == "neutral" for d in held_out) / len(held_out),
            "ece": figures["ece"], "brier": float(np.mean((confidence - right) ** 2)),
            "ece_noise_floor": noise_floor(confidence)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="corpus with the labelled GIFs tagged by every stream")
    parser.add_argument("--data", default=str(SHARED / "data"))
    args = parser.parse_args()
    items = [item for name in ("gifs_train", "gifs_dev") for item in load_dataset(Path(args.data) / name)]
    records = labelled_records(items, args.db, tag=False)
    usable = [(item, record) for item, record in zip(items, records) if record is not None and not record.error]
    rows = [[decision.raw_evidence(e) for e in record.evidence] for _, record in usable]
    labels, groups = [item.label for item, _ in usable], [item.group for item, _ in usable]
    results = {}
    for name, (constants, change_row) in VARIANTS.items():
        saved = {key: getattr(decision, key) for key in constants}
        for key, value in constants.items():
            setattr(decision, key, value)
        try:
            _, held_out = decision.fit_decision([change_row(r) for r in rows] if change_row else rows, labels, groups)
        finally:
            for key, value in saved.items():
                setattr(decision, key, value)
        results[name] = score(labels, held_out)
        r = results[name]
        print(f"{name:42s} accuracy {r['accuracy']:.3f}  macro-F1 {r['macro_f1']:.3f}  disgust {r['recall_disgust']:.2f}"
              f"  fear {r['recall_fear']:.2f}  ECE {r['ece']:.3f} (floor {r['ece_noise_floor']['mean']:.3f})"
              f"  Brier {r['brier']:.4f}", flush=True)
    write_results(ROOT / "bench/results/decision_variants.json", {"n": len(rows), "variants": results})


if __name__ == "__main__":
    main()
