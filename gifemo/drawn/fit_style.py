"""`gifemo train drawn-style`: fit the photo-or-drawing check on a labelled GIF folder with a `content` column
(gifs_train), with accuracy cross-validated by source collection, then refit on everything."""
from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np

from ..media import MediaError, read_clip
from ..paths import WEIGHTS_DIR
from .style import DRAWN_CONTENT, PHOTO_CONTENT, STYLE_WEIGHTS, StyleModel, clip_features

STYLE_FRAMES = 6   # frames per GIF the stream also samples for the check
FOLDS = 5


def gif_features(path: Path) -> np.ndarray:
    return clip_features(read_clip(path, num_frames=STYLE_FRAMES).frames)


def read_labelled(data: Path, log=print) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Features, drawn labels (1/0), source groups and paths of the drawn and photographed GIFs in
    DIR/manifest.csv; other content (text-only) is left out."""
    features, drawn, groups, paths = [], [], [], []
    with open(data / "manifest.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r.get("content") in DRAWN_CONTENT | PHOTO_CONTENT]
    for i, row in enumerate(rows):
        try:
            features.append(gif_features(data / row["file"]))
        except MediaError as exc:
            log(f"skipped {exc}")
            continue
        drawn.append(int(row["content"] in DRAWN_CONTENT))
        groups.append(row["source_repo"])
        paths.append(row["file"])
        if (i + 1) % 25 == 0:
            log(f"{i + 1}/{len(rows)} GIFs read")
    return np.array(features), np.array(drawn), np.array(groups), paths


def cross_validate(features: np.ndarray, drawn: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Out-of-fold P(drawn) per GIF; folds never split a source collection."""
    from sklearn.model_selection import GroupKFold

    out = np.zeros(len(drawn))
    for train, test in GroupKFold(n_splits=FOLDS).split(features, drawn, groups):
        out[test] = StyleModel.fit(features[train], drawn[train]).probability(features[test])
    return out


def fit_style(data: Path, out: Path = WEIGHTS_DIR, log=functools.partial(print, flush=True)) -> dict:
    features, drawn, groups, _ = read_labelled(Path(data), log)
    held_out = cross_validate(features, drawn, groups)
    predicted = held_out >= 0.5
    metrics = {"gifs": int(len(drawn)), "drawn": int(drawn.sum()), "folds": f"{FOLDS}-fold grouped by source_repo",
               "cv_accuracy": float((predicted == drawn).mean()),
               "cv_drawn_recall": float(predicted[drawn == 1].mean()),
               "cv_photo_recall": float((~predicted)[drawn == 0].mean()),
               "data": str(data)}
    model = StyleModel.fit(features, drawn)
    model.metrics = metrics
    model.save(Path(out) / STYLE_WEIGHTS)
    return metrics
