"""Hostile inputs: odd entries, bombs, lying videos, dead workers, broken storage. No file stops a run;
every entry gets exactly one record; every failure is one line; memory stays bounded."""
import json
import os
import socket
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from gifemo import media
from gifemo.corpus import Corpus, GifRecord, JsonlWriter, StorageError
from gifemo.media import DecodeLimits, MediaError, MediaWarning
from gifmaker import (Frame, big_frames_gif, lie_in_avi_header, lzw_damaged_gif, make_gif, many_tiny_frames_gif,
                      solid, write_avi, write_growing_avi)

TESTS = Path(__file__).resolve().parent
NON_UTF8 = os.fsdecode(b"\xff bad name.gif")


def gifemo(*args, env=None, timeout=300):
    """Run the CLI of this checkout in a subprocess; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "gifemo", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, errors="backslashreplace")


def assert_one_line_errors(run):
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout
    assert " at 0x" not in run.stderr + run.stdout


def small_gif() -> bytes:
    return make_gif([Frame(solid(8, 8, 1)), Frame(solid(8, 8, 2))], 8, 8)


def hostile_folder(root: Path) -> dict[str, str]:
    """Every odd kind of entry a walk can meet; returns {name: what its record must say} ("" = tagged)."""
    root.mkdir()
    expect = {}

    def add(name, data=None, error=""):
        if data is not None:
            (root / name).write_bytes(data)
        expect[name] = error

    add("good.gif", small_gif())
    add(NON_UTF8, small_gif())
    add("no-extension", small_gif())
    add("empty.gif", b"", "file is empty")
    add("text.gif", b"hello\n" * 10, "not a GIF or a readable video")
    add("lzw-damaged.gif", lzw_damaged_gif())
    with open(root / "sparse.gif", "wb") as handle:   # 3 GB that take no disk: refused before hashing
        handle.truncate(3 << 30)
    add("sparse.gif", error="over the limit of")
    os.symlink("loop-b.gif", root / "loop-a.gif")
    os.symlink("loop-a.gif", root / "loop-b.gif")
    add("loop-a.gif", error="symbolic link loop")
    add("loop-b.gif", error="symbolic link loop")
    os.symlink("nowhere.gif", root / "dangling.gif")
    add("dangling.gif", error="dangling symbolic link")
    os.mkfifo(root / "fifo.gif")
    add("fifo.gif", error="a FIFO")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock.gif"))
    sock.close()
    add("sock.gif", error="a socket")
    (root / "sub").mkdir()
    os.symlink("sub", root / "folder-link")
    add("folder-link", error="link to a folder")
    (root / "sub" / "inner.gif").write_bytes(small_gif())
    expect["sub/inner.gif"] = ""
    (root / "notes.txt").write_text("not media, by name or content: ignored and counted")
    return expect


def test_walk_gives_every_odd_entry_one_record(tmp_path, models_dir):
    expect = hostile_folder(tmp_path / "in")
    db, jsonl = tmp_path / "c.db", tmp_path / "c.jsonl"
    run = gifemo("tag", tmp_path / "in", "--db", db, "--jsonl", jsonl, "--actions", "off", "--frames", "2", "-q",
                 "--models-dir", models_dir)
    assert run.returncode == 1, run.stderr          # some files failed, and the run finished
    assert_one_line_errors(run)
    lines = [json.loads(line) for line in jsonl.read_bytes().decode("utf-8").splitlines()]
    by_name = {}
    for line in lines:
        raw = bytes.fromhex(line["path_raw_hex"]) if "path_raw_hex" in line else os.fsencode(line["path"])
        by_name[os.fsdecode(raw)[len(str(tmp_path / "in")) + 1:]] = line
    assert sorted(by_name) == sorted(expect) and len(lines) == len(expect)   # one record per entry
    for name, error in expect.items():
        got = by_name[name]["error"]
        if error:
            assert got and error in got and "\n" not in got, (name, got)
        else:
            assert got is None, (name, got)
    assert by_name[NON_UTF8]["path"].endswith("\\xff bad name.gif")             # shown readably
    assert by_name["lzw-damaged.gif"]["frames"] == 2 and by_name["lzw-damaged.gif"]["warnings"]
    assert "1 other file ignored" in run.stdout
    with Corpus(db, readonly=True) as corpus:                                   # stored losslessly
        paths = {r.path for r in corpus.records()}
    assert str(tmp_path / "in" / NON_UTF8) in paths
    again = gifemo("tag", tmp_path / "in", "--db", db, "--actions", "off", "--frames", "2", "-q",
                   "--models-dir", models_dir)
    assert again.returncode == 1 and f"{len(expect)} files:" in again.stdout   # a rerun is not stopped either


def test_killed_worker_is_recorded_and_the_run_finishes(tmp_path, models_dir):
    from gifemo.config import Runtime
    from gifemo.tagger import TagOptions, tag_paths
    from hostile_worker import SelfKillingWorker

    names = ["a.gif", "kill-me.gif", "b.gif", "c.gif"]
    for k, name in enumerate(names):
        (tmp_path / name).write_bytes(make_gif([Frame(solid(8, 8, 1 + k % 3))] * (k + 1), 8, 8))
    summary = tag_paths([tmp_path / n for n in names], tmp_path / "c.db", workers=2, progress=False,
                        options=TagOptions(num_frames=2, run={"action": "off"}), runtime=Runtime(models_dir=models_dir),
                        worker=SelfKillingWorker)
    assert (summary.files, summary.tagged, summary.failed) == (4, 3, 1)
    error, = summary.failures
    assert error == f"{tmp_path / 'kill-me.gif'}: worker died: signal 9 (SIGKILL)"
    with Corpus(tmp_path / "c.db", readonly=True) as corpus:
        assert len(corpus) == 4


def test_show_fails_with_one_line_and_nonzero_exit(tmp_path, models_dir):
    fifo = tmp_path / "fifo.gif"
    os.mkfifo(fifo)
    run = gifemo("show", fifo, "--actions", "off", "--models-dir", models_dir, timeout=120)  # never hangs on it
    assert run.returncode == 1 and "not a regular file (a FIFO)" in run.stdout
    assert_one_line_errors(run)


# ------------------------------------------------------------------ bounded decoding
def peak_rss_mb(code: str) -> float:
    """Peak resident memory of a fresh Python running `code` (MB).

    Read from the process's own VmHWM: getrusage's ru_maxrss keeps the peak of the image it was exec'd from,
    i.e. of this (large) test process, across exec."""
    probe = code + ("\nprint([line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')][0])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=TESTS.parent, env={**os.environ, "PYTHONPATH": str(TESTS)})
    return int(out.stdout.split()[-1]) / 1024


def test_annotate_streams_a_many_frame_gif_in_bounded_memory(tmp_path, models_dir):
    src = tmp_path / "tiny-frames.gif"
    src.write_bytes(many_tiny_frames_gif(canvas=1000, frames=1500))   # 1000x1000 canvas, 1500 frames
    dst = tmp_path / "out.gif"
    peak = peak_rss_mb(f"from gifemo.annotate import annotate_gif\nfrom gifemo.config import Runtime\n"
                       f"annotate_gif({str(src)!r}, {str(dst)!r}, max_frames=60, "
                       f"runtime=Runtime(models_dir={str(models_dir)!r}))")
    out = media.probe(dst)   # Pillow merges identical neighbouring frames, so count time, not frames
    assert 1 < out.frame_count <= 60 and out.duration == pytest.approx(media.probe(src).duration, rel=0.05)
    assert peak < 1024, f"annotate peaked at {peak:.0f} MB"


def test_decoding_has_a_time_budget(tmp_path):
    path = tmp_path / "big.gif"
    path.write_bytes(big_frames_gif(2048, 30))
    with pytest.raises(MediaError, match=r"decoding used more than 0.2 s of CPU \(limit\)"):
        media.read_clip(path, num_frames=16, limits=DecodeLimits(max_seconds=0.2))


def test_decoded_pixels_are_bounded_as_they_come(tmp_path):
    path = tmp_path / "big.gif"
    path.write_bytes(big_frames_gif(64, 30))
    with pytest.raises(MediaError, match="more than 40000 pixels"):
        media._Budget(path, DecodeLimits(max_total_pixels=40_000)).spend(64 * 64 * 10)


def test_lzw_damage_counts_the_frames_kept_and_warns(tmp_path):
    path = tmp_path / "damaged.gif"
    path.write_bytes(lzw_damaged_gif(good_frames=2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clip = media.read_clip(path)
    assert len(clip.frames) == clip.info.frame_count == len(clip.info.durations) == 2
    assert [issubclass(w.category, MediaWarning) for w in caught] == [True]
    assert "frame 2 cannot be decoded" in str(caught[0].message)


def test_video_frame_count_comes_from_the_file_not_the_header(tmp_path):
    path = write_avi(tmp_path / "liar.avi", side=32, frames=5)
    lie_in_avi_header(path, frames=30_000_000)
    clip = media.read_clip(path, num_frames=4)
    assert clip.info.frame_count == 5 and len(clip.info.durations) == 5 and len(clip.frames) == 4


def test_video_frames_bigger_than_the_header_says_are_refused(tmp_path):
    path = write_growing_avi(tmp_path / "grows.avi", small=64, big=512, frames=4)
    assert media.probe(path).width == 64                        # what the header says
    with pytest.raises(MediaError, match="video frame 1 is 512x512, over the limit"):
        media.read_clip(path, num_frames=4, limits=DecodeLimits(max_canvas_pixels=64 * 64 * 2))


# ------------------------------------------------------------------ storage
def record(name: str, error=None) -> GifRecord:
    return GifRecord(sha256=name.encode("utf-8", "surrogateescape").hex(), path=name, error=error)


def test_non_utf8_names_are_stored_losslessly_and_shown_readably(tmp_path):
    with Corpus(tmp_path / "c.db") as corpus:
        corpus.put(record(NON_UTF8, error=f"{NON_UTF8}: broken"))
        back = corpus.get(record(NON_UTF8).sha256)
    assert back.path == NON_UTF8 and back.error == "\\xff bad name.gif: broken"
    with JsonlWriter(tmp_path / "c.jsonl") as out:
        out.write(back, back.path)
    line = json.loads((tmp_path / "c.jsonl").read_bytes().decode("utf-8"))
    assert line["path"] == "\\xff bad name.gif" and bytes.fromhex(line["path_raw_hex"]) == os.fsencode(NON_UTF8)


def test_foreign_and_non_sqlite_files_are_refused(tmp_path):
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER)")
    with pytest.raises(StorageError, match="not a gifemo corpus"):
        Corpus(foreign)
    with sqlite3.connect(foreign) as conn:   # untouched: no tables added, journal mode unchanged
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["accounts"]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    with Corpus(foreign, adopt=True) as corpus:
        assert len(corpus) == 0
    text = tmp_path / "notes.db"
    text.write_text("not a database " * 100)
    with pytest.raises(StorageError, match="not a SQLite database"):
        Corpus(text)
    run = gifemo("tag", tmp_path / "nothing-here", "--db", text, "-q")
    assert run.returncode == 3 and run.stderr.count("\n") == 1 and "not a SQLite database" in run.stderr
    assert_one_line_errors(run)


def test_read_only_corpus_can_be_read(tmpfs):
    db = tmpfs / "c.db"
    with Corpus(db) as corpus:
        for k in range(3):
            corpus.put(record(f"{k}.gif"))
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    with Corpus(db, readonly=True) as corpus:
        assert len(corpus) == 3 and corpus.changed_at() > 0
        assert [r.path for r in corpus.records()] == ["0.gif", "1.gif", "2.gif"]
    with pytest.raises(StorageError, match="c.db: cannot open the corpus"):
        Corpus(db)


@pytest.mark.parametrize("full", ["corpus", "jsonl"])
def test_full_disk_stops_the_run_in_one_line_and_keeps_whole_lines(tmpfs, tmp_path, full):
    entries = tmp_path / "links"
    entries.mkdir()
    for k in range(3000):   # entries that fail before any model is needed: each is still a record
        os.symlink(f"missing-{k}", entries / f"{k:04d}-{'x' * 60}.gif")
    db = (tmpfs if full == "corpus" else tmp_path) / "c.db"
    jsonl = (tmpfs if full == "jsonl" else tmp_path) / "tags.jsonl"
    run = gifemo("tag", entries, "--db", db, "--jsonl", jsonl, "-q")
    assert run.returncode == 3, run.stderr
    assert run.stderr.count("\n") == 1 and "storage error" in run.stderr
    assert ("disk is full" if full == "corpus" else "No space left on device") in run.stderr
    assert_one_line_errors(run)
    data = jsonl.read_bytes()
    assert data.endswith(b"\n") and 0 < len(data.splitlines()) < 3000
    assert all(json.loads(line)["error"] for line in data.splitlines())   # every line whole
    with Corpus(db, readonly=True) as corpus:                             # what was written is kept
        assert len(corpus) >= len(data.splitlines())
