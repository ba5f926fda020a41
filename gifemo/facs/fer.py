"""FER2013 in the Kaggle folder layout (`<split>/<class>/*.jpg`, 48x48 grey), loaded whole into memory."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..emotions import EMOTIONS, normalize_label


def load_split(folder: str | Path, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """All images of one split as (N, 48, 48) uint8 and labels as (N,) int64 indexes into EMOTIONS."""
    folder = Path(folder)
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir())
    if not class_dirs:
        raise FileNotFoundError(f"{folder}: no class folders (expected e.g. {folder}/happy/*.jpg)")
    files, labels = [], []
    for class_dir in class_dirs:
        label = EMOTIONS.index(normalize_label(class_dir.name))
        for path in sorted(class_dir.iterdir()):
            if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
                files.append(path)
                labels.append(label)
    images = np.empty((len(files), 48, 48), dtype=np.uint8)
    for i, path in enumerate(tqdm(files, desc=f"loading {folder.name}", disable=not progress, unit="img")):
        with Image.open(path) as im:
            images[i] = np.asarray(im.convert("L").resize((48, 48), Image.BILINEAR))
    return images, np.asarray(labels, dtype=np.int64)
