"""The tagged corpus: one SQLite row per file content (sha256), written as soon as each file is done.

SQLite in WAL mode with one commit per record means a killed run loses nothing already tagged, and
a rerun skips what is there (same content, same model version).
"""
from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Iterator, Optional

SCHEMA = """
CREATE TABLE IF NOT EXISTS gifs (
    sha256        TEXT PRIMARY KEY,
    path          TEXT NOT NULL,
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
    model_version TEXT,
    warnings      TEXT,
    error         TEXT,
    tagged_at     REAL
);
CREATE INDEX IF NOT EXISTS gifs_emotion ON gifs (emotion);
CREATE INDEX IF NOT EXISTS gifs_path ON gifs (path);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""

JSON_FIELDS = ("scores", "evidence", "warnings")


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
    model_version: str = ""
    warnings: list = field(default_factory=list)   # e.g. "file is truncated; used the complete frames"
    error: Optional[str] = None
    tagged_at: float = field(default_factory=time.time)

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


class Corpus:
    def __init__(self, db_path: str | Path):
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), timeout=30)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        self._add_missing_columns()
        self.conn.commit()

    def _add_missing_columns(self) -> None:
        """A corpus written by an older gifemo gains the newer columns (its records are retagged anyway,
        since their model version differs)."""
        have = {row["name"] for row in self.conn.execute("PRAGMA table_info(gifs)")}
        for name, kind in re.findall(r"^\s+(\w+)\s+(TEXT|REAL|INTEGER)", SCHEMA, re.M):
            if name not in have:
                self.conn.execute(f"ALTER TABLE gifs ADD COLUMN {name} {kind}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Corpus":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def put(self, record: GifRecord) -> None:
        row = record.to_dict()
        for key in JSON_FIELDS:
            row[key] = json.dumps(row[key])
        columns = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        with self.conn:  # one transaction per record: durable as soon as it returns
            self.conn.execute(f"INSERT OR REPLACE INTO gifs ({columns}) VALUES ({marks})", row)
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('changed_at', ?)", (repr(time.time()),))

    def get(self, sha256: str) -> Optional[GifRecord]:
        row = self.conn.execute("SELECT * FROM gifs WHERE sha256 = ?", (sha256,)).fetchone()
        return _record(row) if row else None

    def is_current(self, sha256: str, model_version: str) -> bool:
        row = self.conn.execute("SELECT model_version FROM gifs WHERE sha256 = ?", (sha256,)).fetchone()
        return row is not None and row["model_version"] == model_version

    def records(self, include_errors: bool = True) -> Iterator[GifRecord]:
        query = "SELECT * FROM gifs" + ("" if include_errors else " WHERE error IS NULL") + " ORDER BY path"
        for row in self.conn.execute(query):
            yield _record(row)

    def __len__(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM gifs").fetchone()[0]

    def changed_at(self) -> float:
        """When the corpus was last written (used to know when a search index is stale)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'changed_at'").fetchone()
        return float(row["value"]) if row else 0.0

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for column in ("emotion", "source"):
            rows = self.conn.execute(f"SELECT {column} AS k, COUNT(*) AS n FROM gifs WHERE error IS NULL GROUP BY {column}")
            out[column] = {str(r["k"]): r["n"] for r in rows}
        out["error"] = {"failed": self.conn.execute("SELECT COUNT(*) FROM gifs WHERE error IS NOT NULL").fetchone()[0]}
        return out


def _record(row: sqlite3.Row) -> GifRecord:
    known = {f.name for f in fields(GifRecord)}
    data = {k: v for k, v in dict(row).items() if k in known}  # columns an older gifemo wrote are ignored
    for key in JSON_FIELDS:
        data[key] = json.loads(data[key]) if data[key] else ([] if key in ("evidence", "warnings") else {})
    data["reason"], data["caption"] = data.get("reason") or "", data.get("caption") or ""
    return GifRecord(**data)
