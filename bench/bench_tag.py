"""Tagging throughput: where a GIF's time goes, and frames/s of `gifemo tag` against a plain reference path.

    .venv/bin/python bench/bench_tag.py [--gifs ../shared/data/gifs_dev] [--frames 16]

Prints two tables and writes bench/results/tag.json:
  * profile: one in-process Tagger (1 thread) over every GIF, each stage's CPU seconds (of the process, all its
    threads: unlike wall-clock time, it hardly moves when other jobs load the machine; stages nest: the
    landmarker under the face stream is the face stream's share of it), ms per GIF and share of the total;
  * throughput: `tag_paths` with --workers 1 and 2 (model loading, hashing and corpus writes included), and the
    plain path beside it -- decode, MediaPipe (IMAGE mode, 1 face), align, one CNN member with one view --
    in the same worker pool, as analysed frames/s, GIFs/s and the ratio gifemo / plain, by the wall clock and
    per CPU-second (model loading included: what a machine with free cores would do, whatever the load).
The load average before and after is in the results: the machine may be shared.
"""
from __future__ import annotations

import argparse
import functools
import os
import platform
import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from common import write_results
from gifemo import tagger as tagger_module
from gifemo.config import Runtime
from gifemo.pool import WorkerPool
from gifemo.tagger import TagOptions, Tagger, tag_paths

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# (module, attribute path, stage name): every function timed in the profile. Nesting follows the call stack.
STAGES = (
    ("gifemo.tagger", "read_clip", "decode"),
    ("gifemo.facs.stream", "FaceStream.analyze", "face stream"),
    ("gifemo.drawn.stream", "DrawnStream.analyze", "drawn stream"),
    ("gifemo.caption.stream", "CaptionStream.analyze", "caption stream"),
    ("gifemo.facs.landmarks", "FaceLandmarker.detect", "landmarker"),
    ("gifemo.facs.stream", "align_face", "align crops"),
    ("gifemo.facs.stream", "FaceStream.cnn_probs", "expression CNN"),
    ("gifemo.facs.stream", "action_units", "AUs + rules"),
    ("gifemo.facs.stream", "rule_scores", "AUs + rules"),
    ("gifemo.facs.stream", "FaceStream.combine", "AUs + rules"),
    ("gifemo.drawn.stream", "clip_features", "photo-or-drawing check"),
    ("gifemo.drawn.stream", "choose_crop", "crops"),
    ("gifemo.drawn.stream", "cut", "crops"),
    ("gifemo.drawn.stream", "predict_proba", "drawn CNN"),
    ("gifemo.caption.stream", "letters", "text presence check"),
    ("gifemo.caption.ocr", "TextReader.read_frames", "OCR"),
    ("gifemo.caption.stream", "CaptionStream.text_model", "text model load"),
    ("gifemo.decision", "FittedDecision.decide", "decision"),
    ("gifemo.corpus", "Corpus.put", "corpus write"),
    ("gifemo.corpus", "JsonlWriter.write", "corpus write"),
)


class Profile:
    """Wraps the STAGES functions in place; seconds per nested stage path ("face stream/landmarker")."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.stack: list[str] = []
        self.undo: list = []

    def wrap(self, module_name: str, attribute: str, stage: str) -> None:
        import importlib

        owner = importlib.import_module(module_name)
        *parents, name = attribute.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            self.stack.append(stage)
            path = "/".join(self.stack)
            start = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[path] += time.process_time() - start
                self.stack.pop()

        setattr(owner, name, timed)
        self.undo.append((owner, name, original))

    def __enter__(self):
        for stage in STAGES:
            self.wrap(*stage)
        return self

    def __exit__(self, *exc):
        for owner, name, original in reversed(self.undo):
            setattr(owner, name, original)


def profile(gifs: list[Path], options: TagOptions, runtime: Runtime) -> dict:
    with Tagger(options, runtime) as tagger:
        tagger.tag_file(gifs[0])  # warm-up: first-frame graph set-up, lazy imports
    with Profile() as prof, tempfile.TemporaryDirectory() as tmp:
        start = time.process_time()
        tag_paths(gifs, Path(tmp) / "p.db", jsonl=Path(tmp) / "p.jsonl", workers=1, options=options,
                  runtime=runtime, progress=False)
        total = time.process_time() - start
    rows = [{"stage": path, "seconds": s, "ms_per_gif": 1000 * s / len(gifs), "share": s / total}
            for path, s in sorted(prof.seconds.items())]
    return {"total_seconds": total, "gifs": len(gifs), "rows": rows}


class PlainWorker:
    """The reference: decode, MediaPipe IMAGE mode (1 face), align, the first CNN member, one view."""

    def __init__(self, num_frames: int, runtime: Runtime):
        from gifemo import models
        from gifemo.facs.landmarks import FaceLandmarker
        from gifemo.facs.weights import load_expression

        torch.set_num_threads(runtime.torch_threads())
        self.num_frames = num_frames
        self.landmarker = FaceLandmarker(1, 0.5, runtime=runtime)
        self.cnn = load_expression(models.resolve("face-expression", runtime)).members[0].eval()

    def __call__(self, path: str) -> int:
        from gifemo.facs.align import align_face
        from gifemo.media import read_clip

        clip = read_clip(path, num_frames=self.num_frames)
        crops = [align_face(frame, face) for frame in clip.frames for face in self.landmarker.detect(frame)]
        if crops:
            with torch.no_grad():
                self.cnn(torch.from_numpy(np.stack(crops)).unsqueeze(1).float().div(255)[..., 2:46, 2:46]).softmax(1)
        return len(clip.frames)

    def close(self) -> None:
        self.landmarker.close()


def plain_run(gifs: list[Path], workers: int, num_frames: int, runtime: Runtime) -> int:
    shared = Runtime(models_dir=runtime.models_dir, threads=max(1, (os.cpu_count() or 1) // workers))
    pool = WorkerPool(workers, functools.partial(PlainWorker, num_frames, shared))
    return sum(outcome.result for outcome in pool.run([str(g) for g in gifs]))


def cpu_seconds() -> float:
    """CPU time of this process and of its finished (joined) worker processes."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def timed(run) -> tuple[object, float, float]:
    """(result, wall seconds, CPU seconds) of run()."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = run()
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def throughput(gifs: list[Path], options: TagOptions, runtime: Runtime) -> list[dict]:
    """Wall-clock rates, and frames per CPU-second: on a loaded machine the wall clock measures the other jobs
    too, while CPU seconds (model loading included) give what N free cores would do, N x frames per CPU-second."""
    rows = []
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            summary, gifemo_s, gifemo_cpu = timed(lambda: tag_paths(
                gifs, Path(tmp) / "t.db", workers=workers, options=options, runtime=runtime, progress=False))
        frames, plain_s, plain_cpu = timed(lambda: plain_run(gifs, workers, options.num_frames, runtime))
        analysed = summary.tagged * options.num_frames
        rows.append({"workers": workers, "gifs": summary.tagged, "frames": analysed, "seconds": gifemo_s,
                     "frames_per_s": analysed / gifemo_s, "gifs_per_s": summary.tagged / gifemo_s,
                     "cpu_seconds": gifemo_cpu, "frames_per_cpu_s": analysed / gifemo_cpu,
                     "plain_seconds": plain_s, "plain_frames_per_s": frames / plain_s,
                     "plain_cpu_seconds": plain_cpu, "plain_frames_per_cpu_s": frames / plain_cpu,
                     "ratio": (analysed / gifemo_s) / (frames / plain_s),
                     "ratio_cpu": (analysed / gifemo_cpu) / (frames / plain_cpu), "load_avg_after": os.getloadavg()[0]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gifs", default=str(SHARED / "data/gifs_dev"))
    parser.add_argument("--models-dir", default=os.environ.get("GIFEMO_MODELS_DIR") or str(SHARED / "models"))
    parser.add_argument("--frames", type=int, default=16, help="frames sampled per GIF (gifemo tag's default)")
    parser.add_argument("--near-duplicate", type=float, default=0.0, help="as `gifemo tag --near-duplicate`")
    parser.add_argument("--skip", choices=("profile", "throughput"), help="leave one part out")
    args = parser.parse_args()

    gifs = sorted(Path(args.gifs).rglob("*.gif"))
    if not gifs:
        parser.error(f"no GIFs under {args.gifs}")
    options = TagOptions(num_frames=args.frames, near_duplicate=args.near_duplicate)
    results = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                           "load_avg_before": os.getloadavg()}, "gifs": len(gifs), "frames_per_gif": args.frames,
               "near_duplicate": args.near_duplicate}
    if args.skip != "profile":
        torch.set_num_threads(1)
        results["profile"] = profile(gifs, options, Runtime(models_dir=args.models_dir, threads=1))
        prof = results["profile"]
        print(f"profile: {prof['gifs']} GIFs x {args.frames} frames, 1 thread, {prof['total_seconds']:.1f} CPU s")
        print(f"  {'stage':48s} {'CPU s':>7s} {'ms/GIF':>7s} {'share':>6s}")
        for row in prof["rows"]:
            print(f"  {row['stage']:48s} {row['seconds']:7.2f} {row['ms_per_gif']:7.1f} {row['share']:6.1%}")
    if args.skip != "throughput":
        results["throughput"] = throughput(gifs, options, Runtime(models_dir=args.models_dir))
        print(f"throughput (load avg before {results['machine']['load_avg_before'][0]:.2f}):")
        for row in results["throughput"]:
            print(f"  --workers {row['workers']}: {row['frames_per_s']:6.1f} frames/s, {row['gifs_per_s']:5.2f} GIFs/s "
                  f"({row['seconds']:.1f} s; {row['frames_per_cpu_s']:.1f} frames per CPU s); plain MediaPipe + 1 CNN: "
                  f"{row['plain_frames_per_s']:6.1f} frames/s ({row['plain_frames_per_cpu_s']:.1f} per CPU s); "
                  f"ratio {row['ratio']:.2f} (CPU: {row['ratio_cpu']:.2f}); load avg after {row['load_avg_after']:.2f}")
    results["machine"]["load_avg_after"] = os.getloadavg()
    write_results(ROOT / "bench/results/tag.json", results)


if __name__ == "__main__":
    main()
