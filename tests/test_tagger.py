"""Bulk tagging end to end on real GIFs: records, JSONL, bad files, incremental reruns, kill -9."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from gifemo.corpus import Corpus
from gifemo.emotions import EMOTIONS
from gifemo.tagger import TagOptions, tag_paths

FACE_GIFS = ["Happiness/f178bf0e170d.gif", "Surprise/76f7e3eda3df.gif", "Sadness/e81d92a72e62.gif"]


@pytest.fixture(scope="module")
def folder(gifs_dev, tmp_path_factory):
    root = tmp_path_factory.mktemp("gifs")
    for name in FACE_GIFS:
        (root / "ok").mkdir(exist_ok=True)
        shutil.copy(gifs_dev / name, root / "ok" / name.replace("/", "-"))
    (root / "bad").mkdir()
    (root / "bad" / "text.gif").write_text("not a gif at all")
    data = (gifs_dev / FACE_GIFS[0]).read_bytes()
    (root / "bad" / "header-only.gif").write_bytes(data[:800])
    return root


def fast_options():
    return TagOptions(num_frames=4, run={"action": "off"})


def test_tag_folder_records_and_jsonl(folder, tmp_path, runtime):
    db, jsonl = tmp_path / "c.db", tmp_path / "new folder" / "tags.jsonl"   # made, as the corpus's folder is
    summary = tag_paths([folder], db, jsonl=jsonl, options=fast_options(), runtime=runtime, progress=False)
    assert (summary.files, summary.tagged, summary.failed) == (5, 3, 2)
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(lines) == 5
    for line in lines:
        assert {"path", "sha256", "emotion", "scores", "source", "error"} <= set(line)
    bad = {os.path.basename(l["path"]): l["error"] for l in lines if l["error"]}
    assert set(bad) == {"text.gif", "header-only.gif"}
    assert "text.gif" in bad["text.gif"] and "not a GIF or a readable video" in bad["text.gif"]
    assert "no complete frame" in bad["header-only.gif"]
    good = [l for l in lines if not l["error"]]
    for line in good:
        assert line["source"] == "face" and line["emotion"] in EMOTIONS
        assert sum(line["scores"].values()) == pytest.approx(1.0, abs=1e-3)
        face = next(e for e in line["evidence"] if e["stream"] == "face")
        assert face["details"]["frames_with_face"] >= 1 and len(face["details"]["timeline"]) == 4
        assert line["reason"] and line["confidence"] > 0
    # a rerun skips everything that is current, and still lists every file
    again = tag_paths([folder], db, jsonl=jsonl, options=fast_options(), runtime=runtime, progress=False)
    assert (again.skipped, again.tagged) == (5, 0)
    assert len(jsonl.read_text().splitlines()) == 5


def test_cli_reports_each_failed_file_once_in_one_line_and_exits_1(folder, tmp_path, models_dir):
    bad = folder / "bad"
    run = subprocess.run([sys.executable, "-m", "gifemo", "tag", str(bad), "--db", str(tmp_path / "c.db"),
                          "--actions", "off", "--frames", "2", "--models-dir", str(models_dir)],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "2 failed" in run.stdout
    reported = [line for line in run.stdout.splitlines() if line.startswith("FAILED")]
    assert sorted(reported) == [f"FAILED {bad / 'header-only.gif'}: GIF has no complete frame (file is truncated)",
                                f"FAILED {bad / 'text.gif'}: not a GIF or a readable video (End of file)"]
    # the progress bar's line, as the run meets the failure, is the summary's
    assert reported[0] in run.stderr or reported[1] in run.stderr
    quiet = subprocess.run([sys.executable, "-m", "gifemo", "tag", str(bad), "--db", str(tmp_path / "q.db"), "-q",
                            "--actions", "off", "--frames", "2", "--models-dir", str(models_dir)],
                           capture_output=True, text=True)
    assert quiet.returncode == 1 and "FAILED" not in quiet.stderr   # -q: listed once, in the summary
    show = subprocess.run([sys.executable, "-m", "gifemo", "show", str(bad / "header-only.gif"),
                           "--db", str(tmp_path / "c.db"), "--actions", "off", "--frames", "2", "--models-dir", str(models_dir)],
                          capture_output=True, text=True)
    assert show.returncode == 1 and show.stdout.strip() in reported


def test_missing_model_stops_the_run_instead_of_failing_every_file(folder, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "GIFEMO_MODELS_DIR"}
    env.update(GIFEMO_OFFLINE="1", GIFEMO_CACHE_DIR=str(tmp_path / "cache"))
    db = tmp_path / "c.db"
    run = subprocess.run([sys.executable, "-m", "gifemo", "tag", str(folder / "ok"), "--db", str(db),
                          "--actions", "off", "--frames", "2", "-q"], capture_output=True, text=True, env=env)
    assert run.returncode == 1
    assert "error:" in run.stderr and "face_landmarker.task" in run.stderr and "GIFEMO_MODELS_DIR" in run.stderr
    assert run.stderr.count("was not found") == 1  # said once, not once per GIF
    with Corpus(db) as corpus:  # no file was marked as failed for it, so a rerun with the model tags them all
        assert len(corpus) == 0


def test_kill_minus_nine_loses_nothing(gifs_dev, tmp_path, models_dir):
    files = sorted(gifs_dev.glob("*/*.gif"))[:8]
    db = tmp_path / "c.db"
    cmd = [sys.executable, "-m", "gifemo", "tag", *map(str, files), "--db", str(db), "--actions", "off",
           "--frames", "2", "-q", "--models-dir", str(models_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                done = sqlite3.connect(db).execute("SELECT COUNT(*) FROM gifs").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            if done >= 2:
                break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert done >= 2, "tagging did not get going"
    with Corpus(db) as corpus:
        before = {r.sha256: r.tagged_at for r in corpus.records()}
    assert len(before) >= 2
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(before)} already up to date" in rerun.stdout
    with Corpus(db) as corpus:
        after = {r.sha256: r.tagged_at for r in corpus.records()}
    assert len(after) == len({p.read_bytes() for p in files})   # every file once, no duplicates
    assert all(after[sha] == t for sha, t in before.items())    # nothing done before was redone


def test_parallel_workers_give_the_same_tags(gifs_dev, tmp_path, runtime):
    files = [gifs_dev / name for name in FACE_GIFS]
    one = tag_paths(files, tmp_path / "one.db", options=fast_options(), runtime=runtime, progress=False)
    two = tag_paths(files, tmp_path / "two.db", options=fast_options(), runtime=runtime, progress=False,
                    workers=2)
    assert one.tagged == two.tagged == 3
    with Corpus(tmp_path / "one.db") as a, Corpus(tmp_path / "two.db") as b:
        for record in a.records():
            other = b.get(record.sha256)
            assert other.emotion == record.emotion
            assert other.scores == pytest.approx(record.scores, abs=1e-4)


def test_summary_names_a_damaged_file_tagged_from_its_good_frames(gifs_dev, tmp_path, runtime):
    half = tmp_path / "half.gif"
    half.write_bytes((gifs_dev / FACE_GIFS[0]).read_bytes()[:200_000])
    summary = tag_paths([half], tmp_path / "c.db", options=fast_options(), runtime=runtime, progress=False)
    assert (summary.tagged, summary.failed) == (1, 0)
    warned = [line for line in summary.text().splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and warned[0].startswith(f"warning: {half}: file is truncated; using the ")


def test_copies_of_one_content_are_tagged_once_and_each_listed(gifs_dev, tmp_path, runtime):
    for name in ("a.gif", "b.gif", "c.gif"):
        shutil.copy(gifs_dev / FACE_GIFS[0], tmp_path / name)
    jsonl = tmp_path / "tags.jsonl"
    summary = tag_paths([tmp_path], tmp_path / "c.db", jsonl=jsonl, options=fast_options(), runtime=runtime,
                        progress=False)
    assert (summary.files, summary.tagged, summary.copies, summary.skipped, summary.failed) == (3, 1, 2, 0, 0)
    assert "2 files with the same content as another, tagged once" in summary.text()
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert sorted(os.path.basename(l["path"]) for l in lines) == ["a.gif", "b.gif", "c.gif"]
    assert len({(l["sha256"], l["emotion"], l["tagged_at"]) for l in lines}) == 1   # one tagging, three files


def test_copies_of_a_broken_file_each_fail_under_their_own_name(folder, tmp_path, runtime):
    broken = (folder / "bad" / "header-only.gif").read_bytes()
    for name in ("first.gif", "second.gif"):
        (tmp_path / name).write_bytes(broken)
    summary = tag_paths([tmp_path], tmp_path / "c.db", options=fast_options(), runtime=runtime, progress=False)
    assert (summary.failed, summary.copies) == (2, 1)
    reported = [line for line in summary.text().splitlines() if line.startswith("FAILED")]
    assert sorted(reported) == [f"FAILED {tmp_path / name}: GIF has no complete frame (file is truncated)"
                                for name in ("first.gif", "second.gif")]
    # the same content met again later under a third name: reported (from the corpus) under that name
    later = tmp_path / "later"
    later.mkdir()
    (later / "third.gif").write_bytes(broken)
    again = tag_paths([later], tmp_path / "c.db", options=fast_options(), runtime=runtime, progress=False)
    assert (again.skipped, again.failed) == (1, 1)
    assert f"FAILED {later / 'third.gif'}: GIF has no complete frame" in again.text()
