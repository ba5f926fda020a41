"""The two training corpora, read into one shape: texts and 7-emotion target distributions.

- tweet_emotion (CARER), `text;label`: sadness joy love anger fear surprise; joy and love -> happiness.
- goemotions_ekman (Reddit), `text<TAB>ids<TAB>id` with ids into labels.txt; joy -> happiness.
  A multi-label row (about 9 % of rows) becomes a target spread evenly over its labels, so the
  model learns that both readings are right; scoring of such rows is in `metrics.py`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..emotions import EMOTIONS, normalize_label

TWEETS, GOEMOTIONS = "tweet_emotion", "goemotions_ekman"
CORPORA = (TWEETS, GOEMOTIONS)
TWEET_EMOTIONS = ("anger", "fear", "happiness", "sadness", "surprise")  # after joy/love -> happiness
LABEL_SPACES = {TWEETS: TWEET_EMOTIONS, GOEMOTIONS: EMOTIONS}  # the emotions each corpus can label
SPLITS = {TWEETS: {"train": "train.txt", "val": "val.txt", "test": "test.txt"},
          GOEMOTIONS: {"train": "train.tsv", "val": "dev.tsv", "test": "test.tsv"}}


@dataclass
class TextSet:
    """One split of a labelled text corpus (tweet_emotion or goemotions_ekman)."""
    name: str
    texts: list[str]
    targets: np.ndarray  # (N, 7) float32, rows sum to 1
    labels: np.ndarray  # (N, 7) bool: the gold label set of each row

    def __len__(self) -> int:
        return len(self.texts)


def _one_corpus(name: str, texts: list[str], label_sets: list[list[str]]) -> TextSet:
    labels = np.zeros((len(texts), len(EMOTIONS)), dtype=bool)
    for row, names in enumerate(label_sets):
        for label in names:
            labels[row, EMOTIONS.index(normalize_label(label))] = True
    targets = labels / labels.sum(axis=1, keepdims=True)
    return TextSet(name, texts, targets.astype(np.float32), labels)


def read_tweet_emotion(path: Path) -> TextSet:
    texts, label_sets = [], []
    for line_no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        text, sep, label = line.rpartition(";")
        if not sep:
            raise ValueError(f"{path}:{line_no}: expected 'text;label'")
        texts.append(text)
        label_sets.append([label])
    return _one_corpus(TWEETS, texts, label_sets)


def read_goemotions(path: Path) -> TextSet:
    path = Path(path)
    names = (path.parent / "labels.txt").read_text(encoding="utf-8").split()
    texts, label_sets = [], []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise ValueError(f"{path}:{line_no}: expected 'text<TAB>label ids<TAB>id'")
        texts.append(fields[0])
        label_sets.append([names[int(i)] for i in fields[1].split(",")])
    return _one_corpus(GOEMOTIONS, texts, label_sets)


def label_space(corpus: str) -> np.ndarray:
    """(7,) bool: which EMOTIONS `corpus` can label (CARER has no neutral or disgust)."""
    return np.array([e in LABEL_SPACES[corpus] for e in EMOTIONS])


def read_split(data_dir: Path, corpus: str, split: str) -> TextSet:
    """`data_dir` is the folder holding tweet_emotion/ and goemotions_ekman/ (e.g. ../shared/data)."""
    path = Path(data_dir) / corpus / SPLITS[corpus][split]
    if not path.is_file():
        raise FileNotFoundError(f"{corpus} {split} split not found at {path}")
    return (read_tweet_emotion if corpus == TWEETS else read_goemotions)(path)
