"""Evaluate tags on a labelled GIF set: accuracy, macro-F1, per class, confusion, calibration (ECE and a
reliability diagram), a table per content type when the set says what each GIF shows, and an ablation read from
the stored Evidence (each stream alone, raw and calibrated to GIFs; mean vs expressive face pooling; the rule vs
the fitted decision), each with its accuracy, macro-F1 and ECE, so no variant needs a second tagging run.
"""
from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .config import Runtime
from .corpus import Corpus, GifRecord, failure_line
from .decision import Decided, FittedDecision, RuleDecision, load_decision, raw_evidence
from .emotions import EMOTIONS, normalize_label
from .evidence import Evidence
from .media import MEDIA_EXTENSIONS
from .metrics import NONE, calibration, classification
from .names import count
from .models import sha256_of
from .streams import STREAM_NAMES, stream_rank
from .tagger import Decider, TagOptions, tag_paths

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
            label = _label(folder.name, folder)
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
        return [LabelledGif(path.parent / row["file"], _label(row["label"], f"{path}, line {reader.line_num}"),
                            row.get("content") or "", row.get("source_repo") or row["file"]) for row in reader]


def _label(name: str, where) -> str:
    """The emotion a folder name or a CSV label stands for; ValueError naming where it was found."""
    try:
        return normalize_label(name)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def labelled_records(items: Sequence[LabelledGif], db: Optional[str | Path] = None, tag: bool = True, workers: int = 1,
                     options: Optional[TagOptions] = None, runtime=None, progress: bool = True
                     ) -> list[Optional[GifRecord]]:
    """The corpus record of every item as the current decision decides it: items tagged with these options (their
    streams run only where the corpus has no record of them with these options and models). With `tag` False no
    stream runs: the corpus's Evidence is used whatever options made it, and re-decided where another decision
    made the record."""
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(db) if db else Path(scratch) / "evaluate.db"
        if tag:
            tag_paths([item.path for item in items], db, workers=workers, options=options, runtime=runtime,
                      progress=progress)
        decider = Decider(runtime or Runtime())
        with Corpus(db) as corpus:
            records = [corpus.get(sha256_of(item.path)) if item.path.is_file() else None for item in items]
            redecided = {r.sha256: decider.redecide(r) for r in records if r and not decider.is_current(r)}
            corpus.put_many(list(redecided.values()))
            return [redecided.get(r.sha256, r) if r else None for r in records]


def _answer(said: Optional[Evidence | Decided]) -> tuple[str, float]:
    """(emotion or NONE, confidence) of a stream's Evidence or of a decision."""
    if said is None or said.emotion is None:
        return NONE, 0.0
    return said.emotion, said.confidence


def mean_over_frames(face: Optional[Evidence]) -> Optional[Evidence]:
    """The face stream's Evidence as a plain mean over frames would have said it (the stream declares no
    confidence for the mean: its top score stands in)."""
    mean = face.details.get("scores_mean") if face else None
    return replace(face, scores=dict(mean), confidence=max(mean.values())) if mean else None


def ablation(records: Sequence[Optional[GifRecord]], models: Sequence) -> dict[str, list[tuple[str, float]]]:
    """(prediction, confidence) of each variant, computed from the stored Evidence; `models`: the decision each
    record is scored with (the shipped one, or held-out fold models); "calibrated" is the stream as that
    decision reads it (its calibration, where it has one for the stream)."""
    rule = RuleDecision()
    calibrated = [name for name in STREAM_NAMES if any(name in getattr(m, "calibration", {}) for m in models)]
    fitted_any = any(isinstance(m, FittedDecision) for m in models)
    variants: dict[str, list[tuple[str, float]]] = {}
    for record, decision in zip(records, models):
        raw = [raw_evidence(e) for e in record.evidence] if record and not record.error else []
        by_stream = {e.stream: e for e in raw}
        calibrations = getattr(decision, "calibration", {})
        row = {}
        for name in STREAM_NAMES:
            said = by_stream.get(name)
            row[f"{name} alone"] = _answer(said)
            if name in calibrated:
                row[f"{name} alone, calibrated"] = _answer(calibrations[name].apply(said)
                                                           if said and name in calibrations else said)
        row["face, mean over frames"] = _answer(mean_over_frames(by_stream.get("face")))
        row["rule decision (uncalibrated)"] = _answer(rule.decide(raw))
        row["fitted decision"] = _answer(decision.decide(raw))
        if fitted_any:   # the same answers; the confidence as the class-weighted fit says it
            uncorrected = (replace(decision, prior_correction=np.zeros(len(EMOTIONS)))
                           if isinstance(decision, FittedDecision) else decision)
            row["fitted, confidence not prior-corrected"] = _answer(uncorrected.decide(raw))
        for name, answer in row.items():
            variants.setdefault(name, []).append(answer)
    return {name: answers for name, answers in variants.items() if any(p != NONE for p, _ in answers)}


def report(items: Sequence[LabelledGif], records: Sequence[Optional[GifRecord]], dataset: str,
           decided: Optional[Sequence[Decided]] = None, models: Optional[Sequence] = None) -> dict:
    """Everything evaluate prints; `decided` replaces the stored decisions (e.g. cross-validated ones) and
    `models` the shipped decision in the ablation (one per record: e.g. the held-out fold models)."""
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
        "ablation": {name: _summary(classification(truth, [p for p, _ in answers]))
                     | {"ece": calibration(truth, *zip(*answers))["ece"]}
                     for name, answers in ablation(records, models or [shipped] * len(records)).items()},
        "by_content": _by_content(items, truth, predicted),
        "fitted_on": 0 if models else _fitted_on(records, shipped),
        "items": [{"path": str(item.path), "label": item.label, "content": item.content, "predicted": p,
                   "confidence": c, "source": s, "error": r.error if r else _missing(item.path)}
                  for item, p, c, s, r in zip(items, predicted, confidence, sources, records)],
    })
    return result


def _missing(path: Path) -> str:
    return f"{path}: {'not tagged in the corpus' if path.is_file() else 'no such file'}"


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
    records = labelled_records(items, db, tag, workers, options, runtime, progress)
    return report(items, records, str(dataset))


def format_report(report: dict) -> str:
    cal = report["calibration"]
    lines = [f"{count(report['n'], 'file')} from {report['dataset']}",
             f"accuracy {report['accuracy']:.3f}   macro-F1 {report['macro_f1']:.3f}   "
             f"ECE {cal['ece']:.3f}" if cal["ece"] is not None else f"accuracy {report['accuracy']:.3f}",
             f"always '{report['baseline_majority']['emotion']}': {report['baseline_majority']['accuracy']:.3f}",
             "decided by: " + ", ".join(f"{k} {v}" for k, v in report["coverage_by_source"].items())]
    if report["fitted_on"]:
        lines.append(f"NOTE: the decision was fitted on {report['fitted_on']} of these GIFs: not a held-out figure "
                     "(`gifemo train decision` reports cross-validated ones)")
    lines += ["", f"{'variant':38s} {'accuracy':>8s} {'macro-F1':>8s} {'ECE':>6s} {'answered':>8s}"]
    for name, m in report["ablation"].items():
        ece = f"{m['ece']:6.3f}" if m["ece"] is not None else f"{'':6s}"
        lines.append(f"{name:38s} {m['accuracy']:8.3f} {m['macro_f1']:8.3f} {ece} {m['coverage']:8.2f}")
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
    failed = failures(report)
    if failed:
        lines += ["", f"{count(len(failed), 'file')} could not be tagged (counted as no answer):"]
        lines += [failure_line(error) for error in failed]
    return "\n".join(lines)


def failures(report: dict) -> list[str]:
    """The error of each file of the report that could not be tagged (it names the file)."""
    return [item["error"] for item in report["items"] if item["error"]]


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
    return replace(record, evidence=sorted(evidence, key=lambda e: stream_rank(e["stream"])))


def train_decision(datasets: Sequence[str | Path], db: str | Path, out: str | Path, workers: int = 1,
                   options: Optional[TagOptions] = None, runtime=None, progress: bool = True,
                   face_evidence: Optional[str | Path] = None, tag: bool = True) -> dict:
    """Tag the labelled sets into `db` (reusing what is there), fit the decision on their stored Evidence and
    write it into the folder `out`; returns the cross-validated report (grouped by source collection; its ablation
    too: each GIF is scored by the decision fitted without its fold) it stores beside it.
    `tag=False` runs no stream: the Evidence in the corpus is fitted on whatever options made it.

    With `face_evidence` (out-of-fold face Evidence, `gifemo train face-gif`), that replaces the face stream's
    stored Evidence and its folds are the cross-validation's: a face model fine-tuned on these GIFs would
    otherwise look better to the decision than it is on new GIFs."""
    from .decision import DECISION_WEIGHTS, fit_all, held_out_models

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
    labels = [item.label for item, _ in usable]
    models = held_out_models(rows, labels, [item.group for item, _ in usable], fold_of=fold_of)
    cv = report([item for item, _ in usable], [record for _, record in usable], " + ".join(map(str, datasets)),
                decided=[model.decide(row) for model, row in zip(models, rows)], models=models)
    decision = fit_all(rows, labels)
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
