"""`gifemo tag --engine ray` against the local `--workers 2`, on this machine, in one run.

    .venv/bin/python bench/bench_ray.py [--gifs ../shared/data/gifs_dev] [--files 10]

A local Ray instance with this machine's CPUs; the same GIFs and options (every stream but the action
stream, whose I3D weights are downloaded on demand) for every run. Prints a table and writes
bench/results/ray.json:
  * GIFs/s of local --workers 2 and of Ray with 2 actors (the ratio), and with 1 actor (how it grows);
    each over the whole run (start-up and model loading included) and once tagging runs (from the first
    file started to the last, from the records' tagged_at);
  * peak memory (VmHWM) of each worker process and of each actor;
  * overhead per file of each engine: a worker that tags nothing (it returns an empty record) over many
    files, so what is left is dispatching, pickling, the driver's bookkeeping and its corpus commits;
  * the single corpus writer: records/s committed in batches of 1, 4 and 64.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from common import write_results
from gifemo.config import RayOptions, Runtime
from gifemo.corpus import Corpus, GifRecord
from gifemo.media import content_sha256
from gifemo.tagger import TagOptions, tag_paths

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
OVERHEAD_FILES = 200


class EmptyWorker:
    """Tags nothing: what an engine costs per file without the tagging."""

    def __init__(self, options, runtime):
        pass

    def __call__(self, item):
        return GifRecord(sha256=item[1], path=item[0], streams_version="empty")

    def close(self):
        pass


class PeakMemory:
    """Peak resident memory (VmHWM, MB) of every process started meanwhile whose command line holds `marker`,
    sampled twice a second."""

    def __init__(self, marker: str):
        self.marker, self.peaks, self.stop = marker, {}, threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.earlier = set()

    def __enter__(self):
        self.earlier = {pid for pid, _ in self._matching()}  # the last run's actors may still be on their way out
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def _matching(self):
        """(pid, its /proc status text) of each process whose command line holds the marker."""
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if self.marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                    yield pid, Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue

    def _watch(self):
        while not self.stop.wait(0.5):
            for pid, status in self._matching():
                if pid not in self.earlier:
                    kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
                    self.peaks[pid] = max(self.peaks.get(pid, 0), kb // 1024)


def run(files, work: Path, name: str, marker: str, **engine) -> dict:
    db = work / f"{name}.db"
    with PeakMemory(marker) as memory:
        summary = tag_paths(files, db, progress=False, **engine)
    starts = sorted(r[0] for r in sqlite3.connect(db).execute("SELECT tagged_at FROM gifs"))
    tagging_s = starts[-1] - starts[0]
    return {"run": name, "files": summary.files, "tagged": summary.tagged, "failed": summary.failed,
            "wall_s": round(summary.seconds, 2), "gifs_per_s": round(summary.files / summary.seconds, 3),
            # files started after the first, over the time from the first start to the last
            "gifs_per_s_tagging": round((len(starts) - 1) / tagging_s, 3) if tagging_s else None,
            "peak_rss_mb_per_process": sorted(memory.peaks.values())}


def hash_rate(files) -> dict:
    """The driver hashes every file before any is sent out: its one serial pass over the bytes (here from the
    page cache: a shared mount is slower)."""
    start, size = time.perf_counter(), 0
    for path in files:
        content_sha256(path)
        size += path.stat().st_size
    seconds = time.perf_counter() - start
    return {"files_per_s": round(len(files) / seconds), "mb_per_s": round(size / seconds / 1e6)}


def writer_rate(record: GifRecord, work: Path) -> list[dict]:
    rows = []
    for batch in (1, 4, 64):
        with Corpus(work / f"writer{batch}.db") as corpus:
            count, start = 0, time.perf_counter()
            while count < 2000:
                chunk = [GifRecord(**{**record.to_dict(), "sha256": f"{count + i:064x}"}) for i in range(batch)]
                corpus.put_many(chunk)
                count += batch
            rows.append({"batch": batch, "records_per_s": round(count / (time.perf_counter() - start))})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gifs", type=Path, default=SHARED / "data" / "gifs_dev")
    parser.add_argument("--files", type=int, default=10, help="real GIFs per timed run (default %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ray.json")
    args = parser.parse_args()
    try:
        import ray
        from gifemo.ray_engine import RayEngine
    except ModuleNotFoundError as exc:
        print(f"bench_ray: skipped, {exc.name} is not installed (pip install 'gifemo[ray]')")
        return
    if not args.gifs.is_dir():
        print(f"bench_ray: skipped, no GIFs at {args.gifs}")
        return
    files = sorted(args.gifs.glob("*/*.gif"))[:args.files]
    cpus = os.cpu_count() or 1
    load_before = os.getloadavg()
    options = TagOptions(run={"action": "off"})
    runtime = Runtime(models_dir=SHARED / "models" if (SHARED / "models").is_dir() else None)
    started = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    ray_start_s = time.perf_counter() - started
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    local, on_ray = "spawn_main", "MapBatches(TagActor)"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs = [run(files, work, "local --workers 2", local, workers=2, options=options, runtime=runtime),
                run(files, work, "ray, 2 actors", on_ray, options=options, runtime=runtime,
                    engine=RayEngine(RayOptions(actors=2))),
                run(files, work, "ray, 1 actor", on_ray, options=options, runtime=runtime,
                    engine=RayEngine(RayOptions(actors=1)))]
        # The overhead runs need files with distinct contents; their bytes are never decoded.
        empty = work / "empty"
        empty.mkdir()
        for i in range(OVERHEAD_FILES):
            (empty / f"{i:04d}.gif").write_bytes(b"GIF89a" + i.to_bytes(4, "big"))
        overhead = [run([empty], work, f"empty, local --workers {n}", local, workers=n, worker=EmptyWorker)
                    for n in (2,)]
        overhead += [run([empty], work, f"empty, ray {n} actors batch {b}", on_ray, worker=EmptyWorker,
                         engine=RayEngine(RayOptions(actors=n, batch_size=b))) for n, b in ((2, 4), (2, 64))]
        with Corpus(work / "ray, 2 actors.db", readonly=True) as corpus:
            record = next(r for r in corpus.records() if not r.error)
        writer = writer_rate(record, work)
        hashing = hash_rate(sorted(args.gifs.glob("*/*.gif")))
        shutil.rmtree(empty)
    ray.shutdown()
    ratio = runs[1]["gifs_per_s_tagging"] / runs[0]["gifs_per_s_tagging"]
    result = {"cpus": cpus, "load_avg_before": load_before, "load_avg_after": os.getloadavg(),
              "ray_init_s": round(ray_start_s, 1), "gif_files": len(files),
              "options": "every stream but action, 16 frames", "runs": runs,
              "ray_2_actors_over_local_2_workers_tagging": round(ratio, 3),
              # per file once files flow (from tagged_at), and over the whole run with its start-up
              "overhead": [{**o, "ms_per_file": round(1000 / o["gifs_per_s_tagging"], 1),
                            "ms_per_file_with_start_up": round(1000 * o["wall_s"] / o["files"], 1)} for o in overhead],
              "writer": writer, "driver_hashing": hashing}
    for r in runs:
        print(f"{r['run']:22s} {r['gifs_per_s']:.2f} GIFs/s over {r['wall_s']:.0f} s, "
              f"{r['gifs_per_s_tagging']} GIFs/s tagging; peak MB per process {r['peak_rss_mb_per_process']}")
    print(f"ray 2 actors / local 2 workers (tagging rate): {ratio:.2f}")
    for o in result["overhead"]:
        print(f"{o['run']:30s} {o['ms_per_file']:.1f} ms per file once files flow, "
              f"{o['ms_per_file_with_start_up']:.1f} over the whole run of {o['files']} files")
    print("corpus writer: " + ", ".join(f"batch {w['batch']}: {w['records_per_s']} records/s" for w in writer))
    print(f"driver hashing: {hashing['files_per_s']} files/s, {hashing['mb_per_s']} MB/s")
    print(f"load average {load_before[0]:.1f} -> {os.getloadavg()[0]:.1f} on {cpus} CPUs")
    write_results(args.out, result)


if __name__ == "__main__":
    main()
