"""Face-stream speed on this machine, and face-detection coverage on the development GIFs.

    .venv/bin/python bench/bench_face.py [--gifs ../shared/data/gifs_dev] [--threads 2]

Prints tables and writes bench/results/face.json:
  * face stream frames/s (detection + landmarks + AUs + aligned CNN with the default test-time views), VIDEO vs IMAGE mode;
  * CNN images/s on 48x48 crops (batch 1 and 64, with 1, 2 and 10 test-time views);
  * detection coverage (GIFs / frames with a face) against detection confidence and upscaling.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from common import write_results
from gifemo.config import FaceOptions, Runtime
from gifemo.facs import FaceStream
from gifemo.facs.expression import TEST_VIEWS
from gifemo.facs.landmarks import FaceLandmarker
from gifemo.media import read_clip

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def bench_stream(clips, models_dir, threads: int) -> list[dict]:
    rows = []
    for video in (True, False):
        with FaceStream(FaceOptions(), Runtime(models_dir=models_dir, threads=threads)) as stream:
            stream.analyze_frames(clips[0].frames[:2], clips[0].times[:2], video=video)  # warm-up
            frames = faces = 0
            start = time.perf_counter()
            for clip in clips:
                result = stream.analyze_frames(clip.frames, clip.times, video=video)
                frames += len(result)
                faces += sum(len(f) for f in result)
            seconds = time.perf_counter() - start
        rows.append({"mode": "VIDEO" if video else "IMAGE", "frames": frames, "faces": faces,
                     "frames_per_s": frames / seconds, "faces_per_s": faces / seconds})
    return rows


def bench_cnn(models_dir, threads: int) -> list[dict]:
    rows = []
    for views in TEST_VIEWS:
        stream = FaceStream(FaceOptions(views=views), Runtime(models_dir=models_dir, threads=threads))
        for batch in (1, 64):
            crops = [np.random.default_rng(i).integers(0, 255, (48, 48), dtype=np.uint8) for i in range(batch)]
            stream.cnn_probs(crops)
            repeats = max(1, 256 // batch)
            start = time.perf_counter()
            for _ in range(repeats):
                stream.cnn_probs(crops)
            rows.append({"views": views, "members": len(stream.cnn.members), "batch": batch, "images_per_s": batch * repeats / (time.perf_counter() - start)})
    return rows


def bench_coverage(clips, models_dir) -> list[dict]:
    rows = []
    for confidence, min_side in ((0.5, 0), (0.5, 320), (0.3, 320), (0.3, 480), (0.2, 320)):
        with FaceLandmarker(4, confidence, min_side=min_side, runtime=Runtime(models_dir=models_dir)) as landmarker:
            found = [[bool(landmarker.detect(frame)) for frame in clip.frames] for clip in clips]
        rows.append({"min_detection_confidence": confidence, "upscale_short_side_to": min_side,
                     "gifs_with_face": sum(any(f) for f in found), "gifs": len(clips),
                     "frames_with_face": sum(map(sum, found)), "frames": sum(map(len, found))})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gifs", default=str(SHARED / "data/gifs_dev"))
    parser.add_argument("--models-dir", default=os.environ.get("GIFEMO_MODELS_DIR") or str(SHARED / "models"))
    parser.add_argument("--frames", type=int, default=8, help="frames sampled per GIF")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    gifs = sorted(Path(args.gifs).glob("*/*.gif"))
    clips = [read_clip(path, num_frames=args.frames) for path in gifs]
    results = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                           "torch_threads": args.threads, "load_avg_1min": os.getloadavg()[0]},
               "gifs": len(gifs), "frames_per_gif": args.frames,
               "stream": bench_stream(clips, args.models_dir, args.threads),
               "cnn": bench_cnn(args.models_dir, args.threads),
               "coverage": bench_coverage(clips, args.models_dir)}

    print(f"face stream on {len(gifs)} GIFs x {args.frames} frames (load avg {results['machine']['load_avg_1min']:.1f})")
    for row in results["stream"]:
        print(f"  {row['mode']:5s} mode: {row['frames_per_s']:6.1f} frames/s  ({row['faces']} faces, {row['faces_per_s']:.1f} faces/s)")
    print("expression CNN")
    for row in results["cnn"]:
        print(f"  {row['members']} member(s), {row['views']:2d} view(s), batch {row['batch']:3d}: "
              f"{row['images_per_s']:7.1f} images/s")
    print("detection coverage")
    for row in results["coverage"]:
        print(f"  confidence {row['min_detection_confidence']}, upscale to {row['upscale_short_side_to']:3d}: "
              f"{row['gifs_with_face']}/{row['gifs']} GIFs, {row['frames_with_face']}/{row['frames']} frames")
    write_results(ROOT / "bench/results/face.json", results)


if __name__ == "__main__":
    main()
