"""Fused accuracy with and without the caption stream, through the fitted GIF decision (5-fold CV grouped by
source collection), read from one corpus tagged with every stream: the caption Evidence is dropped from the
stored records for the "without" variant, so nothing is tagged twice.

    gifemo train decision --data ../shared/data/gifs_train --data ../shared/data/gifs_dev --db labelled.db \\
        --out /tmp/decision --actions off
    .venv/bin/python bench/caption_ablation.py --db labelled.db

Writes bench/results/caption_ablation.json.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

from common import write_results
from gifemo.decision import fit_decision, raw_evidence
from gifemo.evaluate import labelled_records, load_dataset, report

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="corpus with the labelled GIFs tagged by every stream")
    parser.add_argument("--data", default=str(SHARED / "data"))
    args = parser.parse_args()
    train = Path(args.data) / "gifs_train"
    items = [item for name in ("gifs_train", "gifs_dev") for item in load_dataset(Path(args.data) / name)]
    records = labelled_records(items, args.db, tag=False)
    usable = [(item, record) for item, record in zip(items, records) if record is not None and not record.error]
    captioned = {str(train / row["file"]) for row in csv.DictReader(open(train / "manifest.csv", newline=""))
                 if row["caption"] == "yes"}
    results = {}
    for name, streams_dropped in (("with caption", ()), ("without caption", ("caption",))):
        rows = [[e for e in map(raw_evidence, record.evidence) if e.stream not in streams_dropped]
                for _, record in usable]
        _, held_out = fit_decision(rows, [item.label for item, _ in usable], [item.group for item, _ in usable])
        cv = report([item for item, _ in usable], [record for _, record in usable], name, decided=held_out)
        on_captioned = [(item, d) for (item, _), d in zip(usable, held_out) if str(item.path) in captioned]
        results[name] = {
            "all": {k: cv[k] for k in ("n", "accuracy", "macro_f1", "coverage")} | {"ece": cv["calibration"]["ece"]},
            "gifs_train caption=yes": {"n": len(on_captioned),
                                       "answered": sum(bool(d.emotion) for _, d in on_captioned),
                                       "right": sum(d.emotion == item.label for item, d in on_captioned)}}
        print(f"{name:16s} all {cv['n']} GIFs: accuracy {cv['accuracy']:.3f}, macro-F1 {cv['macro_f1']:.3f}, "
              f"answered {cv['coverage']:.2f}; captioned gifs_train: "
              f"{results[name]['gifs_train caption=yes']['right']}/{len(on_captioned)} right")
    write_results(ROOT / "bench/results/caption_ablation.json", results)


if __name__ == "__main__":
    main()
