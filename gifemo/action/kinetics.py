"""Kinetics-400 class names (from the model registry) and the project's action -> emotion table.

`data/kinetics_emotion.csv` maps each of the 400 classes, reviewed by hand, to one of the seven
emotions or to none, with a weight in (0, 1]: how reliably the action shows that emotion in a GIF
(laughing 1.0 happiness; clapping 0.5, since claps can be sarcastic; playing cricket: none).
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .. import models
from ..config import Runtime
from ..emotions import EMOTIONS
from ..paths import DATA_DIR

NUM_CLASSES = 400
EMOTION_TABLE = DATA_DIR / "kinetics_emotion.csv"


def load_labels(runtime: Runtime) -> list[str]:
    """The 400 class names in checkpoint index order. Fetched if missing (6 KB) unless offline."""
    path = models.resolve("kinetics-labels", runtime)
    labels = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(labels) != NUM_CLASSES:
        raise ValueError(f"{path}: {len(labels)} class names, expected {NUM_CLASSES}")
    return labels


@dataclass(frozen=True)
class EmotionMap:
    actions: tuple[str, ...]   # class names in index order
    emotion: np.ndarray        # (400,) index into EMOTIONS, -1 where the action maps to none
    weight: np.ndarray         # (400,) in [0, 1], 0 where the action maps to none

    def emotion_mass(self, probs: np.ndarray) -> np.ndarray:
        """(7,) probability mass per emotion: sum over classes of prob x weight, by mapped emotion."""
        mapped = self.emotion >= 0
        return np.bincount(self.emotion[mapped], weights=probs[mapped] * self.weight[mapped],
                           minlength=len(EMOTIONS))

    @property
    def chance_mass(self) -> float:
        """Mapped mass of an uninformative (uniform) prediction."""
        return float(self.weight.mean())


def load_emotion_map(path: os.PathLike = EMOTION_TABLE, labels: Optional[Sequence[str]] = None) -> EmotionMap:
    """Read and check the table; with `labels`, its action names must match them index by index."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if len(rows) != NUM_CLASSES:
        raise ValueError(f"{path}: {len(rows)} rows, expected {NUM_CLASSES}")
    emotion = np.full(NUM_CLASSES, -1, dtype=np.int64)
    weight = np.zeros(NUM_CLASSES)
    for line, row in enumerate(rows, start=2):
        index, name, feeling = int(row["index"]), row["action"], row["emotion"].strip()
        if index != line - 2:
            raise ValueError(f"{path}:{line}: index {index}, expected {line - 2}")
        if labels is not None and name != labels[index]:
            raise ValueError(f"{path}:{line}: action {name!r} but the label map has {labels[index]!r} at {index}")
        if feeling and feeling not in EMOTIONS:
            raise ValueError(f"{path}:{line}: emotion {feeling!r} is not one of {', '.join(EMOTIONS)}")
        value = float(row["weight"])
        if not (0.0 < value <= 1.0 if feeling else value == 0.0):
            raise ValueError(f"{path}:{line}: weight {value} (must be in (0, 1] with an emotion, 0 without)")
        if feeling:
            emotion[index], weight[index] = EMOTIONS.index(feeling), value
    return EmotionMap(tuple(row["action"] for row in rows), emotion, weight)
