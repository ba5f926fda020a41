"""Adding an uploaded GIF to a corpus: kept beside the corpus by content, tagged, written as one record.

The service's POST /tag and the app's Tag page both come through here, so an upload is checked, named and
stored the same way as a file tagged by `gifemo tag` (same decoding limits, same record).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from ..corpus import Corpus, GifRecord
from ..media import DecodeLimits

UPLOAD_SUFFIXES = (".gif",)


class UploadError(ValueError):
    """An upload refused before tagging (too large, empty, not a GIF by name)."""


def uploads_dir(db_path: str | Path) -> Path:
    return Path(str(db_path) + ".uploads")


def check_upload(name: str, size: int, limits: DecodeLimits) -> None:
    if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
        raise UploadError(f"{name}: not a .gif file")
    if size == 0:
        raise UploadError(f"{name}: the file is empty")
    if size > limits.max_bytes:
        raise UploadError(f"{name}: {size} bytes is over the limit of {limits.max_bytes}")


def add_upload(db_path: str | Path, name: str, data: bytes, tagger) -> GifRecord:
    """Store `data` as `<db>.uploads/<sha256>.gif`, tag it with `tagger` (a gifemo.tagger.Tagger) and write its
    record to the corpus. A file that fails to decode is not kept (its record, with the error, is returned and
    not written); a file already in the corpus whose streams ran with the same options and models is not tagged
    again (only re-decided from its stored Evidence when the fitted decision changed since)."""
    check_upload(name, len(data), tagger.options.limits)
    sha = hashlib.sha256(data).hexdigest()
    folder = uploads_dir(db_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha}{Path(name).suffix.lower()}"
    with Corpus(db_path) as corpus:
        existing = corpus.reusable(sha, tagger.streams_version)
        if existing is not None and not existing.error and Path(existing.path).is_file():
            if not tagger.decider.is_current(existing):
                existing = tagger.decider.redecide(existing)
                corpus.put(existing)
            return existing  # already tagged, from this upload or from a folder
        # Written under a temporary name first, so a half-written upload is never tagged or served.
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
        record = tagger.tag_file(path, sha256=sha)
        if record.error:
            path.unlink(missing_ok=True)
            record.error = record.error.replace(str(path), name)
            return record
        corpus.put(record)
    return record
