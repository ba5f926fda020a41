"""`gifemo evaluate`, `show`, `annotate` and the decoding-limit flags, run as a user would."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gifemo import media
from gifemo.corpus import Corpus
from gifemo.emotions import CONFIDENCE_MEANS, EMOTIONS, SCORES_MEAN

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
    assert "source:   face: happiness face in" in run.stdout and "top AUs:" in run.stdout
    # the confidence (the chance of being right) and the scores (rare emotions weighted up) say what they are
    verdict = next(line for line in run.stdout.splitlines() if line.startswith("emotion:"))
    assert "happiness" in verdict and verdict.endswith(f"({CONFIDENCE_MEANS})")
    assert f"scores:   {SCORES_MEAN}" in run.stdout
    assert "streams:" in run.stdout
    assert run.stdout.count("s 😁") + run.stdout.count("(no face)") >= 6   # one timeline row per sampled frame
    assert (tmp_path / "t.png").stat().st_size > 5000


def test_annotate_boxes_faces_on_every_frame(gifs_dev, tmp_path, models_dir):
    out = tmp_path / "a.gif"
    run = gifemo("annotate", str(gifs_dev / LAUGH), str(out), models_dir=models_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "annotating" in run.stderr and "frame" in run.stderr   # a progress bar (a long video takes minutes)
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


def labelled_csv(gifs_dev, tmp_path, files) -> str:
    csv_path = tmp_path / "set.csv"
    csv_path.write_text("file,label\n" + "".join(f"{path},{label}\n" for path, label in files))
    return str(csv_path)


def test_evaluate_reuses_the_corpus_train_decision_tagged(gifs_dev, tmp_path, models_dir):
    """The two commands share their tagging defaults, so evaluate --db scores train decision's records as they are."""
    files = (LAUGH, "Surprise/76f7e3eda3df.gif", "Sadness/e81d92a72e62.gif")
    dataset = labelled_csv(gifs_dev, tmp_path, [(gifs_dev / f, f.split("/")[0].lower()) for f in files])
    db = tmp_path / "c.db"
    fit = gifemo("train", "decision", "--data", dataset, "--db", str(db), "--out", str(tmp_path / "fit"),
                 "--frames", "2", "-q", models_dir=models_dir)
    assert fit.returncode == 0, fit.stderr[-2000:]
    with Corpus(db) as corpus:
        tagged = {r.sha256: r.tagged_at for r in corpus.records()}
    run = gifemo("evaluate", dataset, "--db", str(db), "--json", str(tmp_path / "r.json"), "--frames", "2", "-q",
                 models_dir=models_dir)
    assert run.returncode == 0, run.stderr[-2000:]
    with Corpus(db) as corpus:
        assert {r.sha256: r.tagged_at for r in corpus.records()} == tagged and len(tagged) == 3   # none tagged again


def test_evaluate_lists_the_files_it_could_not_tag_and_exits_1(gifs_dev, tmp_path, models_dir):
    cut = tmp_path / "cut.gif"
    cut.write_bytes((gifs_dev / LAUGH).read_bytes()[:800])
    missing = tmp_path / "absent.gif"
    dataset = labelled_csv(gifs_dev, tmp_path, [(gifs_dev / LAUGH, "happiness"), (cut, "sadness"), (missing, "fear")])
    run = gifemo("evaluate", dataset, "--json", str(tmp_path / "r.json"), "--frames", "2", "--actions", "off", "-q",
                 models_dir=models_dir)
    assert run.returncode == 1, run.stderr[-2000:]
    assert json.loads((tmp_path / "r.json").read_text())["n"] == 3        # the report is written all the same
    assert f"FAILED {cut}: GIF has no complete frame (file is truncated)" in run.stdout.splitlines()
    assert f"FAILED {missing}: no such file" in run.stdout.splitlines()


def test_show_says_why_it_draws_no_timeline_for_a_drawn_face(gifs_dev, tmp_path, models_dir):
    picture = tmp_path / "t.png"
    run = gifemo("show", str(gifs_dev / "Anger/59048b06e7b1.gif"), "--plot", str(picture), "--frames", "4",
                 "--actions", "off", models_dir=models_dir)   # a drawn robot face: the photo-face model sees none
    assert run.returncode == 0, run.stderr[-2000:]
    assert "source:   drawn:" in run.stdout and "timeline:" not in run.stdout
    assert run.stdout.rstrip().endswith(f"no timeline picture ({picture}): no photographed face in the sampled "
                                        "frames to draw")
    assert not picture.exists()
