"""EMFACS prototype rules: AU intensities -> one rule score per emotion (data/emfacs_rules.csv)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping, Optional

from ..emotions import EMOTIONS
from ..paths import DATA_DIR
from .aus import _rows

EMFACS_RULES_TABLE = DATA_DIR / "emfacs_rules.csv"


@dataclass(frozen=True)
class Prototype:
    emotion: str
    aus: tuple[str, ...]  # ("AU6", "AU12")
    source: str

    def score(self, aus: Mapping[str, float], universe: Iterable[str]) -> float:
        """Soft Jaccard match of the active AUs with the prototype: its AUs' summed intensity over
        (its size + the intensity of the other AUs of `universe`). 1 when exactly the prototype is
        fully active; active AUs outside the prototype lower it, so fear (1+2+4+5+7+20+26) beats
        surprise (1+2+5+26) when all of fear's AUs are on."""
        inside = sum(float(aus.get(au, 0.0)) for au in self.aus)
        outside = sum(float(aus.get(au, 0.0)) for au in universe if au not in self.aus)
        return inside / (len(self.aus) + outside)


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
    rules = [rule for rule in load_rules(table) if rule.source in sources]
    universe = sorted({au for rule in rules for au in rule.aus})
    scores = {name: 0.0 for name in EMOTIONS}
    for rule in rules:
        scores[rule.emotion] = max(scores[rule.emotion], rule.score(aus, universe))
    scores["neutral"] = 1.0 - max(v for k, v in scores.items() if k != "neutral")
    return scores
