"""The tagged corpus: one SQLite row per file content (sha256), written as soon as each file is done.

SQLite in WAL mode with one commit per record means a killed run loses nothing already tagged, and
a rerun skips what is there (same content, same model version).
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
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
    faces         TEXT,
    top_aus       TEXT,
    top_actions   TEXT,
    action        TEXT,
    timeline      TEXT,
    model_version TEXT,
    warnings      TEXT,
    error         TEXT,
    tagged_at     REAL
);
CREATE INDEX IF NOT EXISTS gifs_emotion ON gifs (emotion);
CREATE INDEX IF NOT EXISTS gifs_path ON gifs (path);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS feedback (
    sha256   TEXT NOT NULL,
    message  TEXT NOT NULL,
    emotion  TEXT NOT NULL,       -- how the message read (its top emotion) when the vote was given
    vote     INTEGER NOT NULL,    -- +1 or -1
    voted_at REAL NOT NULL
);
"""

JSON_FIELDS = ("scores", "faces", "top_aus", "top_actions", "action", "timeline", "warnings")


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
    source: str = "none"                 # "face", "action" or "none"
    scores: dict = field(default_factory=dict)
    faces: dict = field(default_factory=dict)
    top_aus: list = field(default_factory=list)
    top_actions: list = field(default_factory=list)
    action: dict = field(default_factory=dict)      # action-stream summary: available, scores, mapped mass
    timeline: list = field(default_factory=list)
    model_version: str = ""
    warnings: list = field(default_factory=list)   # e.g. "file is truncated; used the complete frames"
    error: Optional[str] = None
    tagged_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict:
        return asdict(self)


class Corpus:
    def __init__(self, db_path: str | Path):
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(self.path), timeout=30)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)
        self.conn.commit()

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

    def add_feedback(self, sha256: str, message: str, emotion: str, vote: int) -> None:
        """A 👍 (+1) or 👎 (-1) for the GIF `sha256` suggested for `message`, which read as `emotion`."""
        if vote not in (1, -1):
            raise ValueError(f"a vote is +1 or -1, not {vote!r}")
        with self.conn:
            self.conn.execute("INSERT INTO feedback VALUES (?, ?, ?, ?, ?)", (sha256, message, emotion, vote, time.time()))

    def feedback_votes(self) -> dict[str, dict[str, int]]:
        """sha256 -> {message emotion: net votes}."""
        out: dict[str, dict[str, int]] = {}
        for row in self.conn.execute("SELECT sha256, emotion, SUM(vote) AS net FROM feedback GROUP BY sha256, emotion"):
            out.setdefault(row["sha256"], {})[row["emotion"]] = int(row["net"])
        return out

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for column in ("emotion", "source"):
            rows = self.conn.execute(f"SELECT {column} AS k, COUNT(*) AS n FROM gifs WHERE error IS NULL GROUP BY {column}")
            out[column] = {str(r["k"]): r["n"] for r in rows}
        out["error"] = {"failed": self.conn.execute("SELECT COUNT(*) FROM gifs WHERE error IS NOT NULL").fetchone()[0]}
        return out


def _record(row: sqlite3.Row) -> GifRecord:
    data = dict(row)
    for key in JSON_FIELDS:
        data[key] = json.loads(data[key]) if data[key] else ([] if key in ("top_aus", "top_actions", "timeline", "warnings") else {})
    return GifRecord(**data)
