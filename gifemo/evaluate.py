"""Evaluate tagging on a labelled GIF set: accuracy, macro-F1, per-class report, confusion matrix,
coverage by source, and the same metrics for the face stream alone, the action stream alone and fused."""
from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from typing import Optional

from .corpus import Corpus
from .emotions import EMOTIONS, normalize_label, top_emotion
from .media import MEDIA_EXTENSIONS
from .models import sha256_of
from .tagger import TagOptions, tag_paths

NONE = "none"  # prediction when a stream abstains; counts as wrong


def load_dataset(dataset: str | Path) -> list[tuple[Path, str]]:
    """(file, emotion) pairs from a folder of label-named folders or a CSV with columns file,label."""
    dataset = Path(dataset)
    if dataset.is_dir():
        pairs = []
        for folder in sorted(p for p in dataset.iterdir() if p.is_dir()):
            label = normalize_label(folder.name)
            pairs += [(f, label) for f in sorted(folder.rglob("*")) if f.suffix.lower() in MEDIA_EXTENSIONS]
        if not pairs:
            raise ValueError(f"{dataset}: no GIFs or videos in label-named sub-folders")
        return pairs
    if dataset.suffix.lower() == ".csv":
        with open(dataset, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"file", "label"} <= set(reader.fieldnames):
                raise ValueError(f"{dataset}: a CSV data set needs the columns file,label")
            return [(dataset.parent / row["file"], normalize_label(row["label"])) for row in reader]
    raise ValueError(f"{dataset}: expected a folder of label-named folders or a .csv with columns file,label")


def metrics(truth: list[str], predicted: list[str]) -> dict:
    """Accuracy over all items (abstentions count as wrong), macro-F1 over the classes present in
    `truth`, per-class precision/recall/F1/support, and the 7x7 confusion matrix (rows = true)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

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
        "labels": list(EMOTIONS),
        "confusion_matrix": confusion_matrix(truth, predicted, labels=list(EMOTIONS)).tolist() if n else [],
        "abstained": {e: sum(1 for t, p in zip(truth, predicted) if t == e and p == NONE) for e in EMOTIONS},
    }


def _stream_prediction(scores: Optional[dict]) -> str:
    return top_emotion(scores) if scores else NONE


def evaluate(dataset: str | Path, db: Optional[str | Path] = None, workers: int = 1,
             options: Optional[TagOptions] = None, runtime=None, progress: bool = True) -> dict:
    """Tag every file of the data set (reusing `db` when given) and score the tags against the labels.
    Both streams run on every file by default, so each can be scored alone."""
    pairs = load_dataset(dataset)
    options = options or TagOptions(actions="always")
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(db) if db else Path(scratch) / "evaluate.db"
        summary = tag_paths([p for p, _ in pairs], db, workers=workers, options=options,
                            runtime=runtime, progress=progress)
        with Corpus(db) as corpus:
            records = []
            for path, label in pairs:
                record = corpus.get(sha256_of(path)) if path.is_file() else None
                records.append((path, label, record))
    truth = [label for _, label, _ in records]
    fused, face_only, action_only, items = [], [], [], []
    coverage = {"face": 0, "action": 0, "none": 0, "error": 0}
    for path, label, record in records:
        if record is None or record.error:
            coverage["error"] += 1
            fused.append(NONE), face_only.append(NONE), action_only.append(NONE)
            items.append({"path": str(path), "label": label, "predicted": None, "source": "error",
                          "error": record.error if record else f"{path}: not found"})
            continue
        coverage[record.source] += 1
        fused.append(record.emotion or NONE)
        face_only.append(_stream_prediction((record.faces or {}).get("scores")))
        action_only.append(_stream_prediction((record.action or {}).get("scores")))
        items.append({"path": str(path), "label": label, "predicted": record.emotion, "source": record.source,
                      "confidence": record.confidence, "face": face_only[-1], "action": action_only[-1]})
    report = metrics(truth, fused)
    report.update({
        "dataset": str(dataset),
        "coverage_by_source": coverage,
        "streams": {"fused": metrics(truth, fused), "face_only": metrics(truth, face_only),
                    "action_only": metrics(truth, action_only)},
        "baseline_always_happiness": metrics(truth, ["happiness"] * len(truth))["accuracy"],
        "tagging": {"tagged": summary.tagged, "skipped": summary.skipped, "failed": summary.failed},
        "items": items,
    })
    return report


def format_report(report: dict) -> str:
    lines = [f"{report['n']} files from {report['dataset']}",
             f"accuracy {report['accuracy']:.3f}   macro-F1 {report['macro_f1']:.3f}   "
             f"(always 'happiness': {report['baseline_always_happiness']:.3f})",
             "coverage: " + ", ".join(f"{k} {v}" for k, v in report["coverage_by_source"].items()), "",
             f"{'stream':12s} {'accuracy':>9s} {'macro-F1':>9s} {'coverage':>9s} {'acc@cov':>8s}"]
    for name, m in report["streams"].items():
        on_cov = "-" if m["accuracy_on_covered"] is None else f"{m['accuracy_on_covered']:.3f}"
        lines.append(f"{name:12s} {m['accuracy']:9.3f} {m['macro_f1']:9.3f} {m['coverage']:9.3f} {on_cov:>8s}")
    lines += ["", f"{'class':10s} {'prec':>6s} {'recall':>6s} {'f1':>6s} {'n':>4s}"]
    for e, c in report["per_class"].items():
        lines.append(f"{e:10s} {c['precision']:6.2f} {c['recall']:6.2f} {c['f1']:6.2f} {c['support']:4d}")
    lines += ["", "confusion (rows true, columns predicted): " + " ".join(e[:4] for e in EMOTIONS)]
    for e, row in zip(EMOTIONS, report["confusion_matrix"]):
        lines.append(f"{e:10s} " + " ".join(f"{v:4d}" for v in row) + f"   abstained {report['abstained'][e]}")
    return "\n".join(lines)


def write_report(report: dict, json_path: str | Path, plot_path: Optional[str | Path] = None) -> None:
    Path(json_path).parent.mkdir(parents=True, exist_ok=True)
    Path(json_path).write_text(json.dumps(report, indent=2))
    if plot_path:
        from .plots import plot_confusion

        with_abstentions = [row + [report["abstained"][e]] for e, row in zip(report["labels"], report["confusion_matrix"])]
        plot_confusion(with_abstentions, report["labels"], plot_path, column_labels=report["labels"] + ["(no answer)"],
                       title=f"gifemo: accuracy {report['accuracy']:.2f}, macro-F1 {report['macro_f1']:.2f}")
