"""Blendshapes -> FACS action-unit intensities, by the documented table data/action_units.csv."""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Optional

from ..paths import DATA_DIR

ACTION_UNITS_TABLE = DATA_DIR / "action_units.csv"


@dataclass(frozen=True)
class ActionUnit:
    au: str                              # "AU12"
    name: str                            # "Lip Corner Puller"
    terms: tuple[tuple[str, float], ...]  # (blendshape, weight)

    def intensity(self, blendshapes: Mapping[str, float]) -> float:
        value = sum(weight * float(blendshapes.get(shape, 0.0)) for shape, weight in self.terms)
        return min(1.0, max(0.0, value)) if math.isfinite(value) else 0.0


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


@lru_cache(maxsize=4)
def load_action_units(path: Optional[Path] = None) -> tuple[ActionUnit, ...]:
    units = []
    for row in _rows(Path(path or ACTION_UNITS_TABLE)):
        terms = []
        for term in row["terms"].split():
            shape, _, weight = term.partition(":")
            terms.append((shape, float(weight)))
        units.append(ActionUnit(row["au"], row["name"], tuple(terms)))
    return tuple(units)


def action_units(blendshapes: Mapping[str, float], table: Optional[Path] = None) -> dict[str, float]:
    """{"AU1": 0.12, ...} in table order, each in [0, 1]."""
    return {unit.au: unit.intensity(blendshapes) for unit in load_action_units(table)}


def au_names(table: Optional[Path] = None) -> dict[str, str]:
    return {unit.au: unit.name for unit in load_action_units(table)}
