"""Settings made once at the edge (CLI, app, service) and passed down; torch-free so it imports fast.

`Runtime` says where model files are and how the process may use the machine. Library code reads it;
nothing below the edge reads or writes `os.environ`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Optional

TRUE_WORDS = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Runtime:
    models_dir: Optional[Path] = None   # a folder laid out like ../shared/models, searched before the user cache
    cache_dir: Optional[Path] = None    # where downloads go (default: the user cache, see gifemo.models)
    offline: bool = False               # never download model files
    threads: int = 0                    # CPU threads per process for torch and OpenCV; 0 = all cores
    device: str = "cpu"
    verbose: int = 0                    # 0 quiet (third-party logs silenced), 1 -v, 2 -vv

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides) -> "Runtime":
        """The defaults a user set in the environment (GIFEMO_MODELS_DIR, GIFEMO_CACHE_DIR, GIFEMO_OFFLINE),
        then explicit overrides (None means "not given")."""
        env = os.environ if environ is None else environ
        base = cls(models_dir=_path(env.get("GIFEMO_MODELS_DIR")), cache_dir=_path(env.get("GIFEMO_CACHE_DIR")),
                   offline=env.get("GIFEMO_OFFLINE", "").strip().lower() in TRUE_WORDS)
        given = {k: v for k, v in overrides.items() if v is not None}
        if "models_dir" in given:
            given["models_dir"] = _path(given["models_dir"])
        return replace(base, **given)

    def torch_threads(self) -> int:
        return self.threads or (os.cpu_count() or 1)


def _path(value) -> Optional[Path]:
    return Path(value).expanduser() if value else None


@dataclass
class CaptionOptions:
    """The caption stream (gifemo.caption): which frames it reads and when its words count as an emotion."""
    check_frames: int = 8           # frames given the cheap text-presence check, evenly over the clip's frames
    # Of those that pass, OCR reads the first, the last when its letters are elsewhere, and the rest of
    # `ocr_frames` spread between them only when those two read differently (a caption that changes mid-GIF).
    ocr_frames: int = 3
    min_ocr_score: float = 0.6      # recognised lines below this OCR confidence are dropped
    # The text model's top probability below this, or a neutral top, is no emotion: the stream abstains
    # (names, show titles, "Which seat can I take?").
    min_emotion_score: float = 0.5
    text_model: Optional[str] = None  # "bilstm" | "minilm"; None: gifemo.text.DEFAULT_MODEL
