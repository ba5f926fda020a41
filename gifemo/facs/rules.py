"""EMFACS prototype rules: AU intensities -> one rule score per emotion (data/emfacs_rules.csv)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Optional

from ..emotions import EMOTIONS
from ..paths import DATA_DIR
from .aus import _rows

EMFACS_RULES_TABLE = DATA_DIR / "emfacs_rules.csv"


@dataclass(frozen=True)
class Prototype:
    emotion: str
    aus: tuple[str, ...]  # ("AU6", "AU12")
    source: str

    def score(self, aus: Mapping[str, float]) -> float:
        """Mean intensity of the prototype's AUs: high only when all of them are active."""
        return sum(float(aus.get(au, 0.0)) for au in self.aus) / len(self.aus)


@lru_cache(maxsize=4)
def load_rules(path: Optional[Path] = None) -> tuple[Prototype, ...]:
    rules = []
    for row in _rows(Path(path or EMFACS_RULES_TABLE)):
        if row["emotion"] not in EMOTIONS or row["emotion"] == "neutral":
            raise ValueError(f"{path or EMFACS_RULES_TABLE}: unknown emotion {row['emotion']!r}")
        rules.append(Prototype(row["emotion"], tuple(f"AU{n}" for n in row["aus"].split()), row["source"]))
    return tuple(rules)


def rule_scores(aus: Mapping[str, float], table: Optional[Path] = None,
                sources: tuple[str, ...] = ("EMFACS", "variant")) -> dict[str, float]:
    """Seven scores in [0, 1] (not a distribution): each emotion's best prototype; neutral = 1 - the best of all."""
    scores = {name: 0.0 for name in EMOTIONS}
    for rule in load_rules(table):
        if rule.source in sources:
            scores[rule.emotion] = max(scores[rule.emotion], rule.score(aus))
    scores["neutral"] = 1.0 - max(v for k, v in scores.items() if k != "neutral")
    return scores
