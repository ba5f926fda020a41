"""Command-line entry points of the drawn-face stream: `gifemo train drawn` and `gifemo train drawn-style`."""
from __future__ import annotations

import argparse
from pathlib import Path

from .. import models
from ..paths import WEIGHTS_DIR


def _cmd_train_drawn(args: argparse.Namespace) -> int:
    from .train import DrawnTrainOptions, train

    options = DrawnTrainOptions(out=Path(args.out), per_class=args.per_class, epochs=args.epochs,
                                time_budget=args.time_budget, threads=args.threads or 1, seed=args.seed,
                                lr=args.lr, demo_share=args.demo_share, init=Path(args.init) if args.init else None)
    metrics = train(options)
    print(f"synthetic val accuracy {metrics['synthetic_val']['accuracy']:.4f}; weights and figures in {options.out}")
    return 0


def _cmd_train_average(args: argparse.Namespace) -> int:
    from .model import DRAWN_WEIGHTS, average_drawn, save_drawn

    runs = [str(Path(w).resolve()) for w in args.weights]
    model = average_drawn(runs)
    members = [models.load_torch_checkpoint(w).get("metrics", {}) for w in runs]
    path = save_drawn(model, Path(args.out) / DRAWN_WEIGHTS,
                      {"average_of": runs, "synthetic_val_of_runs": [m.get("synthetic_val", {}).get("accuracy")
                                                                     for m in members]})
    print(f"mean of {len(runs)} runs written to {path}")
    return 0


def _cmd_train_style(args: argparse.Namespace) -> int:
    from .fit_style import fit_style

    metrics = fit_style(Path(args.data), Path(args.out))
    print(f"photo-or-drawing check: cross-validated accuracy {metrics['cv_accuracy']:.4f} on {metrics['gifs']} GIFs "
          f"(drawn recall {metrics['cv_drawn_recall']:.3f}, photo recall {metrics['cv_photo_recall']:.3f})")
    return 0


def add_train_target(train_sub, common) -> None:
    p = train_sub.add_parser("drawn", parents=[common],
                             help="train the drawn-face (emoji, sticker) expression CNN on rendered emoji and "
                                  "procedural faces (needs fonts-noto-color-emoji and fonts-symbola)")
    p.add_argument("--out", default=str(WEIGHTS_DIR), metavar="DIR", help="where weights and figures go (default: %(default)s)")
    p.add_argument("--per-class", type=int, default=2500, help="training images per emotion (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--time-budget", type=float, default=20.0, metavar="MINUTES",
                   help="stop after the epoch that passes this many minutes of training (default: %(default)s)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--seed", type=int, default=0, help="seed of the drawings, the augmentation and the network")
    p.add_argument("--demo-share", type=float, default=0.0, metavar="SHARE",
                   help="share of the procedural faces drawn in the project's own emoji style (default: %(default)s)")
    p.add_argument("--init", metavar="WEIGHTS",
                   help="start from these weights (their widths are kept) and train on newly drawn data")
    p.set_defaults(func=_cmd_train_drawn)

    p = train_sub.add_parser("drawn-average", parents=[common],
                             help="average the weights of drawn-face CNN runs fine-tuned from the same weights")
    p.add_argument("weights", nargs="+", metavar="WEIGHTS", help="drawn_expression.pt files of the runs")
    p.add_argument("--out", default=str(WEIGHTS_DIR), metavar="DIR", help="where the mean goes (default: %(default)s)")
    p.set_defaults(func=_cmd_train_average)

    p = train_sub.add_parser("drawn-style", parents=[common],
                             help="fit the photo-or-drawing check on GIFs labelled with a `content` column")
    p.add_argument("--data", required=True, metavar="DIR", help="folder with manifest.csv (content column), e.g. gifs_train")
    p.add_argument("--out", default=str(WEIGHTS_DIR), metavar="DIR", help="where drawn_style.json goes (default: %(default)s)")
    p.set_defaults(func=_cmd_train_style)

