"""The tagged corpus: one SQLite row per file content (sha256), written as soon as each file is done.

SQLite in WAL mode with one commit per record (per batch, as batches come back from a cluster) means a
killed run loses nothing already committed, and a rerun reuses what is there: a record whose streams ran
with the same options and models keeps its Evidence (re-decided when the fitted decision changed). A corpus
carries the project's `application_id`, so another program's database is never silently changed; readers
open it read-only, so a corpus on a read-only disk can be searched. Every storage failure is a one-line
`StorageError`.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Iterator, Optional

from .names import from_raw_name, one_line, raw_name, readable

APPLICATION_ID = 0x67696665  # "gife": PRAGMA application_id of every corpus this project makes

SCHEMA = """
CREATE TABLE IF NOT EXISTS gifs (
    sha256        TEXT PRIMARY KEY,
    path          TEXT NOT NULL,
    path_raw      BLOB,
    size          INTEGER,
    frames        INTEGER,
    duration      REAL,
    width         INTEGER,
    height        INTEGER,
    emotion       TEXT,
    confidence    REAL,
    source        TEXT,
    scores        TEXT,
    reason        TEXT,
    caption       TEXT,
    evidence      TEXT,
    streams_version  TEXT,
    decision_version TEXT,
    warnings      TEXT,
    error         TEXT,
    tagged_at     REAL
);
CREATE INDEX IF NOT EXISTS gifs_emotion ON gifs (emotion);
CREATE INDEX IF NOT EXISTS gifs_path ON gifs (path);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""
# 👍/👎 on suggestions (kept apart from SCHEMA, whose column list `_add_missing_columns` reads as the gifs table's).
FEEDBACK_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    sha256   TEXT NOT NULL,
    message  TEXT NOT NULL,
    emotion  TEXT NOT NULL,       -- how the message read (its top emotion) when the vote was given
    vote     INTEGER NOT NULL,    -- +1 or -1
    voted_at REAL NOT NULL
);
"""

OWN_TABLES = {"gifs", "meta", "feedback"}
JSON_FIELDS = ("scores", "evidence", "warnings")


def failure_line(error: str) -> str:
    """How every command reports a record's `error` ("<file>: <problem>"): one line naming the file once."""
    return f"FAILED {one_line(error)}"


@dataclass
class GifRecord:
    sha256: str
    path: str
    size: int = 0
    frames: int = 0
    duration: float = 0.0
    width: int = 0
    height: int = 0
    emotion: Optional[str] = None        # None when no stream could decide (source "none") or on error
    confidence: float = 0.0
    source: str = "none"                 # the stream that carried the decision (see gifemo.streams), or "none"
    scores: dict = field(default_factory=dict)
    reason: str = ""                     # why, in words: "sad face in 12 of 16 frames; caption 'I have failed you'"
    caption: str = ""                    # the words written in the GIF, when the caption stream read any
    evidence: list = field(default_factory=list)    # every stream's Evidence.to_dict(), as the decision read it
    streams_version: str = ""            # the options and stream models that made the evidence (gifemo.tagger)
    decision_version: str = ""           # sha256 of the fitted decision that decided it ("" when never decided)
    warnings: list = field(default_factory=list)   # e.g. "file is truncated; used the complete frames"
    error: Optional[str] = None          # "<file>: <problem>": it names the file, so no report adds the path again
    tagged_at: float = field(default_factory=time.time)

    def under(self, path: str) -> "GifRecord":
        """This record for another file with the same content: its error, which names the file, names `path`."""
        error, named = self.error, f"{readable(self.path)}: "
        if error and error.startswith(named):
            error = f"{readable(path)}: {error[len(named):]}"
        return replace(self, path=path, error=error)

    def to_dict(self) -> dict:
        return asdict(self)

    def stream(self, name: str) -> Optional[dict]:
        """The Evidence dict of stream `name`, or None when that stream did not run."""
        return next((e for e in self.evidence if e.get("stream") == name), None)

    def detail(self, stream: str, key: str, default=None):
        evidence = self.stream(stream)
        return (evidence.get("details") or {}).get(key, default) if evidence else default

    # What the face and action streams saw, as `show`, the app and the recommender read it.
    @property
    def timeline(self) -> list:
        return self.detail("face", "timeline", [])

    @property
    def top_aus(self) -> list:
        return self.detail("face", "top_aus", [])

    @property
    def top_actions(self) -> list:
        return self.detail("action", "top_actions", [])


class StorageError(Exception):
    """The corpus or an output file cannot be read or written (disk full, I/O error, not a corpus)."""


class Corpus:
    """`readonly=True`: for readers (suggest, show, the app); nothing is written, not even the journal mode.
    `adopt=True`: accept an existing SQLite file this project did not make (it gets the corpus tables)."""

    def __init__(self, db_path: str | Path, readonly: bool = False, adopt: bool = False):
        self.path = Path(db_path)
        with self._guard("open the corpus"):
            if readonly:
                self.conn = _connect_readonly(self.path)
                self.conn.row_factory = sqlite3.Row
                self._check_owner(adopt=False, readonly=True)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.conn = sqlite3.connect(self.path, timeout=30)
                self.conn.row_factory = sqlite3.Row
                self._check_owner(adopt, readonly=False)
                self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
                self._rename_pre_split_key()
                self.conn.executescript(SCHEMA + FEEDBACK_SCHEMA)
                self._add_missing_columns()
                self.conn.commit()

    def _check_owner(self, adopt: bool, readonly: bool) -> None:
        """Refuse a database another program made: one with a foreign application_id or other tables."""
        app_id = self.conn.execute("PRAGMA application_id").fetchone()[0]  # raises for a non-SQLite file
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        ours = app_id == APPLICATION_ID or (app_id == 0 and tables <= OWN_TABLES)  # new, or made before the id
        if readonly and "gifs" not in tables:
            ours = False
        if not ours and not adopt:
            self.conn.close()
            raise StorageError(f"{readable(self.path)}: not a gifemo corpus (a SQLite file made by another program"
                               + ("" if readonly else "; --adopt-db lets gifemo add its tables to it") + ")")

    @contextmanager
    def _guard(self, doing: str):
        try:
            yield
        except sqlite3.Error as exc:
            reason = "not a SQLite database" if "not a database" in str(exc) else one_line(str(exc))
            raise StorageError(f"{readable(self.path)}: cannot {doing}: {reason}") from None
        except OSError as exc:
            raise StorageError(f"{readable(self.path)}: cannot {doing}: {exc.strerror or exc}") from None

    def _rename_pre_split_key(self) -> None:
        """A corpus from before the tag key was split keeps its one key, `model_version`, as its streams' key:
        never equal to a new one, so those records are tagged again unless `adopt_pre_split` vouches for them."""
        have = {row["name"] for row in self.conn.execute("PRAGMA table_info(gifs)")}
        if "model_version" in have and "streams_version" not in have:
            self.conn.execute("ALTER TABLE gifs RENAME COLUMN model_version TO streams_version")

    def _add_missing_columns(self) -> None:
        """A corpus written by an older gifemo gains the newer columns (its records are retagged anyway,
        since their streams' key differs)."""
        have = {row["name"] for row in self.conn.execute("PRAGMA table_info(gifs)")}
        for name, kind in re.findall(r"^\s+(\w+)\s+(TEXT|REAL|INTEGER|BLOB)", SCHEMA, re.M):
            if name not in have:
                self.conn.execute(f"ALTER TABLE gifs ADD COLUMN {name} {kind}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Corpus":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def put(self, record: GifRecord) -> None:
        self.put_many([record])

    def put_many(self, records: list[GifRecord]) -> None:
        """Writes the records in one transaction: all of them are durable when it returns, or none."""
        rows = [_row(record) for record in records]
        if not rows:
            return
        columns = ", ".join(rows[0])
        marks = ", ".join(f":{k}" for k in rows[0])
        with self._guard("write the corpus"), self.conn:
            self.conn.executemany(f"INSERT OR REPLACE INTO gifs ({columns}) VALUES ({marks})", rows)
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('changed_at', ?)", (repr(time.time()),))

    def _one(self, query: str, *args):
        with self._guard("read the corpus"):
            return self.conn.execute(query, args).fetchone()

    def get(self, sha256: str) -> Optional[GifRecord]:
        row = self._one("SELECT * FROM gifs WHERE sha256 = ?", sha256)
        return _record(row) if row else None

    def reusable(self, sha256: str, streams_version: str) -> Optional[GifRecord]:
        """The record of `sha256` when its streams ran with `streams_version`: its Evidence stands, whatever
        decided it. None when there is none, or when it was made with other options or stream models."""
        row = self._one("SELECT * FROM gifs WHERE sha256 = ? AND streams_version = ?", sha256, streams_version)
        return _record(row) if row else None

    def adopt_pre_split(self, old_key: str, streams_version: str) -> None:
        """Records from before the tag key was split, tagged under `old_key` (these streams' options and models
        with the shipped decision), get `streams_version`: their Evidence is reused, their decision made again."""
        with self._guard("write the corpus"), self.conn:
            self.conn.execute("UPDATE gifs SET streams_version = ? WHERE streams_version = ?",
                              (streams_version, old_key))

    def records(self, include_errors: bool = True) -> Iterator[GifRecord]:
        query = "SELECT * FROM gifs" + ("" if include_errors else " WHERE error IS NULL") + " ORDER BY path"
        with self._guard("read the corpus"):
            for row in self.conn.execute(query):
                yield _record(row)

    def __len__(self) -> int:
        return self._one("SELECT COUNT(*) FROM gifs")[0]

    def changed_at(self) -> float:
        """When the corpus was last written (used to know when a search index is stale)."""
        row = self._one("SELECT value FROM meta WHERE key = 'changed_at'")
        return float(row["value"]) if row else 0.0

    def add_feedback(self, sha256: str, message: str, emotion: str, vote: int) -> None:
        """A 👍 (+1) or 👎 (-1) for the GIF `sha256` suggested for `message`, which read as `emotion`."""
        if vote not in (1, -1):
            raise ValueError(f"a vote is +1 or -1, not {vote!r}")
        with self.conn:
            self.conn.execute("INSERT INTO feedback VALUES (?, ?, ?, ?, ?)",
                              (sha256, readable(message), emotion, vote, time.time()))

    def feedback_votes(self) -> dict[str, dict[str, int]]:
        """sha256 -> {message emotion: net votes}."""
        out: dict[str, dict[str, int]] = {}
        if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'feedback'").fetchone():
            return out  # a corpus opened read-only that never got a vote
        for row in self.conn.execute("SELECT sha256, emotion, SUM(vote) AS net FROM feedback GROUP BY sha256, emotion"):
            out.setdefault(row["sha256"], {})[row["emotion"]] = int(row["net"])
        return out

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        with self._guard("read the corpus"):
            for column in ("emotion", "source"):
                rows = self.conn.execute(f"SELECT {column} AS k, COUNT(*) AS n FROM gifs WHERE error IS NULL "
                                         f"GROUP BY {column}")
                out[column] = {str(r["k"]): r["n"] for r in rows}
        out["error"] = {"failed": self._one("SELECT COUNT(*) FROM gifs WHERE error IS NOT NULL")[0]}
        return out


def _connect_readonly(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StorageError(f"{readable(path)}: no corpus there (make one with `gifemo tag`)")
    uri = "file:" + urllib.parse.quote(os.fsencode(path.resolve()))
    conn = sqlite3.connect(uri + "?mode=ro", uri=True)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # A WAL corpus on a read-only disk: SQLite cannot make its shared-memory file there.
        conn.close()
        conn = sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True)
    return conn


class JsonlWriter:
    """One JSON record per line, written whole or not at all: a failed write (disk full) cuts the file
    back to its last complete line and raises StorageError."""

    def __init__(self, path: Optional[str | Path]):
        self.path = path
        self.fd = None
        self.size = 0
        if path is not None:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)   # as the corpus's folder is
                self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
            except OSError as exc:
                raise StorageError(f"{readable(path)}: cannot write: {exc.strerror or exc}") from None

    def write(self, record: GifRecord, path: str) -> None:
        if self.fd is None:
            return
        data = record.to_dict()
        data["path"] = readable(path)  # the same content may sit at several paths
        data["error"] = None if record.error is None else readable(record.error)
        raw = raw_name(path)
        if raw is not None:
            data["path_raw_hex"] = raw.hex()
        line = (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")
        done = 0
        try:
            while done < len(line):
                done += os.write(self.fd, line[done:])
        except OSError as exc:
            os.ftruncate(self.fd, self.size)
            raise StorageError(f"{readable(self.path)}: cannot write: {exc.strerror or exc}") from None
        self.size += len(line)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _row(record: GifRecord) -> dict:
    row = record.to_dict()
    for key in JSON_FIELDS:
        row[key] = json.dumps(row[key])  # ASCII: names that are not UTF-8 come out as \\u escapes
    row["path"], row["path_raw"] = readable(record.path), raw_name(record.path)
    row["error"] = None if record.error is None else readable(record.error)
    return row


def _record(row: sqlite3.Row) -> GifRecord:
    known = {f.name for f in fields(GifRecord)}
    data = {k: v for k, v in dict(row).items() if k in known}  # columns an older gifemo wrote are ignored
    data["path"] = from_raw_name(data["path"], row["path_raw"] if "path_raw" in row.keys() else None)
    for key in JSON_FIELDS:
        data[key] = json.loads(data[key]) if data[key] else ([] if key in ("evidence", "warnings") else {})
    for key in ("reason", "caption", "streams_version", "decision_version"):
        data[key] = data.get(key) or ""
    return GifRecord(**data)
