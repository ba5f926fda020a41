"""`gifemo evaluate`, `show`, `annotate` and the decoding-limit flags, run as a user would."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gifemo import media
from gifemo.emotions import EMOTIONS

LAUGH = "Happiness/f178bf0e170d.gif"


def gifemo(*args, models_dir):
    return subprocess.run([sys.executable, "-m", "gifemo", *args, "--models-dir", str(models_dir)],
                          capture_output=True, text=True, timeout=600)


def test_evaluate_csv_subset_writes_report_and_picture(gifs_dev, tmp_path, models_dir):
    csv_path = tmp_path / "subset.csv"
    files = [LAUGH, "Surprise/76f7e3eda3df.gif", "Anger/59048b06e7b1.gif"]   # the last is a drawn robot face
    csv_path.write_text("file,label\n" + "".join(f"{gifs_dev / f},{f.split('/')[0].lower()}\n" for f in files))
    run = gifemo("evaluate", str(csv_path), "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "cm.png"),
                 "--frames", "4", "-q", models_dir=models_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["n"] == 3 and report["labels"] == list(EMOTIONS)
    assert np.array(report["confusion_matrix"]).shape == (7, 7)
    sources = {item["path"].rsplit("/", 2)[-2]: item["source"] for item in report["items"]}
    assert sources["Anger"] == "drawn"        # the robot face: the drawn-face stream reads it, not the photo model
    assert sources["Happiness"] == sources["Surprise"] == "face"
    answered = 3 - sum(report["abstained"].values())
    assert {"face alone", "face, mean over frames", "rule decision (uncalibrated)"} <= set(report["ablation"])
    assert "action alone" not in report["ablation"]   # no I3D weights here: it never answered
    assert report["calibration"]["answered"] == answered == 3 and 0 <= report["calibration"]["ece"] <= 1
    assert sum(report["confusion_matrix"][r][c] for r in range(7) for c in range(7)) == answered
    assert Image.open(tmp_path / "cm.png").size[0] > 300
    assert Image.open(tmp_path / "cm-reliability.png").size[0] > 300
    assert "macro-F1" in run.stdout


def test_show_prints_evidence_and_draws_timeline(gifs_dev, tmp_path, models_dir):
    run = gifemo("show", str(gifs_dev / LAUGH), "--plot", str(tmp_path / "t.png"), "--frames", "6",
                 models_dir=models_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "source: face" in run.stdout and "top AUs:" in run.stdout
    assert "streams:" in run.stdout and "happiness face in" in run.stdout
    assert run.stdout.count("s 😁") + run.stdout.count("(no face)") >= 6   # one timeline row per sampled frame
    assert (tmp_path / "t.png").stat().st_size > 5000


def test_annotate_boxes_faces_on_every_frame(gifs_dev, tmp_path, models_dir):
    out = tmp_path / "a.gif"
    run = gifemo("annotate", str(gifs_dev / LAUGH), str(out), models_dir=models_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    original, annotated = media.read_clip(gifs_dev / LAUGH), media.read_clip(out)
    assert len(annotated.frames) == len(original.frames)
    assert annotated.info.durations == pytest.approx(original.info.durations)
    changed = [np.mean(np.abs(a.astype(int) - o.astype(int)) > 40) for a, o in zip(annotated.frames, original.frames)]
    assert all(0.005 < c < 0.3 for c in changed)   # a box and a label, not a different picture


def test_limit_flags_reject_and_name_the_file(gifs_dev, tmp_path, models_dir):
    run = gifemo("tag", str(gifs_dev / LAUGH), "--db", str(tmp_path / "c.db"), "--max-frames", "5", "-q",
                 "--actions", "off", models_dir=models_dir)
    assert run.returncode == 1
    assert f"{gifs_dev / LAUGH}: GIF has more than 5 frames (limit)" in run.stdout
