"""The camera page's time from photo to emoji on this machine (p50, p90), two ways:

    .venv/bin/python bench/bench_camera.py [--gifs ../shared/data/gifs_dev] [--photos 12]

  * `read_photo`: the page's analysis alone (JPEG decode, face detection + landmarks, CNN, drawing), warm models,
    with one torch thread (as the page runs it) and with one per core;
  * the whole page: Streamlit's AppTest sets the camera photo and reruns the Camera page until the emoji is there
    (the same script the browser runs, without the network and the browser's painting).
Photos: the middle frame of each live-action GIF of the development set, on a 640x480 canvas as a webcam
gives it, JPEG-encoded. Writes bench/results/camera.json; runs in about a minute.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from common import write_results
from gifemo.camera import read_photo
from gifemo.config import Runtime
from gifemo.facs import FaceStream
from gifemo.media import read_clip

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
APP = ROOT / "app" / "streamlit_app.py"
LIVE_ACTION = "pop/gif_collection"


def webcam_photos(gifs: Path, count: int) -> list[bytes]:
    """JPEG photos, 640x480, each with one GIF's middle frame centred (scaled to 400 px wide)."""
    with open(gifs / "manifest.csv", newline="") as handle:
        files = [row["file"] for row in csv.DictReader(handle) if row["source_repo"] == LIVE_ACTION][:count]
    photos = []
    for name in files:
        frame = Image.fromarray(read_clip(gifs / name, num_frames=1).frames[0])
        frame = frame.resize((400, round(400 * frame.height / frame.width)))
        canvas = Image.new("RGB", (640, 480), (70, 90, 110))
        canvas.paste(frame, ((640 - frame.width) // 2, max(0, (480 - frame.height) // 2)))
        buffer = io.BytesIO()
        canvas.save(buffer, format="JPEG", quality=90)
        photos.append(buffer.getvalue())
    return photos


def percentiles(seconds: list[float]) -> dict:
    return {"p50_ms": round(1000 * float(np.percentile(seconds, 50)), 1),
            "p90_ms": round(1000 * float(np.percentile(seconds, 90)), 1), "n": len(seconds)}


def bench_read_photo(photos: list[bytes], runtime: Runtime) -> tuple[dict, int]:
    with FaceStream(runtime=runtime) as stream:
        read_photo(photos[0], stream)   # warm-up: builds the still-image landmarker
        seconds, faces = [], 0
        for photo in photos:
            start = time.perf_counter()
            faces += len(read_photo(photo, stream).faces)
            seconds.append(time.perf_counter() - start)
    return percentiles(seconds), faces


def bench_page(photos: list[bytes]) -> dict:
    from streamlit.testing.v1 import AppTest

    os.environ["GIFEMO_DB"] = ""   # the camera reads faces without a corpus
    app = AppTest.from_file(str(APP), default_timeout=300)
    app.run()
    app.sidebar.radio[0].set_value("Camera").run()
    seconds = []
    for n, photo in enumerate([photos[0]] + photos):   # the first photo loads the models: not counted
        start = time.perf_counter()
        app.camera_input[0].set_value((f"photo{n}.jpg", photo, "image/jpeg")).run()
        if n:
            seconds.append(time.perf_counter() - start)
        assert not app.exception, app.exception
        assert any(" read in " in caption.value for caption in app.caption), "the page did not read the photo"
    return percentiles(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gifs", type=Path, default=SHARED / "data" / "gifs_dev")
    parser.add_argument("--photos", type=int, default=12)
    args = parser.parse_args()
    runtime = Runtime.from_env(models_dir=os.environ.get("GIFEMO_MODELS_DIR") or SHARED / "models")
    os.environ.setdefault("GIFEMO_MODELS_DIR", str(runtime.models_dir))
    photos = webcam_photos(args.gifs, args.photos)
    load_before = os.getloadavg()[0]
    every_core = runtime.torch_threads()
    all_threads, faces = bench_read_photo(photos, replace(runtime, threads=every_core))
    analysis, _ = bench_read_photo(photos, replace(runtime, threads=1))
    page = bench_page(photos)
    result = {"photos": len(photos), "faces_found": faces, "read_photo_1_thread": analysis,
              f"read_photo_{every_core}_threads": all_threads, "camera_page_apptest": page, "cpus": os.cpu_count(),
              "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    print(f"{len(photos)} photos, {faces} faces; load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}\n"
          f"  read_photo, 1 torch thread:         p50 {analysis['p50_ms']:.0f} ms, p90 {analysis['p90_ms']:.0f} ms\n"
          f"  read_photo, {every_core} torch threads:        p50 {all_threads['p50_ms']:.0f} ms, "
          f"p90 {all_threads['p90_ms']:.0f} ms\n"
          f"  Camera page (AppTest, photo to emoji): p50 {page['p50_ms']:.0f} ms, p90 {page['p90_ms']:.0f} ms")
    write_results(ROOT / "bench" / "results" / "camera.json", result)


if __name__ == "__main__":
    main()
