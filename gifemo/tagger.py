"""Bulk tagging: decode once -> every stream (gifemo.streams) -> the decision -> one corpus record per file.

A record carries two keys: the streams' (every option and stream model: whether the streams must run again) and
the decision's (the fitted decision file's sha256). The main process hashes files, skips those whose record has
both keys, re-decides from the stored Evidence those whose streams' key alone matches (no decoding, no models:
the decision is refitted far more often than a stream changes), and hands the rest to the workers; it writes
each record to SQLite (and JSONL) the moment it is done, so a killed run loses nothing done and a rerun finishes
the rest. Workers load the models once.
"""
from __future__ import annotations

import functools
import hashlib
import os
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Protocol

from .corpus import Corpus, GifRecord, JsonlWriter, failure_line
from .cache_key import tag_version
from .config import DecodeLimits, Runtime
from .decision import is_decided, load_decision, raw_evidence
from .evidence import Evidence
from . import models
from .models import MissingModelError, ModelVerificationError, digests, sha256_of
from .media import MediaError, MediaWarning, content_sha256, read_clip, walk_media
from .names import count, one_line, readable, refuse_overwrite
from .pool import WorkerPool
from .streams import RUN_MODES, STREAM_NAMES, STREAMS, StreamEntry


@dataclass
class TagOptions:
    num_frames: int = 16                 # frames sampled evenly over each file's real duration, for every stream
    # A sample differing from the last analysed one by less than this mean absolute pixel difference (0-255)
    # reuses its analysis (gifemo.media.Clip.repeats). 0: only samples of the file's same frame do (lossless).
    near_duplicate: float = 0.0
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


def _stream_models(options: TagOptions) -> list[str]:
    return [name for entry in options.enabled() for name in entry.models]


def streams_version(options: TagOptions, runtime: Optional[Runtime] = None) -> str:
    """Names everything that changes the streams' Evidence, so a rerun runs them again only when something did:
    every option (see gifemo.cache_key) and the registry's sha256 of each enabled stream's models. Fallback
    streams run by a fixed coverage rule (`is_decided`), not by the fitted decision, which is left out."""
    return tag_version(options, digests(_stream_models(options), runtime or Runtime()))


def pre_split_version(options: TagOptions, runtime: Optional[Runtime] = None) -> str:
    """The one key of corpora written before the streams' key and the decision's were split: the streams' key
    with the shipped decision's registry sha256 in it. A record under it has these streams' Evidence."""
    return tag_version(options, digests(["decision"] + _stream_models(options), runtime or Runtime()))


class Decider:
    """The fitted decision and its version (the file's sha256, so that a decision refitted in place counts as new
    before its registry entry is updated): turns Evidence into a record's answer."""

    def __init__(self, runtime: Runtime):
        path = models.resolve("decision", runtime)
        self.decision = load_decision(path)
        self.version = sha256_of(path)

    def decide(self, record: GifRecord, evidence: list[Evidence]) -> GifRecord:
        decided = self.decision.decide(evidence)
        record = replace(record, emotion=decided.emotion, scores=decided.scores, confidence=decided.confidence,
                         source=decided.source, reason=decided.reason,
                         evidence=[e.to_dict() for e in decided.evidence], decision_version=self.version)
        record.caption = record.detail("caption", "text", "")
        return record

    def is_current(self, record: GifRecord) -> bool:
        """Whether `record` needs no decision made again: this decision made it, or it failed (nothing to decide)."""
        return bool(record.error) or record.decision_version == self.version

    def redecide(self, record: GifRecord) -> GifRecord:
        """`record` as this decision decides its stored Evidence (the streams' own, uncalibrated): the record a
        fresh tag with the same streams would give, without decoding or running any stream."""
        return self.decide(record, [raw_evidence(e) for e in record.evidence])


class Tagger:
    """Tags one file at a time; holds the loaded streams and the decision."""

    def __init__(self, options: Optional[TagOptions] = None, runtime: Optional[Runtime] = None):
        self.options = options or TagOptions()
        self.runtime = runtime or Runtime()
        self.streams = [(entry, entry.load(self.options.stream_options[entry.name], self.runtime))
                        for entry in self.options.enabled()]
        self.decider = Decider(self.runtime)
        self.streams_version = streams_version(self.options, self.runtime)

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
        record = GifRecord(sha256=sha256 or "", path=str(path), streams_version=self.streams_version)
        try:
            record.sha256 = record.sha256 or content_sha256(path, self.options.limits)  # checks type and size first
            record.size = path.stat().st_size
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                clip = read_clip(path, num_frames=self.options.num_frames, limits=self.options.limits)
                clip.near_duplicate = self.options.near_duplicate
                evidence = self.evidence(clip)
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
        return self.decider.decide(record, evidence)


# ------------------------------------------------------------------ bulk runs
@dataclass
class TagSummary:
    files: int = 0
    ignored: int = 0          # files in the folders that are neither GIF nor video (by name and content)
    tagged: int = 0
    redecided: int = 0        # same streams, another decision: decided again from the stored Evidence
    skipped: int = 0
    copies: int = 0           # files with the same content as another of the run: tagged once, listed under each name
    failed: int = 0
    seconds: float = 0.0
    by_source: dict = field(default_factory=dict)
    by_emotion: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)   # each failed record's error, which names its file
    warnings: list = field(default_factory=list)   # damaged files tagged from their good part, each naming its file

    def add(self, record: GifRecord) -> None:
        if record.error:
            self.failed += 1
            self.failures.append(record.error)
        else:
            self.warnings += record.warnings
            self.by_source[record.source] = self.by_source.get(record.source, 0) + 1
            key = record.emotion or "(none)"
            self.by_emotion[key] = self.by_emotion.get(key, 0) + 1

    def text(self) -> str:
        lines = [f"{count(self.files, 'file')}: {self.tagged} tagged, "
                 f"{self.redecided} re-decided from stored evidence, "
                 f"{self.skipped} already up to date, {self.failed} failed ({self.seconds:.1f} s)"]
        if self.copies:
            lines.append(f"{count(self.copies, 'file')} with the same content as another, tagged once")
        if self.ignored:
            lines.append(f"{count(self.ignored, 'other file')} ignored (neither GIF nor video by name or content)")
        if self.by_source:
            lines.append("by source:  " + ", ".join(f"{k} {v}" for k, v in sorted(self.by_source.items())))
            lines.append("by emotion: " + ", ".join(f"{k} {v}" for k, v in sorted(self.by_emotion.items())))
        lines += [f"warning: {one_line(warning)}" for warning in self.warnings]
        lines += [failure_line(error) for error in self.failures]
        return "\n".join(lines)


class FileWorker:
    """What one pool worker runs: a Tagger (models loaded once), one (path, sha256) per call."""

    def __init__(self, options: TagOptions, runtime: Runtime):
        self.tagger = Tagger(options, runtime)

    def __call__(self, item: tuple[str, str]) -> GifRecord:
        return self.tagger.tag_file(item[0], sha256=item[1])

    def close(self) -> None:
        self.tagger.close()


class Engine(Protocol):
    """Where the files still to tag are tagged, when not in this machine's worker pool."""

    def batches(self, todo: list[tuple[str, str]], options: TagOptions, runtime: Runtime, worker: Callable,
                version: str) -> Iterator[list[GifRecord]]:
        """One record per (path, sha256) of `todo`, in batches as they are done, in any order; `version`: the
        streams' key, for the failure record of a file a worker lost."""


# A worker stuck in native code (the decoding budget bounds everything in Python) is stopped after this.
WORKER_TIMEOUT_S = 900.0
# Re-decided records are committed this many at a time (one transaction each, not one per record).
REDECIDE_BATCH = 256


def tag_paths(paths: Iterable[os.PathLike | str], db: os.PathLike | str, jsonl: Optional[os.PathLike | str] = None,
              workers: int = 1, options: Optional[TagOptions] = None, runtime: Optional[Runtime] = None,
              progress: bool = True, retry_errors: bool = False, worker: Callable = FileWorker,
              adopt_db: bool = False, engine: Optional[Engine] = None) -> TagSummary:
    """Tag every entry of `paths` (folders walked) into the corpus `db`: one record per entry, tagged or failed.

    `worker(options, runtime)` builds what each pool worker runs (with workers > 1, or on an `engine`).
    `engine`: runs the files to tag elsewhere (e.g. gifemo.ray_engine on a cluster) instead of `workers` here;
    this process still walks, hashes, skips, re-decides and is the only writer of the corpus.
    `adopt_db`: accept a SQLite file gifemo did not make as the corpus.
    Raises StorageError when the corpus or the JSONL cannot be written.
    """
    from tqdm import tqdm

    refuse_overwrite(jsonl, corpus=db)   # the JSONL is written from empty
    options = options or TagOptions()
    runtime = runtime or Runtime()
    started = time.time()
    walk = walk_media(list(paths))
    summary = TagSummary(files=len(walk.entries), ignored=len(walk.ignored))
    version = streams_version(options, runtime)
    decider = Decider(runtime)
    with Corpus(db, adopt=adopt_db) as corpus, JsonlWriter(jsonl) as out:
        corpus.adopt_pre_split(pre_split_version(options, runtime), version)

        def keep(records: list[GifRecord]) -> None:
            corpus.put_many(records)  # one transaction: a killed run loses at most the batch being written
            for record in records:
                summary.add(record)
                out.write(record, record.path)

        todo: list[tuple[str, str]] = []
        queued: set[str] = set()
        copies: list[tuple[str, str]] = []   # (path, sha256) of a content another entry of this run is tagging
        redecided: list[GifRecord] = []

        def keep_redecided() -> None:
            keep(redecided)
            summary.redecided += len(redecided)
            redecided.clear()

        for entry in tqdm(walk.entries, desc="hashing", unit="file", disable=not progress or len(walk.entries) < 200):
            path = str(entry.path)
            try:
                if entry.problem:
                    raise MediaError(path, entry.problem)
                sha = content_sha256(path, options.limits)
            except MediaError as exc:
                keep([GifRecord(sha256=_unreadable_key(path), path=path, streams_version=version, error=str(exc))])
                continue
            existing = corpus.reusable(sha, version)
            if existing is None or (retry_errors and existing.error):
                (copies if sha in queued else todo).append((path, sha))
                queued.add(sha)
            elif decider.is_current(existing):
                listed = existing.under(path)   # stored under the name it was first tagged by
                summary.skipped += 1
                summary.add(listed)
                out.write(listed, path)
            else:
                redecided.append(decider.redecide(existing.under(path)))
                if len(redecided) == REDECIDE_BATCH:
                    keep_redecided()
        keep_redecided()
        batches = (engine.batches(todo, options, runtime, worker, version) if engine and todo
                   else ([record] for record in _run(todo, workers, options, runtime, worker, version)))
        # Closed however the loop ends, so an interruption's message starts on a line of its own.
        with tqdm(total=len(todo), desc="tagging", unit="gif", disable=not progress or not todo) as bar:
            for batch in batches:
                keep(batch)
                for record in batch:
                    summary.tagged += 0 if record.error else 1
                    if record.error and progress:   # quiet: the summary lists it once
                        bar.write(failure_line(record.error), file=sys.stderr)
                bar.set_postfix(failed=summary.failed, refresh=False)
                bar.update(len(batch))
        for path, sha in copies:   # tagged once above, under another name; the corpus keeps the last name, as ever
            keep([corpus.get(sha).under(path)])
            summary.copies += 1
    summary.seconds = time.time() - started
    return summary


def _unreadable_key(path: str) -> str:
    """The corpus key of an entry whose content cannot be read: stands for its name, not its bytes."""
    return "unreadable:" + hashlib.sha256(os.fsencode(path)).hexdigest()


def _run(todo: list[tuple[str, str]], workers: int, options: TagOptions, runtime: Runtime, worker: Callable,
         version: str):
    if not todo:
        return
    if workers <= 1:
        with Tagger(options, runtime) as tagger:
            for path, sha in todo:
                yield tagger.tag_file(path, sha256=sha)
        return
    # Share the cores between workers instead of oversubscribing them.
    shared = replace(runtime, threads=max(1, (os.cpu_count() or 1) // workers))
    pool = WorkerPool(workers, functools.partial(worker, options, shared), timeout=WORKER_TIMEOUT_S)
    for outcome in pool.run(todo):
        yield outcome.result if outcome.lost is None else lost_record(outcome.item, version, outcome.lost)


def lost_record(item: tuple[str, str], version: str, why: str) -> GifRecord:
    """The failure record of a (path, sha256) whose worker died or hung on it (a crash, out of memory)."""
    path, sha = item
    return GifRecord(sha256=sha, path=path, streams_version=version, error=f"{readable(path)}: {why}")
