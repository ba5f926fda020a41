"""Caption-stream cost per GIF and what it answers, on the real GIFs of ../shared/data.

    .venv/bin/python bench/bench_caption.py [--threads 2] [--frames 16]

The clip is decoded first (the tagger decodes it once for every stream), so the time is the caption
stream's extra cost per GIF: presence check, OCR where text is likely, cleaning and the text model.
gifs_train's manifest says which GIFs carry words (`caption` yes/no); gifs_dev has no such column.
Prints tables and writes bench/results/caption.json (timings, and accuracy / coverage / false answers
against the manifests' emotion labels).
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from common import write_results
from gifemo.caption.clean import split_run_together
from gifemo.caption.stream import CaptionStream
from gifemo.config import CaptionOptions, Runtime
from gifemo.emotions import normalize_label
from gifemo.media import read_clip

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def run(stream: CaptionStream, sets: dict[str, Path], frames: int) -> list[dict]:
    rows = [(name, folder, row) for name, folder in sets.items()
            for row in csv.DictReader(open(folder / "manifest.csv", newline=""))]
    # Warm-up on a captioned GIF, and the word segmenter's counts (read on the first run-together word): loads
    # that a process pays once, not per GIF.
    stream.analyze(read_clip(next(f / r["file"] for _, f, r in rows if r.get("caption") == "yes"), num_frames=frames))
    split_run_together("warmup")
    out = []
    for name, folder, row in tqdm(rows, desc="caption", unit="gif"):
        clip = read_clip(folder / row["file"], num_frames=frames)
        start, cpu_start = time.perf_counter(), time.process_time()
        evidence = stream.analyze(clip)
        out.append({"set": name, "file": row["file"], "label": normalize_label(row["label"]),
                    "caption": row.get("caption", "unknown"), "seconds": time.perf_counter() - start,
                    # CPU seconds of all threads: what the GIF costs whatever else runs on the machine
                    "cpu_seconds": time.process_time() - cpu_start,
                    "evidence": evidence.to_dict()})
    return out


def timing(rows: list[dict]) -> dict:
    seconds = np.array([r["seconds"] for r in rows])
    cpu = np.array([r["cpu_seconds"] for r in rows])
    return {"gifs": len(rows), "median_s": float(np.median(seconds)), "p95_s": float(np.percentile(seconds, 95)),
            "max_s": float(seconds.max()), "cpu_median_s": float(np.median(cpu)),
            "cpu_p95_s": float(np.percentile(cpu, 95))}


def quality(rows: list[dict]) -> dict:
    answered = [r for r in rows if r["evidence"]["emotion"]]
    right = [r for r in answered if r["evidence"]["emotion"] == r["label"]]
    return {"gifs": len(rows), "with_text_read": sum(bool(r["evidence"]["details"].get("text")) for r in rows),
            "answered": len(answered), "right": len(right),
            "accuracy_where_answered": len(right) / len(answered) if answered else None,
            "mean_confidence_where_answered": float(np.mean([r["evidence"]["confidence"] for r in answered]))
            if answered else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "data"))
    parser.add_argument("--frames", type=int, default=16, help="frames decoded per GIF (the tagger's default)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sets = {name: Path(args.data) / name for name in ("gifs_train", "gifs_dev")}
    load_before = os.getloadavg()[0]
    stream = CaptionStream(CaptionOptions(), Runtime(threads=args.threads))
    rows = run(stream, sets, args.frames)
    groups = {"gifs_train caption=yes": [r for r in rows if r["caption"] == "yes"],
              "gifs_train caption=no": [r for r in rows if r["caption"] == "no"],
              "gifs_dev (not marked)": [r for r in rows if r["set"] == "gifs_dev"],
              "all": rows}
    results = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                           "threads": args.threads, "load_avg_1min_before": load_before,
                           "load_avg_1min_after": os.getloadavg()[0]},
               "frames_per_gif": args.frames, "options": CaptionOptions().__dict__,
               "timing": {name: timing(group) for name, group in groups.items()},
               "quality": {name: quality(group) for name, group in groups.items() if name != "all"},
               "gifs": [{k: r[k] for k in ("set", "file", "label", "caption", "seconds", "cpu_seconds")}
                        | {"emotion": r["evidence"]["emotion"], "confidence": r["evidence"]["confidence"],
                           "text": r["evidence"]["details"].get("text", "")} for r in rows]}

    print(f"caption stream, {args.threads} threads, load avg {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
          f" on {os.cpu_count()} cores")
    for name, row in results["timing"].items():
        print(f"  {name:24s} {row['gifs']:4d} GIFs  median {row['median_s']:.3f} s  p95 {row['p95_s']:.3f} s"
              f"  max {row['max_s']:.3f} s  (CPU median {row['cpu_median_s']:.3f} s, p95 {row['cpu_p95_s']:.3f} s)")
    for name, row in results["quality"].items():
        accuracy = "-" if row["accuracy_where_answered"] is None else f"{row['accuracy_where_answered']:.0%}"
        print(f"  {name:24s} text read in {row['with_text_read']}/{row['gifs']}, answered {row['answered']}, "
              f"right {row['right']} ({accuracy})")
    write_results(ROOT / "bench/results/caption.json", results)


if __name__ == "__main__":
    main()
