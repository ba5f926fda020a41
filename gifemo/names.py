"""File names that are not valid UTF-8: kept losslessly, shown readably.

Python holds such a name as a str with lone surrogates (surrogateescape); SQLite, JSON files and the
terminal all refuse those. `readable` gives the text to show and store (`\\xff` for a bad byte), and
`raw_name`/`from_raw_name` carry the exact bytes so the file can be found again.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def readable(text: os.PathLike | str | bytes) -> str:
    """Valid UTF-8 text for showing a name: undecodable bytes as \\xNN escapes."""
    text = os.fspath(text)
    if isinstance(text, str):
        if not _has_surrogates(text):
            return text
        text = _to_bytes(text)
    return text.decode("utf-8", "backslashreplace")


def raw_name(path: os.PathLike | str) -> Optional[bytes]:
    """The name's bytes when `readable` cannot give them back exactly, else None."""
    path = os.fspath(path)
    return _to_bytes(path) if isinstance(path, str) and _has_surrogates(path) else None


def from_raw_name(readable_name: str, raw: Optional[bytes]) -> str:
    return os.fsdecode(raw) if raw else readable_name


def one_line(text: str) -> str:
    """An error text fit for one line of a report: readable, no newlines, no object memory addresses."""
    return _ADDRESS.sub("", " ".join(readable(text).split()))


def refuse_overwrite(output: Optional[os.PathLike | str], **inputs: Optional[os.PathLike | str]) -> None:
    """ValueError when writing `output` would overwrite one of `inputs` (named by keyword: corpus=..., input=...),
    whatever names the two are given by: a command never destroys what it reads."""
    if output is None:
        return
    for name, path in inputs.items():
        if path is not None and Path(path).resolve() == Path(output).resolve():
            raise ValueError(f"{readable(output)}: writing it would overwrite the {name.replace('_', ' ')}; "
                             "name another file")


def count(n: int, noun: str) -> str:
    """'1 file', '3 files': a number and its noun, for the summaries people read."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _to_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no file name decoded to
        return text.encode("utf-8", "replace")
