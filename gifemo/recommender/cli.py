"""`gifemo suggest` and `gifemo app`."""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path

from ..cli_types import positive_int
from ..config import MAX_UPLOAD_MB, TEXT_MODELS
from ..streams import RUN_MODES, SOURCES, stream_entry
from ..emotions import EMOTIONS
from ..names import readable
from ..paths import APP_SCRIPT


def _cmd_suggest(args: argparse.Namespace) -> int:
    from .ranking import Filters
    from .suggest import Recommender

    if (args.message is None) == (args.input is None):
        print("gifemo suggest: error: give either a message or --input FILE (one message per line)", file=sys.stderr)
        return 2
    if args.message is not None:
        # A message that is not valid UTF-8 (bytes from a shell) is read with its bad bytes replaced.
        args.message = os.fsencode(args.message).decode("utf-8", "replace")
    if args.message is not None and not args.message.strip():
        print("gifemo suggest: error: the message is empty", file=sys.stderr)
        return 2
    if args.input is not None and not Path(args.input).is_file():
        print(f"gifemo suggest: error: no message file at {args.input}", file=sys.stderr)
        return 1
    if not Path(args.db).is_file():
        print(f"gifemo suggest: error: no corpus at {args.db} (make one with `gifemo tag`)", file=sys.stderr)
        return 1
    recommender = Recommender(args.db, args.runtime, text_model=args.text_model, progress=True)
    filters = Filters(emotions=args.emotion or (), min_confidence=args.min_confidence, sources=args.source or ())
    if args.input is not None:
        return _suggest_lines(recommender, Path(args.input), args.k, filters)
    results = recommender.suggest(args.message, k=args.k, filters=filters)
    if args.json:
        print(json.dumps([r.to_json() for r in results], indent=2))
        return 0
    scores = recommender.message_scores(args.message)
    print("message reads: " + ", ".join(f"{e} {scores[e]:.2f}" for e in sorted(scores, key=lambda e: -scores[e])[:3]))
    if results.note:
        print(results.note)
    for rank, r in enumerate(results, 1):
        print(f"{rank:2d}. match {r.score:.3f}  {r.emotion or '-':9s}  {readable(r.path)}\n      {r.why}")
    return 0


def _suggest_lines(recommender, path: Path, k: int, filters) -> int:
    """One JSON line per non-blank message line, with the models loaded once for all of them."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"gifemo suggest: error: cannot read {path}: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        if line.strip():
            results = recommender.suggest(line, k=k, filters=filters)
            print(json.dumps({"message": line, "suggestions": [r.to_json() for r in results], "note": results.note},
                             ensure_ascii=False), flush=True)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from .service import ServiceOptions, serve

    if not Path(args.db).is_file():
        print(f"gifemo serve: error: no corpus at {args.db} (make one with `gifemo tag`)", file=sys.stderr)
        return 1
    runtime = args.runtime
    print(f"gifemo serve: loading the models, then http://127.0.0.1:{args.port}/suggest?q=... (Ctrl-C stops)",
          file=sys.stderr)
    try:
        serve(ServiceOptions(db=Path(args.db), port=args.port, text_model=args.text_model, actions=args.actions,
                             workers=args.workers), runtime)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"gifemo serve: error: port {args.port} is in use (choose another with --port)", file=sys.stderr)
        return 1
    return 0


def _cmd_app(args: argparse.Namespace) -> int:
    if not APP_SCRIPT.is_file():
        print(f"gifemo app: error: the app script is missing: {APP_SCRIPT}", file=sys.stderr)
        return 1
    env = dict(os.environ)
    if args.db:
        env["GIFEMO_DB"] = str(Path(args.db).resolve())
    if args.report:
        env["GIFEMO_REPORT"] = str(Path(args.report).resolve())
    # The app is a separate process: it rebuilds the same Runtime from these.
    runtime = args.runtime
    for name, value in (("GIFEMO_MODELS_DIR", runtime.models_dir), ("GIFEMO_CACHE_DIR", runtime.cache_dir)):
        if value is not None:
            env[name] = str(Path(value).resolve())
    if runtime.offline:
        env["GIFEMO_OFFLINE"] = "1"
    command = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
               "--server.address", args.address, "--server.port", str(args.port),
               "--server.maxUploadSize", str(MAX_UPLOAD_MB), "--server.enableXsrfProtection", "true",
               "--browser.gatherUsageStats", "false"]
    if args.headless:
        command += ["--server.headless", "true"]
    # Become the Streamlit server (no parent left behind to outlive or orphan it).
    os.execve(sys.executable, command, env)


def add_commands(sub, common) -> None:
    p = sub.add_parser("suggest", parents=[common], help="suggest GIFs of a tagged corpus for a message")
    p.add_argument("message", nargs="?", help="the message to find GIFs for (or --input)")
    p.add_argument("--input", metavar="FILE", help="one message per line; prints one JSON line per message")
    p.add_argument("--db", required=True, metavar="CORPUS.db", help="corpus written by `gifemo tag`")
    p.add_argument("-k", type=positive_int, default=8, metavar="N", help="number of GIFs (default: 8)")
    p.add_argument("--json", action="store_true",
                   help='print [{"path", "sha256", "score", "emotion", "confidence", "source", "caption", "why"}, ...]')
    p.add_argument("--text-model", choices=TEXT_MODELS, help="message emotion model (default: the best)")
    p.add_argument("--emotion", action="append", choices=EMOTIONS,
                   help="only GIFs tagged with this emotion (repeatable)")
    p.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                   help="only GIFs whose tag has at least this confidence (0-1: the chance it is right)")
    p.add_argument("--source", action="append", choices=SOURCES,
                   help="only GIFs decided by this stream (repeatable)")
    p.set_defaults(func=_cmd_suggest)

    p = sub.add_parser("serve", parents=[common], help="HTTP JSON API on 127.0.0.1: /suggest, /tag, /gifs, /health")
    p.add_argument("--db", required=True, metavar="CORPUS.db", help="corpus written by `gifemo tag`")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default: %(default)s)")
    p.add_argument("--text-model", choices=TEXT_MODELS, help="message emotion model (default: the best)")
    p.add_argument("--actions", choices=RUN_MODES, default=stream_entry("action").run,
                   help="when uploads run the action stream (as `gifemo tag --actions`)")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="model processes behind the HTTP one, each with its own models: one per core to use "
                        "(default: 1, the models in the HTTP process)", metavar="N")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("app", parents=[common], help="start the Streamlit app (suggest, tag, browse, evaluate)")
    p.add_argument("--db", metavar="CORPUS.db", help="corpus to suggest from and browse")
    p.add_argument("--report", metavar="REPORT.json", help="report of `gifemo evaluate` for the evaluation page")
    p.add_argument("--address", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8501, help="port (default: %(default)s)")
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.set_defaults(func=_cmd_app)
