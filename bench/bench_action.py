"""Seconds per GIF for the action stream on 2 CPU cores: RGB only, and two-stream with each flow method.

Stages are timed separately (decode + resize/crop, flow, RGB I3D, flow I3D) and added up per mode.
The I3D weights are randomly initialised (the pretrained files are not on the bench machine): the
arithmetic, and so the time, is the same as with the real weights.

    .venv/bin/python bench/bench_action.py [GIF ...]
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import cv2
import torch

from gifemo.action import InceptionI3d, preprocess
from gifemo.action.flow import FLOW_METHODS, clip_flow

THREADS = 2
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEFAULT_GIFS = [SHARED / "data" / "samples" / "cricket_shot.gif",      # real Kinetics clip, 25 fps
                SHARED / "data" / "gifs_dev" / "Anger" / "34730de13fe2.gif"]  # reaction GIF, 10 fps
RESULTS = ROOT / "bench" / "results"


def timed(fn, *args, **kwargs):
    """(result, wall seconds, CPU seconds of this process). On a shared machine the CPU time is the
    steadier figure: wall time also counts waiting for cores that other jobs hold."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def bench_gif(path: Path, rgb_model: InceptionI3d, flow_model: InceptionI3d) -> dict:
    """Stage times and totals per mode, each as {"wall": s, "cpu": s}."""
    stages: dict[str, dict] = {}

    def stage(name, fn, *args, **kwargs):
        result, wall, cpu = timed(fn, *args, **kwargs)
        stages[name] = {"wall": wall, "cpu": cpu}
        return result

    frames, indices = stage("decode_crop", preprocess.load_frames, path)
    for method in FLOW_METHODS:
        flow = stage(f"flow_{method}", clip_flow, frames, indices, method, progress=True)
    with torch.inference_mode():  # I3D's cost does not depend on which method made the flow
        stage("rgb_i3d", rgb_model, preprocess.rgb_input(frames))
        stage("flow_i3d", flow_model, preprocess.model_input(flow))

    def total(*names):
        return {clock: sum(stages[n][clock] for n in names) for clock in ("wall", "cpu")}

    modes = {"rgb_only": total("decode_crop", "rgb_i3d")}
    for method in FLOW_METHODS:
        modes[f"two_stream_{method}"] = total("decode_crop", "rgb_i3d", f"flow_{method}", "flow_i3d")
    moving_pairs = {(a, b) for a, b in zip(indices, indices[1:]) if a != b}  # what flow is computed for
    return {"gif": path.name, "frames": len(frames), "distinct_pairs": len(moving_pairs),
            "stages": stages, "seconds_per_gif": modes}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(rows[0]["seconds_per_gif"])
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(rows)
    for i, row in enumerate(rows):
        ax.bar([m + i * width for m in range(len(modes))], [row["seconds_per_gif"][m]["wall"] for m in modes], width,
               label=f"{row['gif']} ({row['frames']} frames)")
    ax.set_xticks([m + width * (len(rows) - 1) / 2 for m in range(len(modes))], [m.replace("_", " ") for m in modes])
    ax.set_ylabel(f"wall seconds per GIF ({THREADS} threads)")
    ax.set_title("gifemo action stream: cost per GIF")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str]) -> int:
    gifs = [Path(a) for a in argv] or DEFAULT_GIFS
    torch.set_num_threads(THREADS)
    cv2.setNumThreads(THREADS)
    torch.manual_seed(0)
    rgb_model, flow_model = InceptionI3d(in_channels=3).eval(), InceptionI3d(in_channels=2).eval()
    load_before = os.getloadavg()[0]
    rows = [bench_gif(path, rgb_model, flow_model) for path in gifs]
    stage_names = list(rows[0]["stages"])
    print(f"\nstage seconds, wall / CPU ({THREADS} threads)")
    print(f"{'gif':24s} {'frames':>6s} {'pairs':>5s} " + " ".join(f"{n:>13s}" for n in stage_names))
    for r in rows:
        print(f"{r['gif']:24s} {r['frames']:6d} {r['distinct_pairs']:5d} "
              + " ".join(f"{s['wall']:6.1f}/{s['cpu']:6.1f}" for s in r["stages"].values()))
    print("\nseconds per GIF, wall / CPU")
    print(f"{'gif':24s} " + " ".join(f"{m:>19s}" for m in rows[0]["seconds_per_gif"]))
    for r in rows:
        print(f"{r['gif']:24s} " + " ".join(f"{t['wall']:9.1f}/{t['cpu']:9.1f}" for t in r["seconds_per_gif"].values()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"threads": THREADS, "weights": "random init (same compute as the pretrained weights)",
              "load_average_1min": [load_before, os.getloadavg()[0]], "torch": torch.__version__,
              "opencv": cv2.__version__, "gifs": rows}
    (RESULTS / "action.json").write_text(json.dumps(result, indent=2))
    plot(rows, RESULTS / "action.png")
    print(f"\nwrote {RESULTS / 'action.json'} and action.png (1-min load average {load_before:.1f} at start: "
          "other jobs on the machine slow every figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
