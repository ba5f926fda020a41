"""A small real corpus for the app tests: a few gifs_dev files, tagged and evaluated once per test run.

`gifemo.evaluate.evaluate` tags the files into the corpus and scores them, so one tagging pass gives
both the corpus the app suggests from and a real report for its evaluation page.
"""
from __future__ import annotations

import csv
from pathlib import Path

# Per label, how many files: every emotion present, a few GIFs to suggest, still quick to tag. Live-action
# clips (faces to read), and the one Neutral file, a robot face the face stream cannot read (source none).
PER_LABEL = {"Happiness": 2, "Sadness": 1, "Anger": 1, "Surprise": 2, "Fear": 1, "Disgust": 1, "Neutral": 1}
LIVE_ACTION = "pop/gif_collection"


def build_app_corpus(gifs_dev: Path, runtime, folder: Path) -> tuple[Path, Path]:
    """(corpus.db, report.json) in `folder`, built on first use and reused by later test modules."""
    db, report_json = folder / "corpus.db", folder / "report.json"
    if report_json.is_file():
        return db, report_json
    from gifemo.evaluate import evaluate, write_report

    folder.mkdir(parents=True, exist_ok=True)
    with open(gifs_dev / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    chosen = []
    for label, count in PER_LABEL.items():
        usable = [r for r in rows if r["label"] == label and (r["source_repo"] == LIVE_ACTION or label == "Neutral")]
        chosen += usable[:count]
    dataset = folder / "dataset.csv"
    with open(dataset, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        writer.writerows([str(gifs_dev / r["file"]), r["label"]] for r in chosen)
    report = evaluate(dataset, db=db, runtime=runtime, progress=False)
    write_report(report, report_json, folder / "confusion.png")
    return db, report_json
