"""The corpus last used (by the demo, `gifemo app --db` or the app's sidebar), so the app opens it unasked."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..config import Runtime


def _note_file(runtime: Runtime) -> Path:
    return runtime.models_cache().parent / "last_corpus.txt"


def remember_corpus(db: str | Path, runtime: Runtime) -> None:
    note = _note_file(runtime)
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(str(Path(db).resolve()), encoding="utf-8")


def last_corpus(runtime: Runtime) -> Optional[Path]:
    """The corpus last used, if it still exists."""
    try:
        path = Path(_note_file(runtime).read_text(encoding="utf-8").strip())
    except OSError:
        return None
    return path if path.is_file() else None
