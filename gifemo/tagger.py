"""Bulk tagging: decode once -> every stream (gifemo.streams) -> the decision -> one corpus record per file.

The main process hashes files, skips those already tagged with the same model version, and writes
each record to SQLite (and JSONL) the moment a worker returns it, so a killed run loses nothing
done and a rerun finishes the rest. Workers load the models once.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import multiprocessing
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Optional

from . import __version__
from .corpus import Corpus, GifRecord
from .config import Runtime
from .decision import is_decided, load_decision
from .evidence import Evidence
from .models import MissingModelError, ModelVerificationError, sha256_of
from .media import DecodeLimits, MediaError, iter_media_files, read_clip
from .paths import WEIGHTS_DIR
from .streams import RUN_MODES, STREAM_NAMES, STREAMS, StreamEntry


@dataclass
class TagOptions:
    num_frames: int = 16                 # frames sampled evenly over each file's real duration, for every stream
    limits: DecodeLimits = field(default_factory=DecodeLimits)
    # Per stream: its options dataclass and when it runs ("always", "fallback" or "off"); defaults from STREAMS.
    stream_options: dict[str, Any] = field(default_factory=dict)
    run: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        for entry in STREAMS:
            self.run.setdefault(entry.name, entry.run)
            if self.run[entry.name] != "off":
                self.stream_options.setdefault(entry.name, entry.default_options())
        unknown = set(self.run) - set(STREAM_NAMES)
        if unknown or set(self.run.values()) - set(RUN_MODES):
            raise ValueError(f"run modes must name streams {STREAM_NAMES} and modes {RUN_MODES}, got {self.run}")

    def enabled(self) -> list[StreamEntry]:
        return [entry for entry in STREAMS if self.run[entry.name] != "off"]


# Options that change how fast a tag is made, never what it says: left out of the model version.
NOT_IN_VERSION = {"threads", "progress"}


def model_version(options: TagOptions, runtime: Optional[Runtime] = None) -> str:
    """Names everything that changes a tag, so a rerun retags only when something did: every option
    (but NOT_IN_VERSION), the project's own weights, and which third-party models are present."""
    from .models import local_status

    runtime = runtime or Runtime()
    settings = {"num_frames": options.num_frames, "limits": asdict(options.limits), "run": options.run,
                "streams": {name: _without(asdict(o)) for name, o in options.stream_options.items()}}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for path in sorted(WEIGHTS_DIR.glob("*")):
        if path.suffix in (".pt", ".json") and path.is_file():
            digest.update(path.name.encode() + sha256_of(path).encode())
    if options.run.get("action", "off") != "off":
        digest.update(str([local_status(n, runtime.models_dir)[1] for n in ("i3d-rgb", "i3d-flow")]).encode())
    return f"gifemo-{__version__}/{digest.hexdigest()[:16]}"


def _without(settings: dict) -> dict:
    return {k: v for k, v in settings.items() if k not in NOT_IN_VERSION}


class Tagger:
    """Tags one file at a time; holds the loaded streams and the decision."""

    def __init__(self, options: Optional[TagOptions] = None, runtime: Optional[Runtime] = None):
        self.options = options or TagOptions()
        self.runtime = runtime or Runtime()
        self.streams = [(entry, entry.load(self.options.stream_options[entry.name], self.runtime))
                        for entry in self.options.enabled()]
        self.decision = load_decision()
        self.model_version = model_version(self.options, self.runtime)

    def close(self) -> None:
        for _, stream in self.streams:
            stream.close()

    def __enter__(self) -> "Tagger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def evidence(self, clip) -> list[Evidence]:
        """Every enabled stream's Evidence for one decoded clip (costly fallback streams only when needed)."""
        found: list[Evidence] = []
        for entry, stream in self.streams:
            if self.options.run[entry.name] == "fallback" and is_decided(found):
                continue
            found.append(stream.analyze(clip))
        return found

    def tag_file(self, path: os.PathLike | str, sha256: Optional[str] = None) -> GifRecord:
        path = Path(path)
        record = GifRecord(sha256=sha256 or "", path=str(path), model_version=self.model_version)
        try:
            record.size = path.stat().st_size
            record.sha256 = record.sha256 or sha256_of(path)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                clip = read_clip(path, num_frames=self.options.num_frames, limits=self.options.limits)
                evidence = self.evidence(clip)
            record.warnings = sorted({str(w.message) for w in caught if "truncated" in str(w.message) or "damaged" in str(w.message)})
        except MediaError as exc:
            record.error = str(exc)
            return record
        except (MissingModelError, ModelVerificationError):
            raise  # a setup problem, not this file's: it would fail every file and mark them all as failed
        except Exception as exc:  # a bug or a model failure on one file must not stop a run of thousands
            record.error = f"{path}: {type(exc).__name__}: {exc}"
            return record
        info = clip.info
        record.frames, record.duration, record.width, record.height = info.frame_count, info.duration, info.width, info.height
        decided = self.decision.decide(evidence)
        record.emotion, record.scores, record.confidence = decided.emotion, decided.scores, decided.confidence
        record.source, record.reason = decided.source, decided.reason
        record.evidence = [e.to_dict() for e in decided.evidence]
        record.caption = record.detail("caption", "text", "")
        return record


# ------------------------------------------------------------------ bulk runs
@dataclass
class TagSummary:
    files: int = 0
    tagged: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    by_source: dict = field(default_factory=dict)
    by_emotion: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)   # (path, error)

    def add(self, record: GifRecord) -> None:
        if record.error:
            self.failed += 1
            self.failures.append((record.path, record.error))
        else:
            self.by_source[record.source] = self.by_source.get(record.source, 0) + 1
            key = record.emotion or "(none)"
            self.by_emotion[key] = self.by_emotion.get(key, 0) + 1

    def text(self) -> str:
        lines = [f"{self.files} files: {self.tagged} tagged, {self.skipped} already up to date, {self.failed} failed "
                 f"({self.seconds:.1f} s)"]
        if self.by_source:
            lines.append("by source:  " + ", ".join(f"{k} {v}" for k, v in sorted(self.by_source.items())))
            lines.append("by emotion: " + ", ".join(f"{k} {v}" for k, v in sorted(self.by_emotion.items())))
        lines += [f"FAILED {path}: {error}" for path, error in self.failures]
        return "\n".join(lines)


_WORKER: Optional[Tagger] = None


def _init_worker(options: TagOptions, runtime: Runtime) -> None:
    global _WORKER
    _WORKER = Tagger(options, runtime)
    atexit.register(_WORKER.close)


def _work(item: tuple[str, str]) -> GifRecord:
    return _WORKER.tag_file(item[0], sha256=item[1])


def _jsonl_line(record: GifRecord, path: str) -> str:
    data = record.to_dict()
    data["path"] = path  # the same content may sit at several paths
    return json.dumps(data, ensure_ascii=False)


def tag_paths(paths: Iterable[os.PathLike | str], db: os.PathLike | str, jsonl: Optional[os.PathLike | str] = None,
              workers: int = 1, options: Optional[TagOptions] = None, runtime: Optional[Runtime] = None,
              progress: bool = True,
              retry_errors: bool = False) -> TagSummary:
    from tqdm import tqdm

    options = options or TagOptions()
    runtime = runtime or Runtime()
    started = time.time()
    files = iter_media_files(list(paths))
    summary = TagSummary(files=len(files))
    version = model_version(options, runtime)
    out = open(jsonl, "w", encoding="utf-8") if jsonl else None
    try:
        with Corpus(db) as corpus:
            todo: list[tuple[str, str]] = []
            for path in tqdm(files, desc="hashing", unit="file", disable=not progress or len(files) < 200):
                try:
                    sha = sha256_of(path)
                except OSError as exc:
                    record = GifRecord(sha256=f"unreadable:{path}", path=str(path), model_version=version,
                                       error=f"{path}: cannot read: {exc.strerror or exc}")
                    corpus.put(record)
                    summary.add(record)
                    _write(out, record, str(path))
                    continue
                existing = corpus.get(sha) if corpus.is_current(sha, version) else None
                if existing is not None and not (retry_errors and existing.error):
                    summary.skipped += 1
                    summary.add(existing)
                    _write(out, existing, str(path))
                else:
                    todo.append((str(path), sha))
            bar = tqdm(total=len(todo), desc="tagging", unit="gif", disable=not progress)
            for record in _run(todo, workers, options, runtime):
                corpus.put(record)
                summary.tagged += 0 if record.error else 1
                summary.add(record)
                _write(out, record, record.path)
                bar.update(1)
                if record.error:
                    bar.write(f"failed: {record.error}", file=sys.stderr)
            bar.close()
    finally:
        if out:
            out.close()
    summary.seconds = time.time() - started
    return summary


def _write(out, record: GifRecord, path: str) -> None:
    if out is not None:
        out.write(_jsonl_line(record, path) + "\n")
        out.flush()


def _run(todo: list[tuple[str, str]], workers: int, options: TagOptions, runtime: Runtime):
    if not todo:
        return
    if workers <= 1:
        with Tagger(options, runtime) as tagger:
            for path, sha in todo:
                yield tagger.tag_file(path, sha256=sha)
        return
    # Share the cores between workers instead of oversubscribing them.
    shared = replace(runtime, threads=max(1, (os.cpu_count() or 1) // workers))
    context = multiprocessing.get_context("spawn")  # MediaPipe and torch are not fork-safe
    with context.Pool(workers, initializer=_init_worker, initargs=(options, shared)) as pool:
        yield from pool.imap_unordered(_work, todo, chunksize=1)
