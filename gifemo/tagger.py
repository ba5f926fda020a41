"""Bulk tagging: decode -> face and action streams -> fusion -> one corpus record per file.

The main process hashes files, skips those already tagged with the same model version, and writes
each record to SQLite (and JSONL) the moment a worker returns it, so a killed run loses nothing
done and a rerun finishes the rest. Workers load the models once.
"""
from __future__ import annotations

import atexit
import json
import multiprocessing
import os
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from .corpus import Corpus, GifRecord
from .fusion import FusionOptions, face_is_reliable, fuse
from .cache_key import tag_version
from .models import MissingModelError, ModelVerificationError, digests, sha256_of
from .config import ActionOptions, DecodeLimits, FaceOptions, Runtime
from .media import MediaError, iter_media_files, read_clip


@dataclass
class TagOptions:
    face: FaceOptions = field(default_factory=FaceOptions)
    action: ActionOptions = field(default_factory=ActionOptions)
    fusion: FusionOptions = field(default_factory=FusionOptions)
    # "fallback": run the (slow) action stream only when no reliable face was found;
    # "always": also for face GIFs, so their top actions can be searched; "off": never.
    actions: str = "fallback"
    limits: DecodeLimits = field(default_factory=DecodeLimits)

    def __post_init__(self):
        if self.actions not in ("fallback", "always", "off"):
            raise ValueError(f"actions must be fallback, always or off, not {self.actions!r}")


def models_used(options: TagOptions) -> list[str]:
    """The registry names of the models whose weights a tag under `options` depends on."""
    names = ["face-landmarker", "face-expression", "face-combine"]
    if options.actions != "off":
        names += ["i3d-rgb", "kinetics-labels"] + (["i3d-flow"] if options.action.flow != "none" else [])
    return names


def model_version(options: TagOptions, runtime: Runtime) -> str:
    """Names everything that changes a tag, so a rerun retags only when something did."""
    return tag_version(options, digests(models_used(options), runtime))


class Tagger:
    """Tags one file at a time; holds the loaded models."""

    def __init__(self, options: Optional[TagOptions] = None, runtime: Optional[Runtime] = None):
        from .action import ActionStream
        from .facs import FaceStream

        self.options = options or TagOptions()
        runtime = runtime or Runtime()
        self.face = FaceStream(self.options.face, runtime)
        self.action = ActionStream(self.options.action, runtime) if self.options.actions != "off" else None
        self.model_version = model_version(self.options, runtime)

    def close(self) -> None:
        self.face.close()

    def __enter__(self) -> "Tagger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def tag_file(self, path: os.PathLike | str, sha256: Optional[str] = None) -> GifRecord:
        path = Path(path)
        record = GifRecord(sha256=sha256 or "", path=str(path), model_version=self.model_version)
        try:
            record.size = path.stat().st_size
            record.sha256 = record.sha256 or sha256_of(path)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                clip = read_clip(path, num_frames=self.options.face.num_frames, limits=self.options.limits)
                face = self.face.analyze_clip(clip)
                action = None
                if self.action is not None and (self.options.actions == "always"
                                                or not face_is_reliable(face, self.options.fusion)):
                    action = self.action.analyze(path)
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
        fused = fuse(face, action, self.options.fusion)
        record.emotion, record.scores, record.confidence, record.source = fused.emotion, fused.scores, fused.confidence, fused.source
        record.faces = {
            "frames_analyzed": face.frames_analyzed, "frames_with_face": face.frames_with_face,
            "max_faces": max(Counter(o.frame for o in face.observations).values(), default=0),
            "scores": face.scores, "confidence": face.confidence, "reason": fused.reason,
        }
        record.top_aus = [[name, round(float(v), 3)] for name, v in face.top_aus]
        if action is not None:
            record.top_actions = [[name, round(float(p), 4)] for name, p in action.top_actions]
            record.action = {"available": action.available, "scores": action.scores, "mapped_mass": action.mapped_mass,
                             "abstained": action.abstained, "reason": action.reason}
        record.timeline = face.timeline
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


def _init_worker(options: TagOptions, runtime: Runtime, threads: int) -> None:
    global _WORKER
    options.face.threads = threads  # share the cores between workers instead of oversubscribing them
    _WORKER = Tagger(options, runtime)
    atexit.register(_WORKER.close)


def _work(item: tuple[str, str]) -> GifRecord:
    return _WORKER.tag_file(item[0], sha256=item[1])


def _jsonl_line(record: GifRecord, path: str) -> str:
    data = record.to_dict()
    data["path"] = path  # the same content may sit at several paths
    return json.dumps(data, ensure_ascii=False)


def tag_paths(paths: Iterable[os.PathLike | str], db: os.PathLike | str, jsonl: Optional[os.PathLike | str] = None,
              workers: int = 1, options: Optional[TagOptions] = None, runtime: Optional[Runtime] = None, progress: bool = True,
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
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")  # MediaPipe and torch are not fork-safe
    with context.Pool(workers, initializer=_init_worker, initargs=(options, runtime, threads)) as pool:
        yield from pool.imap_unordered(_work, todo, chunksize=1)
