"""`gifemo train drawn`: render emoji + draw procedural faces, augment them towards stickers, train DrawnNet.

The validation set is made the same way from other random draws; the real test is the demo's seven emoji
(never trained on) and the drawn GIFs of gifs_train / gifs_dev (bench/bench_drawn.py).
"""
from __future__ import annotations

import functools
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from ..emotions import EMOTIONS
from ..paths import WEIGHTS_DIR
from .augment import sticker_frame
from .model import DEFAULT_WIDTHS, DRAWN_WEIGHTS, DrawnNet, load_drawn, predict_proba, save_drawn, to_tensor
from .procedural import demo_face, draw_face
from .render import Sprite, render_emoji


@dataclass
class DrawnTrainOptions:
    out: Path = WEIGHTS_DIR
    per_class: int = 2500          # training images per emotion
    val_per_class: int = 300
    emoji_share: float = 0.5       # the rest are procedural faces
    demo_share: float = 0.0        # share of the procedural faces drawn in the project's own emoji style
    epochs: int = 8
    time_budget: float = 20.0      # minutes of training (data generation not counted)
    batch_size: int = 128
    lr: float = 3e-3
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    threads: int = 1
    seed: int = 0
    init: Optional[Path] = None    # start from these weights (a warm restart on freshly drawn data)


def make_images(sprites: dict[str, list[Sprite]], per_class: int, emoji_share: float, demo_share: float,
                rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    """(N, 64, 64, 3) uint8 images and (N,) labels, balanced over the emotions."""
    images, labels = [], []
    for label, emotion in enumerate(EMOTIONS):
        for _ in range(per_class):
            if sprites[emotion] and rng.random() < emoji_share:
                sprite = rng.choice(sprites[emotion])
            else:
                sprite = (demo_face if rng.random() < demo_share else draw_face)(emotion, rng)
            images.append(sticker_frame(sprite.image, rng))
            labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64)


def _jitter(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Cheap per-batch augmentation on top of the rendered variety: mirror and a shift of up to 4 px."""
    if torch.rand(1, generator=generator).item() < 0.5:
        x = x.flip(3)
    dx, dy = torch.randint(-4, 5, (2,), generator=generator).tolist()
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def evaluate(model: DrawnNet, images: np.ndarray, labels: np.ndarray) -> dict:
    model.eval()
    probs = np.concatenate([predict_proba(model, images[i:i + 512]) for i in range(0, len(images), 512)])
    predicted = probs.argmax(1)
    recall = {e: float((predicted[labels == k] == k).mean()) for k, e in enumerate(EMOTIONS)}
    return {"accuracy": float((predicted == labels).mean()), "recall": recall}


def train(options: DrawnTrainOptions, log=functools.partial(print, flush=True)) -> dict:
    torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    rng = random.Random(options.seed)
    sprites: dict[str, list[Sprite]] = {e: [] for e in EMOTIONS}
    for sprite in render_emoji():
        sprites[sprite.emotion].append(sprite)
    start = time.time()
    x_train, y_train = make_images(sprites, options.per_class, options.emoji_share, options.demo_share, rng)
    x_val, y_val = make_images(sprites, options.val_per_class, options.emoji_share, options.demo_share,
                               random.Random(options.seed + 1000))
    log(f"{len(x_train)} training and {len(x_val)} validation images from "
        f"{sum(map(len, sprites.values()))} emoji renderings + procedural faces in {time.time() - start:.0f} s")

    model = load_drawn(options.init) if options.init else DrawnNet(options.widths)
    optimiser = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=5e-4)
    steps = options.epochs * math.ceil(len(x_train) / options.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=options.lr, total_steps=steps, pct_start=0.15)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    generator = torch.Generator().manual_seed(options.seed)
    history, start = [], time.time()
    for epoch in range(options.epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator).numpy()
        total = 0.0
        for i in range(0, len(order), options.batch_size):
            batch = order[i:i + options.batch_size]
            x = _jitter(to_tensor(x_train[batch]), generator)
            loss = loss_fn(model(x), torch.from_numpy(y_train[batch]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(batch)
        figures = evaluate(model, x_val, y_val)
        history.append({"epoch": epoch + 1, "loss": total / len(order), "val_accuracy": figures["accuracy"],
                        "minutes": (time.time() - start) / 60})
        log(f"epoch {epoch + 1}/{options.epochs}: loss {history[-1]['loss']:.3f}, "
            f"synthetic val accuracy {figures['accuracy']:.3f} ({history[-1]['minutes']:.1f} min)")
        if history[-1]["minutes"] > options.time_budget:
            log(f"time budget of {options.time_budget} min reached")
            break
    metrics = {"synthetic_val": evaluate(model, x_val, y_val), "history": history,
               "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
               "sprites": {e: len(s) for e, s in sprites.items()}, "train_images": int(len(x_train))}
    out = Path(options.out)
    save_drawn(model, out / DRAWN_WEIGHTS, metrics)
    (out / "drawn_expression_metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


if __name__ == "__main__":   # pragma: no cover - use `gifemo train drawn`
    sys.exit("use `gifemo train drawn`")
