"""What a new fitted decision costs a corpus: tagging GIFs against re-deciding their stored Evidence.

    python bench/bench_redecide.py [--gifs 24] [--json bench/results/redecide.json]

Tags the first N GIFs of ../shared/data/gifs_dev into a fresh corpus with the default options (workers 1), then
marks every record as decided by another decision and runs the same `tag_paths` again: it re-decides them from
their stored Evidence. Prints both runs' seconds per GIF (whole runs: model loading, hashing, corpus writes).
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

from gifemo.config import Runtime
from gifemo.tagger import TagOptions, tag_paths

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gifs", type=int, default=24)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    gifs = sorted((SHARED / "data" / "gifs_dev").glob("*/*.gif"))[:args.gifs]
    if not gifs:
        print(f"bench_redecide: needs the GIFs of {SHARED / 'data' / 'gifs_dev'}", file=sys.stderr)
        return 1
    runtime = Runtime(models_dir=SHARED / "models", threads=1)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "c.db"
        tagged = tag_paths(gifs, db, options=TagOptions(), runtime=runtime, progress=False)
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE gifs SET decision_version = 'another decision'")
        redecided = tag_paths(gifs, db, options=TagOptions(), runtime=runtime, progress=False)
    result = {"gifs": len(gifs), "load_average": os.getloadavg()[0],
              "tag_s_per_gif": tagged.seconds / max(1, tagged.tagged),
              "redecide_s_per_gif": redecided.seconds / max(1, redecided.redecided),
              "tagged": tagged.tagged, "redecided": redecided.redecided}
    print(f"{result['tagged']} tagged: {result['tag_s_per_gif']:.3f} s/GIF; {result['redecided']} re-decided: "
          f"{result['redecide_s_per_gif'] * 1000:.1f} ms/GIF (load average {result['load_average']:.1f})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
