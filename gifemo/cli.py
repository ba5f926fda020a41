"""`gifemo` command line: a thin layer over the library. One `_add_<command>` function per subcommand."""
from __future__ import annotations

import argparse
import errno
import os
import sys
import warnings
from pathlib import Path
from typing import Callable, Optional

from . import __version__, models
from .action import cli as action_cli
from .cli_types import non_negative_float, positive_int
from .config import DEFAULT_FLOW, FLOW_METHODS, ActionOptions, DecodeLimits, RayOptions, Runtime
from .corpus import StorageError
from .media import MediaError
from .names import one_line, refuse_overwrite
from .streams import RUN_MODES, STREAM_NAMES, STREAMS, stream_entry
from .recommender import cli as recommender_cli
from .drawn import cli as drawn_cli
from .facs import cli as facs_cli
from .text import cli as text_cli


# Exit codes (also in `gifemo --help` and the README).
EXIT_FILES_FAILED = 1   # the run finished, but some files could not be tagged (or a setup error, said in one line)
EXIT_USAGE = 2          # wrong command line
EXIT_STORAGE = 3        # the corpus or an output file cannot be read or written: disk full, I/O error, not a corpus
EXIT_INTERNAL = 4       # a bug: reported in one line; --debug shows the traceback
EXIT_OUTPUT_CLOSED = 141  # the reader of the output stopped reading (as a shell reports SIGPIPE: 128 + 13)
EXIT_CODES_HELP = """exit codes:
  0  done
  1  some files could not be tagged (each is listed; evaluate still writes its report), or a model file is missing
  2  usage error
  3  storage error: the corpus or an output file cannot be read or written (disk full, I/O error, not a corpus)
  4  internal error (a bug), reported in one line
  130 interrupted
  141 the output was closed by its reader (e.g. piped into head)"""


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--models-dir", metavar="DIR",
                        help="folder with third-party model files (default: $GIFEMO_MODELS_DIR, then the user cache)")
    common.add_argument("--offline", action="store_true", default=None,
                        help="never download model files (also: GIFEMO_OFFLINE=1)")
    common.add_argument("--threads", type=positive_int, metavar="N",
                        help="CPU threads per process for torch (default: all cores; training: 2 for faces, 1 for text)")
    common.add_argument("-v", "--verbose", action="count", default=0,
                        help="more output: third-party logs too (-vv: everything)")
    common.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    return common


# ---------------------------------------------------------------- models
def _cmd_models(args: argparse.Namespace) -> int:
    names = args.names or list(models.REGISTRY)
    unknown = [name for name in names if name not in models.REGISTRY]
    if unknown:
        print(f"gifemo models: error: unknown model {unknown[0]!r}; known: {', '.join(models.REGISTRY)}",
              file=sys.stderr)
        return EXIT_USAGE
    runtime = args.runtime
    if args.action == "list":
        for name in names:
            spec = models.get_spec(name)
            where, origin = models.locate(name, runtime)
            print(f"{name:18s} {'found' if where else 'missing':8s} {where or '-'}"
                  + (f"  ({origin})" if where else "") + f"\n{'':18s} {spec.description}")
        return 0
    status = 0
    for name in names:
        try:
            if args.action == "download":
                print(f"{name}: {models.resolve(name, runtime, progress=True)}")
            elif args.action == "verify":
                print(f"{name}: OK {models.verify(name, runtime)}")
            else:  # path
                print(models.resolve(name, runtime, download=False))
        except (models.MissingModelError, models.ModelVerificationError) as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            status = 1
    return status


def _add_models(sub, common) -> None:
    p = sub.add_parser("models", parents=[common], help="list, download, verify or locate model files")
    p.add_argument("action", choices=["list", "download", "verify", "path"])
    p.add_argument("names", nargs="*", metavar="NAME", help=f"models (default: all): {', '.join(models.REGISTRY)}")
    p.set_defaults(func=_cmd_models)


# ---------------------------------------------------------------- tag / evaluate / show / annotate / demo
def _tag_options(args: argparse.Namespace):
    from .tagger import TagOptions

    limits = _limits(args)
    run = {name: "off" for name in STREAM_NAMES if getattr(args, f"no_{name}")}
    run.setdefault("action", args.actions)
    return TagOptions(num_frames=args.frames, near_duplicate=args.near_duplicate, limits=limits,
                      stream_options={"action": ActionOptions(flow=args.flow)}, run=run)


def _add_tag_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--frames", type=positive_int, default=16, metavar="N",
                   help="frames sampled evenly in time over each GIF or video (default %(default)s)")
    p.add_argument("--near-duplicate", type=non_negative_float, default=0.0, metavar="D",
                   help="a frame differing from the last analysed one by less than this mean absolute pixel "
                        "difference (0-255) reuses its analysis: faster, may change tags (default 0: off)")
    # One default for every command (STREAMS'), so tag, show, evaluate and train decision share a corpus's records.
    p.add_argument("--actions", choices=RUN_MODES, default=stream_entry("action").run,
                   help="when to run the action stream: only when the streams before it saw too little (fallback), "
                        "always, or off (default: %(default)s)")
    p.add_argument("--flow", choices=FLOW_METHODS + ("none",), default=DEFAULT_FLOW,
                   help="optical flow for the I3D flow stream: tvl1 (as in the I3D paper, slow), dis (default), "
                        "farneback, or none (RGB only)")
    for entry in STREAMS:
        p.add_argument(f"--no-{entry.name}", action="store_true",
                       help=f"do not run the {entry.name} stream: {entry.help}")
    _add_limit_options(p)


def _add_workers(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="parallel worker processes, each loading the models once (default %(default)s)")


def _limits(args: argparse.Namespace) -> DecodeLimits:
    return DecodeLimits(max_bytes=args.max_bytes, max_canvas_pixels=args.max_canvas_pixels,
                        max_frames=args.max_frames, max_total_pixels=args.max_total_pixels)


def _add_limit_options(p: argparse.ArgumentParser) -> None:
    limits = p.add_argument_group("decoding limits (a file over any of them is reported and skipped)")
    defaults = DecodeLimits()
    limits.add_argument("--max-bytes", type=positive_int, default=defaults.max_bytes, metavar="N",
                        help="file size in bytes (default %(default)s)")
    limits.add_argument("--max-canvas-pixels", type=positive_int, default=defaults.max_canvas_pixels, metavar="N",
                        help="width x height (default %(default)s)")
    limits.add_argument("--max-frames", type=positive_int, default=defaults.max_frames, metavar="N",
                        help="frames in a file (default %(default)s)")
    limits.add_argument("--max-total-pixels", type=positive_int, default=defaults.max_total_pixels, metavar="N",
                        help="pixels decoded per file, all frames together (default %(default)s)")


def _cmd_tag(args: argparse.Namespace) -> int:
    from .tagger import tag_paths

    summary = tag_paths(args.paths, args.db, jsonl=args.jsonl, workers=args.workers, options=_tag_options(args),
                        runtime=args.runtime, progress=not args.quiet, retry_errors=args.retry_errors,
                        adopt_db=args.adopt_db, engine=_engine(args))
    if not summary.files:
        raise FileNotFoundError(f"{', '.join(args.paths)}: no GIFs or videos found")
    print(summary.text())
    return EXIT_FILES_FAILED if summary.failed else 0


def _engine(args: argparse.Namespace):
    """None for this machine's worker pool; the Ray engine (imported only here) for --engine ray."""
    if args.engine == "local":
        return None
    if args.workers != 1:
        raise ValueError("--workers sets this machine's processes; with --engine ray, --actors sets the pool")
    try:
        from .ray_engine import RayEngine
    except ModuleNotFoundError as exc:
        raise ValueError(f"--engine ray needs Ray Data ({exc.name} is missing): pip install 'gifemo[ray]'") from None
    return RayEngine(RayOptions(address=args.address, actors=args.actors, cpus_per_actor=args.cpus_per_actor,
                                batch_size=args.batch_size))


def _add_tag(sub, common) -> None:
    p = sub.add_parser("tag", parents=[common], help="tag GIFs and short videos (files or folders) into a corpus")
    p.add_argument("paths", nargs="+", metavar="PATH", help="GIF or video files, or folders (walked recursively)")
    p.add_argument("--db", required=True, metavar="CORPUS.db", help="SQLite corpus (created if missing)")
    p.add_argument("--jsonl", metavar="OUT", help="also write one JSON record per file")
    p.add_argument("--retry-errors", action="store_true", help="tag again files that failed before")
    p.add_argument("--adopt-db", action="store_true",
                   help="accept an existing SQLite file that gifemo did not make as the corpus (adds its tables)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_tag_options(p)
    _add_workers(p)
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="where files are tagged: this machine's --workers (default), or a Ray cluster "
                        "(pip install 'gifemo[ray]'; see the README, Scaling out)")
    on_ray = p.add_argument_group("Ray engine (--engine ray)")
    defaults = RayOptions()
    on_ray.add_argument("--address", metavar="ADDR",
                        help="the running cluster to join (HEAD:6379, or auto on one of its nodes); default: a Ray instance "
                             "started on this machine for the run")
    on_ray.add_argument("--actors", type=positive_int, metavar="N",
                        help="tagging actors, each loading the models once (default: as many as the CPUs hold)")
    on_ray.add_argument("--cpus-per-actor", type=float, default=defaults.cpus_per_actor, metavar="N",
                        help="CPUs each actor reserves and uses (default %(default)s)")
    on_ray.add_argument("--batch-size", type=positive_int, default=defaults.batch_size, metavar="N",
                        help="files per actor call, committed to the corpus together (default %(default)s)")
    p.set_defaults(func=_cmd_tag)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, failures, format_report, write_report

    if args.no_tag and not _corpus_to_read(args):
        return EXIT_USAGE
    for output in (args.json, args.plot):
        refuse_overwrite(output, data_set=args.dataset, corpus=args.db)
    report = evaluate(args.dataset, db=args.db, tag=not args.no_tag, workers=args.workers,
                      options=_tag_options(args), runtime=args.runtime, progress=not args.quiet)
    pictures = write_report(report, args.json, args.plot)
    print(format_report(report))
    print(f"\nreport: {args.json}" + "".join(f", {p}" for p in pictures))
    return EXIT_FILES_FAILED if failures(report) else 0


def _corpus_to_read(args: argparse.Namespace) -> bool:
    """Whether --no-tag has a corpus to read its evidence from; says what is missing when not."""
    if args.db and Path(args.db).is_file():
        return True
    print(f"gifemo {args.command}: error: --no-tag reads the evidence of an existing corpus: "
          + (f"no corpus at {args.db}" if args.db else "give it with --db"), file=sys.stderr)
    return False


def _add_evaluate(sub, common) -> None:
    p = sub.add_parser("evaluate", parents=[common], help="score tagging against a labelled GIF set")
    p.add_argument("dataset", metavar="DATASET", help="folder of label-named folders, or a CSV with columns file,label")
    p.add_argument("--json", required=True, metavar="REPORT.json", help="the report, GIF by GIF, as JSON")
    p.add_argument("--plot", metavar="CM.png", help="confusion matrix picture (and CM-reliability.png beside it)")
    p.add_argument("--db", metavar="CORPUS.db", help="reuse/extend this corpus instead of a temporary one")
    p.add_argument("--no-tag", action="store_true",
                   help="run no stream: score the evidence already in --db, whatever options made it (without it, "
                        "only GIFs missing there or tagged with other options or stream models are tagged)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_tag_options(p)
    _add_workers(p)
    p.set_defaults(func=_cmd_evaluate)


def _cmd_train_decision(args: argparse.Namespace) -> int:
    from .evaluate import format_report, train_decision, write_report

    if args.no_tag and not _corpus_to_read(args):
        return EXIT_USAGE
    for data in args.data:
        refuse_overwrite(args.json, corpus=args.db, data_set=data)
    report = train_decision(args.data, args.db, args.out, workers=args.workers, options=_tag_options(args),
                            runtime=args.runtime, progress=not args.quiet, face_evidence=args.face_evidence,
                            tag=not args.no_tag)
    out = Path(args.out)
    pictures = write_report(report, args.json, out / "decision_cv_confusion.png", out / "decision_cv_reliability.png")
    print("cross-validated, grouped by source collection:\n" + format_report(report))
    print(f"\nwritten: {out / 'decision.json'}, " + ", ".join(map(str, pictures + ([args.json] if args.json else []))))
    return 0


def _add_train_decision(train_sub, common) -> None:
    from .paths import WEIGHTS_DIR

    p = train_sub.add_parser("decision", parents=[common],
                             help="fit the GIF-level decision (stream calibration and pooling) on labelled GIFs")
    p.add_argument("--data", required=True, action="append", metavar="DATASET",
                   help="labelled GIF set, as for evaluate (repeat for several); a manifest.csv with source_repo "
                        "groups the cross-validation")
    p.add_argument("--db", required=True, metavar="CORPUS.db", help="corpus the labelled GIFs are tagged into (reused)")
    p.add_argument("--out", default=str(WEIGHTS_DIR), metavar="DIR",
                   help="where decision.json and its two pictures go (default: %(default)s)")
    p.add_argument("--json", metavar="REPORT.json", help="also write the cross-validated report, GIF by GIF")
    p.add_argument("--face-evidence", metavar="OOF.jsonl",
                   help="out-of-fold face evidence of these GIFs from `gifemo train face-gif` (its folds are used): "
                        "needed when the face model was fine-tuned on them")
    p.add_argument("--no-tag", action="store_true",
                   help="run no stream: fit on the evidence already in --db, whatever options made it (without it, "
                        "only GIFs missing there or tagged with other options or stream models are tagged)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_tag_options(p)
    _add_workers(p)
    p.set_defaults(func=_cmd_train_decision)


def _cmd_show(args: argparse.Namespace) -> int:
    from .show import show

    if not Path(args.gif).exists():
        raise FileNotFoundError(f"{args.gif}: no such file")
    if args.db and not Path(args.db).is_file():   # a mistyped corpus name would silently tag the GIF again
        raise FileNotFoundError(f"{args.db}: no corpus there (without --db, show tags the GIF itself)")
    text, record = show(args.gif, db=args.db, plot=args.plot, options=_tag_options(args), runtime=args.runtime)
    print(text)
    return EXIT_FILES_FAILED if record.error else 0


def _add_show(sub, common) -> None:
    p = sub.add_parser("show", parents=[common], help="a readable summary of one GIF with its emotion timeline")
    p.add_argument("gif", metavar="GIF", help="a GIF or a video")
    p.add_argument("--db", metavar="CORPUS.db", help="use the record in this corpus when the GIF is tagged there")
    p.add_argument("--plot", metavar="TIMELINE.png", help="also draw the emotion timeline")
    _add_tag_options(p)
    p.set_defaults(func=_cmd_show)


def _cmd_annotate(args: argparse.Namespace) -> int:
    import json

    from .annotate import annotate

    annotated = annotate(args.src, args.dst, max_frames=args.frames, runtime=args.runtime, limits=_limits(args),
                         progress=not args.quiet)
    if args.json:
        Path(args.json).write_text(json.dumps(annotated.to_dict(args.src), indent=1) + "\n")
    print(annotated.path)
    return 0


def _add_annotate(sub, common) -> None:
    p = sub.add_parser("annotate", parents=[common],
                       help="write the GIF or video with faces boxed and labelled (OUT: .gif, or .mp4 with the audio)")
    p.add_argument("src", metavar="IN", help="a GIF or a video (mp4, webm, mov...)")
    p.add_argument("dst", metavar="OUT", help="OUT.gif, or OUT.mp4: every frame at its time, the audio kept")
    p.add_argument("--frames", type=positive_int, default=300, metavar="N",
                   help="GIF output: every frame up to this many, else this many evenly in time (default 300)")
    p.add_argument("--json", metavar="SUMMARY.json", help="also write the faces of each emotion, second by second")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_limit_options(p)
    p.set_defaults(func=_cmd_annotate)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.runtime, args.folder, db=args.db)


def _add_demo(sub, common) -> None:
    p = sub.add_parser("demo", parents=[common], help="tag a folder of GIFs and show suggestions for a few messages")
    p.add_argument("folder", nargs="?", help="GIF folder (default: the project's demo GIFs)")
    p.add_argument("--db", metavar="CORPUS.db", help="corpus to write (default: in the user cache)")
    p.set_defaults(func=_cmd_demo)


# ---------------------------------------------------------------- train
# Each trainable model registers `add_train_target(train_sub, common)` here.
TRAIN_TARGETS: list[Callable] = []
TRAIN_TARGETS.append(facs_cli.add_train_target)
TRAIN_TARGETS.append(text_cli.add_train_target)
TRAIN_TARGETS.append(drawn_cli.add_train_target)
TRAIN_TARGETS.append(_add_train_decision)


def _add_train(sub, common) -> None:
    p = sub.add_parser("train", help="train one of the project's own models")
    targets = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    for add in TRAIN_TARGETS:
        add(targets, common)


COMMANDS: list[Callable] = [_add_models, _add_train, _add_tag, _add_evaluate, _add_show, _add_annotate, _add_demo]
COMMANDS.append(recommender_cli.add_commands)
COMMANDS.append(action_cli.add_commands)
COMMANDS.append(text_cli.add_commands)
COMMANDS.append(facs_cli.add_commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gifemo", description="Recognise the emotion in animated GIFs and suggest GIFs for a message.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"gifemo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common_options()
    for add in COMMANDS:
        add(sub, common)
    return parser


def quiet_third_party(verbose: int) -> None:
    """Silence the libraries' own logging unless -v. MediaPipe's C++ (glog/absl/TFLite), TensorFlow-style
    and Hugging Face loggers read these variables when they are first imported, so this runs before any
    of them is: this is the edge, the one place that sets the process environment."""
    if verbose >= 2:
        return
    for name, value in (("GLOG_minloglevel", "2"), ("TF_CPP_MIN_LOG_LEVEL", "3"), ("ABSL_MIN_LOG_LEVEL", "2"),
                        ("TRANSFORMERS_VERBOSITY", "error"), ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1"),
                        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TOKENIZERS_PARALLELISM", "false"),
                        ("ORT_LOGGING_LEVEL", "3"), ("RAY_BACKEND_LOG_LEVEL", "fatal")):
        os.environ.setdefault(name, value)
    if verbose == 0:
        import logging
        import warnings

        logging.getLogger().setLevel(logging.ERROR)
        for noisy in ("absl", "sentence_transformers", "transformers", "huggingface_hub", "streamlit", "faiss"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"(torch|transformers|sentence_transformers|ray)")


# A read-only or full disk, an I/O error: the output cannot be written, whatever the input.
STORAGE_ERRNOS = {errno.EROFS, errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EACCES}


def error_line(command: str, exc: BaseException, kind: str = "error") -> str:
    """One line for the user: what failed and why, without internals."""
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return f"gifemo {command}: {kind}: {one_line(text)}"


def _stdout_closed() -> bool:
    """Whether standard output is a pipe that its reader closed (the pipe reports an error on it)."""
    import select

    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):   # no poll() here, or no file descriptor
        return False


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    verbose = getattr(args, "verbose", 0)
    quiet_third_party(verbose)
    # A warning (damaged data) is one line, like an error, not Python's two-line form with a source line.
    warnings.formatwarning = lambda message, category, *_, **__: f"warning: {one_line(str(message))}\n"
    args.runtime = Runtime.from_env(models_dir=getattr(args, "models_dir", None), offline=getattr(args, "offline", None),
                                    threads=getattr(args, "threads", None), verbose=verbose)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if not _stdout_closed():
            raise
        # The reader of our output left (`gifemo ... | head`): stop quietly, as command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no second error when Python exits
        return EXIT_OUTPUT_CLOSED
    except Exception as exc:  # every failure: one line and a non-zero exit; --debug shows where it happened
        if getattr(args, "debug", False):
            raise
        if isinstance(exc, StorageError) or (isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS):
            print(error_line(args.command, exc, "storage error"), file=sys.stderr)
            return EXIT_STORAGE
        if isinstance(exc, (MediaError, models.MissingModelError, models.ModelVerificationError, OSError, ValueError)):
            print(error_line(args.command, exc), file=sys.stderr)
            return EXIT_FILES_FAILED
        print(error_line(args.command, exc, "internal error") + " (rerun with --debug for details)", file=sys.stderr)
        return EXIT_INTERNAL
