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
class DrawnOptions:
    """Options of the drawn-face stream (gifemo.drawn.stream)."""
    num_frames: int = 6                    # frames of the clip read for the photo-or-drawing check and the faces
    # below this P(drawn) the clip is left to the photo face stream and the drawn stream abstains
    min_drawn_probability: float = 0.5
    landmarks: bool = True                 # look for a MediaPipe face mesh inside drawn objects and scenes
    min_detection_confidence: float = 0.3
