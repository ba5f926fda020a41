"""`gifemo` command line: a thin layer over the library. One `_add_<command>` function per subcommand."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional

from . import __version__, models
from .media import MediaError
from .facs import cli as facs_cli


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--models-dir", metavar="DIR",
                        help="folder with third-party model files (default: $GIFEMO_MODELS_DIR, then the user cache)")
    common.add_argument("--offline", action="store_true",
                        help="never download model files (also: GIFEMO_OFFLINE=1)")
    return common


# ---------------------------------------------------------------- models
def _cmd_models(args: argparse.Namespace) -> int:
    names = args.names or list(models.REGISTRY)
    if args.action == "list":
        for name in names:
            spec = models.get_spec(name)
            where, state = models.local_status(name, models_dir=args.models_dir)
            print(f"{name:16s} {state:8s} {where or '-'}\n{'':16s} {spec.description}")
        return 0
    status = 0
    for name in names:
        try:
            if args.action == "download":
                print(f"{name}: {models.resolve(name, models_dir=args.models_dir, offline=args.offline)}")
            elif args.action == "verify":
                print(f"{name}: OK {models.verify(name, models_dir=args.models_dir)}")
            else:  # path
                print(models.resolve(name, models_dir=args.models_dir, download=False))
        except (models.MissingModelError, models.ModelVerificationError) as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            status = 1
    return status


def _add_models(sub, common) -> None:
    p = sub.add_parser("models", parents=[common], help="list, download, verify or locate model files")
    p.add_argument("action", choices=["list", "download", "verify", "path"])
    p.add_argument("names", nargs="*", metavar="NAME", help=f"models (default: all): {', '.join(models.REGISTRY)}")
    p.set_defaults(func=_cmd_models)


# ---------------------------------------------------------------- train
# Each trainable model registers `add_train_target(train_sub, common)` here.
TRAIN_TARGETS: list[Callable] = []
TRAIN_TARGETS.append(facs_cli.add_train_target)


def _add_train(sub, common) -> None:
    p = sub.add_parser("train", help="train one of the project's own models")
    targets = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    for add in TRAIN_TARGETS:
        add(targets, common)


COMMANDS: list[Callable] = [_add_models, _add_train]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gifemo", description="Recognise the emotion in animated GIFs and suggest GIFs for a message.")
    parser.add_argument("--version", action="version", version=f"gifemo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common_options()
    for add in COMMANDS:
        add(sub, common)
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "offline", False):
        import os

        os.environ["GIFEMO_OFFLINE"] = "1"
    try:
        return int(args.func(args) or 0)
    except (MediaError, models.MissingModelError, models.ModelVerificationError) as exc:
        print(f"gifemo {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
