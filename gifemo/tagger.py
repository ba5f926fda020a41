"""Bulk tagging: decode -> face and action streams -> fusion -> one corpus record per file.

The main process hashes files, skips those already tagged with the same model version, and writes
each record to SQLite (and JSONL) the moment a worker returns it, so a killed run loses nothing
done and a rerun finishes the rest. Workers load the models once.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

from . import __version__
from .corpus import Corpus, GifRecord, JsonlWriter
from .fusion import FusionOptions, face_is_reliable, fuse
from .models import MissingModelError, ModelVerificationError, sha256_of
from .media import DecodeLimits, MediaError, MediaWarning, content_sha256, read_clip, walk_media
from .names import one_line, readable
from .pool import WorkerPool
from .paths import WEIGHTS_DIR


@dataclass
class TagOptions:
    face: "FaceOptions" = None           # defaults filled in __post_init__ (imports stay lazy)
    action: "ActionOptions" = None
    fusion: FusionOptions = field(default_factory=FusionOptions)
    # "fallback": run the (slow) action stream only when no reliable face was found;
    # "always": also for face GIFs, so their top actions can be searched; "off": never.
    actions: str = "fallback"
    limits: DecodeLimits = field(default_factory=DecodeLimits)

    def __post_init__(self):
        from .action import ActionOptions
        from .facs import FaceOptions

        self.face = self.face or FaceOptions()
        self.action = self.action or ActionOptions()
        if self.actions not in ("fallback", "always", "off"):
            raise ValueError(f"actions must be fallback, always or off, not {self.actions!r}")


def model_version(options: TagOptions, models_dir=None) -> str:
    """Names everything that changes a tag, so a rerun retags only when something did."""
    from .models import local_status

    action = "off"
    if options.actions != "off":
        have = all(local_status(name, models_dir)[1] == "found" for name in ("i3d-rgb", "i3d-flow"))
        action = f"i3d-{options.action.flow}" if have else "i3d-missing"
    settings = json.dumps([options.face.num_frames, options.fusion.__dict__, options.actions], sort_keys=True)
    return f"gifemo-{__version__}/face-{_weights_digest('face_')}/{action}/{hashlib.sha1(settings.encode()).hexdigest()[:8]}"


def _weights_digest(prefix: str) -> str:
    """Short digest of the project's own weight files whose names start with `prefix`."""
    digest = hashlib.sha1()
    for path in sorted(WEIGHTS_DIR.glob(prefix + "*")):
        digest.update(path.name.encode())
        digest.update(sha256_of(path).encode())
    return digest.hexdigest()[:8]


class Tagger:
    """Tags one file at a time; holds the loaded models."""

    def __init__(self, options: Optional[TagOptions] = None, models_dir=None):
        from .action import ActionStream
        from .facs import FaceStream

        self.options = options or TagOptions()
        self.face = FaceStream(self.options.face, models_dir=models_dir)
        self.action = ActionStream(self.options.action, models_dir=models_dir) if self.options.actions != "off" else None
        self.model_version = model_version(self.options, models_dir)

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
            record.sha256 = record.sha256 or content_sha256(path, self.options.limits)  # checks type and size first
            record.size = path.stat().st_size
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                clip = read_clip(path, num_frames=self.options.face.num_frames, limits=self.options.limits)
                face = self.face.analyze_clip(clip)
                action = None
                if self.action is not None and (self.options.actions == "always"
                                                or not face_is_reliable(face, self.options.fusion)):
                    action = self.action.analyze(path)
            record.warnings = sorted({str(w.message) for w in caught if issubclass(w.category, MediaWarning)})
        except MediaError as exc:
            record.error = str(exc)
            return record
        except (MissingModelError, ModelVerificationError):
            raise  # a setup problem, not this file's: it would fail every file and mark them all as failed
        except Exception as exc:  # a bug or a model failure on one file must not stop a run of thousands
            record.error = f"{readable(path)}: {type(exc).__name__}: {one_line(str(exc))}"
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
    ignored: int = 0          # files in the folders that are neither GIF nor video (by name and content)
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
            self.failures.append((readable(record.path), readable(record.error)))
        else:
            self.by_source[record.source] = self.by_source.get(record.source, 0) + 1
            key = record.emotion or "(none)"
            self.by_emotion[key] = self.by_emotion.get(key, 0) + 1

    def text(self) -> str:
        lines = [f"{self.files} files: {self.tagged} tagged, {self.skipped} already up to date, {self.failed} failed "
                 f"({self.seconds:.1f} s)"]
        if self.ignored:
            lines.append(f"{self.ignored} other files ignored (neither GIF nor video by name or content)")
        if self.by_source:
            lines.append("by source:  " + ", ".join(f"{k} {v}" for k, v in sorted(self.by_source.items())))
            lines.append("by emotion: " + ", ".join(f"{k} {v}" for k, v in sorted(self.by_emotion.items())))
        lines += [f"FAILED {path}: {error}" for path, error in self.failures]
        return "\n".join(lines)


class FileWorker:
    """What one pool worker runs: a Tagger (models loaded once), one (path, sha256) per call."""

    def __init__(self, options: TagOptions, models_dir, threads: int):
        options.face.threads = threads  # share the cores between workers instead of oversubscribing them
        self.tagger = Tagger(options, models_dir)

    def __call__(self, item: tuple[str, str]) -> GifRecord:
        return self.tagger.tag_file(item[0], sha256=item[1])

    def close(self) -> None:
        self.tagger.close()


# A worker stuck in native code (the decoding budget bounds everything in Python) is stopped after this.
WORKER_TIMEOUT_S = 900.0


def tag_paths(paths: Iterable[os.PathLike | str], db: os.PathLike | str, jsonl: Optional[os.PathLike | str] = None,
              workers: int = 1, options: Optional[TagOptions] = None, models_dir=None, progress: bool = True,
              retry_errors: bool = False, worker: Callable = FileWorker, adopt_db: bool = False) -> TagSummary:
    """Tag every entry of `paths` (folders walked) into the corpus `db`: one record per entry, tagged or failed.

    `worker(options, models_dir, threads)` builds what each pool worker runs (with workers > 1).
    `adopt_db`: accept a SQLite file gifemo did not make as the corpus.
    Raises StorageError when the corpus or the JSONL cannot be written.
    """
    from tqdm import tqdm

    options = options or TagOptions()
    started = time.time()
    walk = walk_media(list(paths))
    summary = TagSummary(files=len(walk.entries), ignored=len(walk.ignored))
    version = model_version(options, models_dir)
    with Corpus(db, adopt=adopt_db) as corpus, JsonlWriter(jsonl) as out:
        def keep(record: GifRecord, path: str) -> None:
            corpus.put(record)
            summary.add(record)
            out.write(record, path)

        todo: list[tuple[str, str]] = []
        for entry in tqdm(walk.entries, desc="hashing", unit="file", disable=not progress or len(walk.entries) < 200):
            path = str(entry.path)
            try:
                if entry.problem:
                    raise MediaError(path, entry.problem)
                sha = content_sha256(path, options.limits)
            except MediaError as exc:
                keep(GifRecord(sha256=_unreadable_key(path), path=path, model_version=version, error=str(exc)), path)
                continue
            existing = corpus.get(sha) if corpus.is_current(sha, version) else None
            if existing is not None and not (retry_errors and existing.error):
                summary.skipped += 1
                summary.add(existing)
                out.write(existing, path)
            else:
                todo.append((path, sha))
        bar = tqdm(total=len(todo), desc="tagging", unit="gif", disable=not progress)
        for record in _run(todo, workers, options, models_dir, worker, version):
            keep(record, record.path)
            summary.tagged += 0 if record.error else 1
            bar.update(1)
            if record.error:
                bar.write(f"failed: {readable(record.error)}", file=sys.stderr)
        bar.close()
    summary.seconds = time.time() - started
    return summary


def _unreadable_key(path: str) -> str:
    """The corpus key of an entry whose content cannot be read: stands for its name, not its bytes."""
    return "unreadable:" + hashlib.sha256(os.fsencode(path)).hexdigest()


def _run(todo: list[tuple[str, str]], workers: int, options: TagOptions, models_dir, worker: Callable, version: str):
    if not todo:
        return
    if workers <= 1:
        with Tagger(options, models_dir) as tagger:
            for path, sha in todo:
                yield tagger.tag_file(path, sha256=sha)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = WorkerPool(workers, functools.partial(worker, options, models_dir, threads), timeout=WORKER_TIMEOUT_S)
    for outcome in pool.run(todo):
        if outcome.lost is None:
            yield outcome.result
        else:
            path, sha = outcome.item
            yield GifRecord(sha256=sha, path=path, model_version=version, error=f"{readable(path)}: {outcome.lost}")
