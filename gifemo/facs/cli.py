"""Command-line entry points of the face stream: `gifemo face` and `gifemo train face`."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..paths import WEIGHTS_DIR


def _cmd_train_face(args: argparse.Namespace) -> int:
    from .train import TrainOptions, train

    options = TrainOptions(data=Path(args.data), out=Path(args.out), epochs=args.epochs,
                           batch_size=args.batch_size, lr=args.lr, threads=args.threads,
                           widths=tuple(args.widths), bf16=not args.no_bf16, seed=args.seed,
                           time_budget=args.time_budget,
                           work_dir=Path(args.work_dir) if args.work_dir else None)
    metrics = train(options)
    recall = metrics["recall"]
    print(f"val accuracy {metrics['accuracy']:.4f} (10-crop TTA); recall disgust {recall['disgust']:.3f}, "
          f"fear {recall['fear']:.3f}; weights and figures in {options.out}")
    return 0


def _cmd_train_face_fusion(args: argparse.Namespace) -> int:
    import json

    from .train import fit_fusion

    metrics = fit_fusion(Path(args.data), Path(args.out), models_dir=args.models_dir, threads=args.threads)
    print(json.dumps(metrics, indent=1))
    return 0


def add_train_target(train_sub, common) -> None:
    p = train_sub.add_parser("face", parents=[common], help="train the facial-expression CNN on FER2013")
    p.add_argument("--data", required=True, metavar="DIR",
                   help="FER2013 in the Kaggle folder layout: DIR/train/<class>/*.jpg and DIR/val/<class>/*.jpg")
    p.add_argument("--out", default=str(WEIGHTS_DIR), metavar="DIR", help="where weights and figures go (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--time-budget", type=float, metavar="MINUTES",
                   help="end training (with the learning rate annealed) after this many minutes, even before --epochs")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--widths", type=int, nargs="+", default=[32, 64, 128, 256], help="channels per stage")
    p.add_argument("--threads", type=int, default=2,
                   help="torch threads (use 1 when other jobs share the cores: 2 contended threads run slower)")
    p.add_argument("--no-bf16", action="store_true", help="train in float32 (slower on CPUs with AMX)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work-dir", metavar="DIR", help="checkpoint folder; an existing checkpoint is resumed")
    p.set_defaults(func=_cmd_train_face)

    p = train_sub.add_parser("face-fusion", parents=[common],
                             help="fit the CNN + EMFACS-rules combination on FER2013 val (after `train face`)")
    p.add_argument("--data", required=True, metavar="DIR", help="FER2013 folder (uses DIR/val)")
    p.add_argument("--out", default=str(WEIGHTS_DIR), metavar="DIR",
                   help="folder with face_expression.pt; face_fusion.json is written there (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=_cmd_train_face_fusion)
