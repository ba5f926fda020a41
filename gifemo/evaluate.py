"""Evaluate tags on a labelled GIF set: accuracy, macro-F1, per class, confusion, calibration (ECE and a
reliability diagram), a table per content type when the set says what each GIF shows, and an ablation read from
the stored Evidence (each stream alone, mean vs expressive face pooling, the rule vs the fitted decision), so
no variant needs a second tagging run.
"""
from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Sequence

from .corpus import Corpus, GifRecord
from .decision import Decided, RuleDecision, load_decision, raw_evidence
from .emotions import EMOTIONS, normalize_label, top_emotion
from .media import MEDIA_EXTENSIONS
from .metrics import NONE, calibration, classification
from .models import sha256_of
from .streams import STREAM_NAMES
from .tagger import TagOptions, tag_paths

MANIFEST = "manifest.csv"


@dataclass(frozen=True)
class LabelledGif:
    path: Path
    label: str
    content: str = ""    # what the GIF shows (live-action-face, cartoon, emoji-sticker, ...), when the set says
    group: str = ""      # its source collection: GIFs of one group are never split by cross-validation


def load_dataset(dataset: str | Path) -> list[LabelledGif]:
    """A folder of label-named folders (with an optional manifest.csv), or a CSV with columns file,label
    (and optionally content, source_repo)."""
    dataset = Path(dataset)
    if dataset.is_dir() and (dataset / MANIFEST).is_file():
        return _from_csv(dataset / MANIFEST)
    if dataset.is_dir():
        items = []
        for folder in sorted(p for p in dataset.iterdir() if p.is_dir()):
            label = normalize_label(folder.name)
            items += [LabelledGif(f, label, group=folder.name) for f in sorted(folder.rglob("*"))
                      if f.suffix.lower() in MEDIA_EXTENSIONS]
        if not items:
            raise ValueError(f"{dataset}: no GIFs or videos in label-named sub-folders")
        return items
    if dataset.suffix.lower() == ".csv":
        return _from_csv(dataset)
    raise ValueError(f"{dataset}: expected a folder of label-named folders or a .csv with columns file,label")


def _from_csv(path: Path) -> list[LabelledGif]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"file", "label"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: a CSV data set needs the columns file,label")
        return [LabelledGif(path.parent / row["file"], normalize_label(row["label"]), row.get("content") or "",
                            row.get("source_repo") or row["file"]) for row in reader]


def labelled_records(items: Sequence[LabelledGif], db: Optional[str | Path] = None, tag: bool = True, workers: int = 1,
                     options: Optional[TagOptions] = None, runtime=None, progress: bool = True
                     ) -> list[Optional[GifRecord]]:
    """The corpus record of every item, tagging those not yet tagged with these options (unless `tag` is False:
    then the corpus is read as it is, whatever options made it)."""
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(db) if db else Path(scratch) / "evaluate.db"
        if tag:
            tag_paths([item.path for item in items], db, workers=workers, options=options, runtime=runtime,
                      progress=progress)
        with Corpus(db) as corpus:
            return [corpus.get(sha256_of(item.path)) if item.path.is_file() else None for item in items]


def _prediction(decided_or_scores) -> str:
    if isinstance(decided_or_scores, Decided):
        return decided_or_scores.emotion or NONE
    return top_emotion(decided_or_scores) if decided_or_scores else NONE


def ablation(records: Sequence[Optional[GifRecord]], fitted) -> dict[str, list[str]]:
    """Predictions of each variant, computed from the stored Evidence (`fitted`: the shipped decision)."""
    rule = RuleDecision()
    variants: dict[str, list[str]] = {}
    for record in records:
        raw = [raw_evidence(e) for e in record.evidence] if record and not record.error else []
        by_stream = {e.stream: e for e in raw}
        face = by_stream.get("face")
        row = {f"{name} alone": _prediction(by_stream[name].scores if name in by_stream else {}) for name in STREAM_NAMES}
        row["face, mean over frames"] = _prediction(face.details.get("scores_mean") if face else {})
        row["rule decision (uncalibrated)"] = _prediction(rule.decide(raw))
        row["fitted decision"] = _prediction(fitted.decide(raw)) if raw else NONE
        for name, prediction in row.items():
            variants.setdefault(name, []).append(prediction)
    return {name: predictions for name, predictions in variants.items() if any(p != NONE for p in predictions)}


def report(items: Sequence[LabelledGif], records: Sequence[Optional[GifRecord]], dataset: str,
           decided: Optional[Sequence[Decided]] = None) -> dict:
    """Everything evaluate prints; `decided` replaces the stored decisions (e.g. cross-validated ones)."""
    truth = [item.label for item in items]
    if decided is None:
        predicted = [(r.emotion or NONE) if r and not r.error else NONE for r in records]
        confidence = [r.confidence if r and not r.error else 0.0 for r in records]
        sources = [(r.source if not r.error else "error") if r else "error" for r in records]
    else:
        predicted = [d.emotion or NONE for d in decided]
        confidence = [d.confidence for d in decided]
        sources = [d.source for d in decided]
    result = classification(truth, predicted)
    shipped = load_decision()
    majority = max(EMOTIONS, key=truth.count) if truth else "happiness"
    result.update({
        "dataset": dataset,
        "calibration": calibration(truth, predicted, confidence),
        "coverage_by_source": {s: sources.count(s) for s in dict.fromkeys(sources)},
        "baseline_majority": {"emotion": majority, "accuracy": truth.count(majority) / len(truth) if truth else 0.0},
        "ablation": {name: _summary(classification(truth, p)) for name, p in ablation(records, shipped).items()},
        "by_content": _by_content(items, truth, predicted),
        "fitted_on": _fitted_on(records, shipped),
        "items": [{"path": str(item.path), "label": item.label, "content": item.content, "predicted": p,
                   "confidence": c, "source": s, "error": r.error if r else f"{item.path}: not tagged"}
                  for item, p, c, s, r in zip(items, predicted, confidence, sources, records)],
    })
    return result


def _summary(m: dict) -> dict:
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "coverage": m["coverage"],
            "recall": {e: c["recall"] for e, c in m["per_class"].items()}}


def _by_content(items, truth, predicted) -> dict:
    kinds = sorted({item.content for item in items if item.content})
    table = {}
    for kind in kinds:
        idx = [i for i, item in enumerate(items) if item.content == kind]
        table[kind] = _summary(classification([truth[i] for i in idx], [predicted[i] for i in idx])) | {"n": len(idx)}
    return table


def _fitted_on(records, shipped) -> int:
    """How many of these GIFs the shipped decision was fitted on: figures on them are not held out."""
    shas = set(getattr(shipped, "metrics", {}).get("fitted_sha256", []))
    return sum(1 for r in records if r is not None and r.sha256 in shas)


def evaluate(dataset: str | Path, db: Optional[str | Path] = None, tag: bool = True, workers: int = 1,
             options: Optional[TagOptions] = None, runtime=None, progress: bool = True) -> dict:
    items = load_dataset(dataset)
    records = labelled_records(items, db, tag, workers, options or TagOptions(run={"action": "always"}), runtime,
                               progress)
    return report(items, records, str(dataset))


def format_report(report: dict) -> str:
    cal = report["calibration"]
    lines = [f"{report['n']} files from {report['dataset']}",
             f"accuracy {report['accuracy']:.3f}   macro-F1 {report['macro_f1']:.3f}   "
             f"ECE {cal['ece']:.3f}" if cal["ece"] is not None else f"accuracy {report['accuracy']:.3f}",
             f"always '{report['baseline_majority']['emotion']}': {report['baseline_majority']['accuracy']:.3f}",
             "decided by: " + ", ".join(f"{k} {v}" for k, v in report["coverage_by_source"].items())]
    if report["fitted_on"]:
        lines.append(f"NOTE: the decision was fitted on {report['fitted_on']} of these GIFs: not a held-out figure "
                     "(`gifemo train decision` reports cross-validated ones)")
    lines += ["", f"{'variant':30s} {'accuracy':>8s} {'macro-F1':>8s} {'answered':>8s}"]
    for name, m in report["ablation"].items():
        lines.append(f"{name:30s} {m['accuracy']:8.3f} {m['macro_f1']:8.3f} {m['coverage']:8.2f}")
    if report["by_content"]:
        lines += ["", f"{'content':20s} {'n':>4s} {'accuracy':>8s} {'macro-F1':>8s} {'answered':>8s}"]
        for kind, m in report["by_content"].items():
            lines.append(f"{kind:20s} {m['n']:4d} {m['accuracy']:8.3f} {m['macro_f1']:8.3f} {m['coverage']:8.2f}")
    lines += ["", f"{'class':10s} {'prec':>6s} {'recall':>6s} {'f1':>6s} {'n':>4s} {'predicted':>9s}"]
    for e, c in report["per_class"].items():
        lines.append(f"{e:10s} {c['precision']:6.2f} {c['recall']:6.2f} {c['f1']:6.2f} {c['support']:4d} "
                     f"{report['predicted_share'][e]:9.2f}")
    lines += ["", "confusion (rows true, columns predicted): " + " ".join(e[:4] for e in EMOTIONS)]
    for e, row in zip(EMOTIONS, report["confusion_matrix"]):
        lines.append(f"{e:10s} " + " ".join(f"{v:4d}" for v in row) + f"   no answer {report['abstained'][e]}")
    return "\n".join(lines)


def write_report(report: dict, json_path: Optional[str | Path] = None, plot_path: Optional[str | Path] = None,
                 reliability_path: Optional[str | Path] = None) -> list[Path]:
    """The JSON report, the confusion matrix at `plot_path` and the reliability diagram at `reliability_path`
    (default: `<plot name>-reliability.png` beside the matrix); returns the pictures written."""
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(report, indent=2))
    if not plot_path:
        return []
    from .plots import plot_confusion, plot_reliability

    plot_path = Path(plot_path)
    with_abstentions = [row + [report["abstained"][e]] for e, row in zip(report["labels"], report["confusion_matrix"])]
    pictures = [plot_confusion(with_abstentions, report["labels"], plot_path,
                               column_labels=report["labels"] + ["(no answer)"],
                               title=f"gifemo: accuracy {report['accuracy']:.2f}, macro-F1 {report['macro_f1']:.2f}")]
    if report["calibration"]["bins"]:
        ece = report["calibration"]["ece"]
        pictures.append(plot_reliability(report["calibration"]["bins"],
                                         reliability_path or plot_path.with_name(plot_path.stem + "-reliability.png"),
                                         title=f"gifemo confidence: ECE {ece:.3f}"))
    return pictures


def read_face_evidence(path: str | Path) -> dict[str, dict]:
    """sha256 -> {"fold", "evidence"}: out-of-fold face Evidence (`gifemo train face-gif`)."""
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["sha256"]: row for row in rows}


def _with_face_evidence(record: GifRecord, face: dict) -> GifRecord:
    """The record with its face Evidence replaced (the stream's own, uncalibrated: the decision calibrates it)."""
    evidence = [e for e in record.evidence if e.get("stream") != "face"] + [face]
    return replace(record, evidence=sorted(evidence, key=lambda e: STREAM_NAMES.index(e["stream"])
                                           if e["stream"] in STREAM_NAMES else len(STREAM_NAMES)))


def train_decision(datasets: Sequence[str | Path], db: str | Path, out: str | Path, workers: int = 1,
                   options: Optional[TagOptions] = None, runtime=None, progress: bool = True,
                   face_evidence: Optional[str | Path] = None, tag: bool = True) -> dict:
    """Tag the labelled sets into `db` (reusing what is there), fit the decision on their stored Evidence and
    write it into the folder `out`; returns the cross-validated report (grouped by source collection) it stores beside it.
    `tag=False` reads the corpus as it is (the streams' evidence of an earlier run) without tagging anything.

    With `face_evidence` (out-of-fold face Evidence, `gifemo train face-gif`), that replaces the face stream's
    stored Evidence and its folds are the cross-validation's: a face model fine-tuned on these GIFs would
    otherwise look better to the decision than it is on new GIFs."""
    from .decision import DECISION_WEIGHTS, fit_decision

    items = [item for dataset in datasets for item in load_dataset(dataset)]
    records = labelled_records(items, db, tag, workers, options, runtime, progress)
    usable = [(item, record) for item, record in zip(items, records) if record is not None and not record.error]
    if len({item.label for item, _ in usable}) < 2:
        raise ValueError("fitting the decision needs tagged GIFs of at least two emotions")
    fold_of = None
    if face_evidence:
        oof = read_face_evidence(face_evidence)
        missing = [str(item.path) for item, record in usable if record.sha256 not in oof]
        if missing:
            raise ValueError(f"{face_evidence}: no out-of-fold face evidence for {len(missing)} GIFs (e.g. "
                             f"{missing[0]}); rerun `gifemo train face-gif` on the same data sets")
        usable = [(item, _with_face_evidence(record, oof[record.sha256]["evidence"])) for item, record in usable]
        fold_of = [oof[record.sha256]["fold"] for _, record in usable]
    rows = [[raw_evidence(e) for e in record.evidence] for _, record in usable]
    decision, held_out = fit_decision(rows, [item.label for item, _ in usable], [item.group for item, _ in usable],
                                      fold_of=fold_of)
    cv = report([item for item, _ in usable], [record for _, record in usable], " + ".join(map(str, datasets)),
                decided=held_out)
    decision.metrics = {
        "cross_validation": "grouped by source collection, 5 folds"
                            + (", out-of-fold face evidence" if face_evidence else ""),
        "accuracy": cv["accuracy"], "macro_f1": cv["macro_f1"], "ece": cv["calibration"]["ece"],
        "recall": {e: c["recall"] for e, c in cv["per_class"].items()}, "by_content": cv["by_content"],
        "n": cv["n"], "fitted_sha256": sorted(record.sha256 for _, record in usable),
    }
    Path(out).mkdir(parents=True, exist_ok=True)
    decision.save(Path(out) / DECISION_WEIGHTS)
    return cv
