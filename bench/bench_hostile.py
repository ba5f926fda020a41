"""`gifemo tag` and `gifemo annotate` over a hostile set that this script builds itself.

    .venv/bin/python bench/bench_hostile.py [--actions off|fallback|always] [--workers N] [--keep DIR]

The set: odd entries (a non-UTF-8 name, links that loop or dangle, a link to a folder, a FIFO, a
socket, an unreadable file, an empty file, a 3 GB sparse file, text named .gif, a GIF without
extension), GIF bombs (65535^2 canvas, 20,001 frames, a 1000^2 canvas of 1,500 one-pixel frames,
119 full 4096^2 frames), damaged GIFs (cut, LZW garbage), videos (an AVI whose header claims 30 M
frames, an MJPEG AVI whose header says 64x64 and whose frames are 4200x4200, a cut MP4) and a few
plain GIFs (from ../shared when present).

Reports entries, records, failures by reason, peak RSS and wall time of `gifemo tag` (run as this
checkout's CLI in a subprocess, memory from wait4), with `--workers 2` one worker is killed (SIGKILL)
once files are being tagged; then `gifemo annotate` on the many-frame GIF. Writes bench/results/hostile.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "tests"))

from gifmaker import (Frame, big_frames_gif, lie_in_avi_header, lzw_damaged_gif, make_gif,  # noqa: E402
                      many_tiny_frames_gif, solid, write_avi, write_growing_avi)


def build_set(root: Path) -> None:
    root.mkdir(parents=True)
    plain = sorted((SHARED / "data" / "gifs_dev").glob("*/*.gif"))[:4]
    for path in plain:
        shutil.copy(path, root / path.name)
    small = make_gif([Frame(solid(16, 16, 1 + k % 3)) for k in range(4)], 16, 16)
    (root / "small.gif").write_bytes(small)
    (root / "copy-of-small.gif").write_bytes(small)
    (root / os.fsdecode(b"\xff\xfe odd name.gif")).write_bytes(small)
    (root / "gif-without-extension").write_bytes(small)
    (root / "empty.gif").write_bytes(b"")
    (root / "text.gif").write_text("this is not a GIF\n" * 20)
    (root / "cut.gif").write_bytes(small[: len(small) // 2])
    (root / "lzw-garbage.gif").write_bytes(lzw_damaged_gif())
    (root / "unreadable.gif").write_bytes(small)
    os.chmod(root / "unreadable.gif", 0)
    with open(root / "sparse-3GB.gif", "wb") as handle:
        handle.truncate(3 << 30)
    os.symlink("loop-b.gif", root / "loop-a.gif")
    os.symlink("loop-a.gif", root / "loop-b.gif")
    os.symlink("missing.gif", root / "dangling.gif")
    os.mkfifo(root / "fifo.gif")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "socket.gif"))
    sock.close()
    (root / "folder").mkdir()
    (root / "folder" / "inside.gif").write_bytes(small)
    os.symlink("folder", root / "link-to-folder")
    (root / "notes.txt").write_text("not media: ignored and counted\n")
    # GIF bombs
    canvas = bytearray(small)
    canvas[6:10] = (65535).to_bytes(2, "little") * 2
    (root / "canvas-bomb.gif").write_bytes(bytes(canvas))
    (root / "frame-count-bomb.gif").write_bytes(make_gif([Frame(solid(1, 1, 1), delay_cs=1)] * 20_001, 1, 1))
    (root / "tiny-frames-1000x1000x1500.gif").write_bytes(many_tiny_frames_gif(1000, 1500))
    (root / "big-frames-4096x4096x119.gif").write_bytes(big_frames_gif(4096, 119))
    # videos
    write_avi(root / "liar-30M-frames.avi", side=64, frames=20)
    lie_in_avi_header(root / "liar-30M-frames.avi", frames=30_000_000)
    write_growing_avi(root / "mjpeg-64-says-4200.avi", small=64, big=4200, frames=3)
    mp4 = write_avi(root / "plain.avi", side=96, frames=30)
    data = mp4.read_bytes()
    (root / "cut.avi").write_bytes(data[: len(data) * 2 // 3])


def count_entries(root: Path) -> tuple[int, list[str]]:
    """Entries a walk meets (not folders; links to folders count), and the non-media files among them."""
    entries, other = 0, []
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            if os.path.islink(os.path.join(folder, name)):
                entries += 1
        for name in files:
            entries += 1
            if name.endswith(".txt"):
                other.append(name)
    return entries, other


def run_measured(cmd: list[str], kill_when=None) -> dict:
    """Run `cmd`; peak RSS (wait4: of the largest single process among it and its workers), wall time, exit
    code, whether a traceback showed.
    `kill_when()`: once it says True, one worker process of the run is killed with SIGKILL."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        killed, done = None, (0, 0, None)
        while done[0] == 0:  # wait4, not poll(): it also gives the child's resource usage
            time.sleep(0.2)
            done = os.wait4(proc.pid, os.WNOHANG)
            if kill_when is not None and killed is None and done[0] == 0 and kill_when():
                killed = _kill_one_child(proc.pid)
        _, status, usage = done
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0), err.seek(0)
        stdout = out.read().decode("utf-8", "backslashreplace")
        stderr = err.read().decode("utf-8", "backslashreplace")
    return {"exit_code": proc.returncode, "wall_s": round(wall, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "traceback": "Traceback" in stdout + stderr, "killed_worker_pid": killed,
            "stdout_tail": stdout.splitlines()[-3:], "stderr_tail": [l for l in stderr.splitlines()
                                                                     if "gifemo" in l or "error" in l][-3:]}


def _kill_one_child(pid: int):
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(k) for k in children.read_text().split()] if children.exists() else []
    workers = [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]  # not the resource tracker
    if workers:
        os.kill(workers[0], signal.SIGKILL)
        return workers[0]
    return None


def _a_file_was_tagged(jsonl: Path) -> bool:
    """True once the run writes its first tagged record: the workers are then busy with files."""
    try:
        return b'"error": null' in jsonl.read_bytes()
    except OSError:
        return False


def reason_of(record: dict) -> str:
    """The reason part of a record's error (the text after its path), numbers folded, for counting."""
    error, prefix = record["error"], record["path"] + ": "
    return re.sub(r"\d+", "N", error[len(prefix):] if error.startswith(prefix) else error)


def tag_run(root: Path, work: Path, args, workers: int, kill: bool) -> dict:
    db, jsonl = work / f"c{workers}.db", work / f"c{workers}.jsonl"
    cmd = [sys.executable, "-m", "gifemo", "tag", str(root), "--db", str(db), "--jsonl", str(jsonl), "-q",
           "--actions", args.actions, "--workers", str(workers)]
    result = run_measured(cmd, kill_when=(lambda: _a_file_was_tagged(jsonl)) if kill else None)
    lines = [json.loads(l) for l in jsonl.read_bytes().decode("utf-8").splitlines()] if jsonl.exists() else []
    names = Counter(bytes.fromhex(l["path_raw_hex"]) if "path_raw_hex" in l else os.fsencode(l["path"])
                    for l in lines)
    entries, other = count_entries(root)
    failures = Counter(reason_of(l) for l in lines if l["error"])
    result.update(workers=workers, entries=entries - len(other), ignored_non_media=other, records=len(lines),
                  entries_with_two_records=sum(1 for n in names.values() if n > 1),
                  tagged=sum(1 for l in lines if not l["error"]), failed=sum(failures.values()),
                  failures_by_reason=dict(failures.most_common()))
    return result


def annotate_run(root: Path, work: Path) -> dict:
    cmd = [sys.executable, "-m", "gifemo", "annotate", str(root / "tiny-frames-1000x1000x1500.gif"),
           str(work / "annotated.gif")]
    result = run_measured(cmd)
    result["input"] = "1000x1000 canvas, 1500 one-pixel frames, --max-frames 300 (default)"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", default="fallback", choices=["off", "fallback", "always"])
    parser.add_argument("--keep", type=Path, help="build the set here and keep it (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "hostile.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gifemo-hostile-"))
    root = args.keep or work / "set"
    if not root.exists():
        build_set(root)
    report = {"actions": args.actions, "cpus": os.cpu_count(), "runs": []}
    for workers, kill in ((1, False), (2, True)):
        run = tag_run(root, work, args, workers, kill)
        report["runs"].append(run)
        print(json.dumps({k: v for k, v in run.items() if k not in ("stdout_tail",)}, indent=1))
    report["annotate"] = annotate_run(root, work)
    print(json.dumps(report["annotate"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
