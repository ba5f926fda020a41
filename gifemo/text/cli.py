"""`gifemo emotion` (score messages) and `gifemo train text` (train the text models)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..emotions import EMOJI, top_emotion
from ..config import DEFAULT_TEXT_MODEL, TEXT_MODELS, TRAINED_TEXT_MODELS


def _model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text-model", choices=TEXT_MODELS, default=None,
                        help=f"text emotion model (default: {DEFAULT_TEXT_MODEL}, the best on validation)")


def _cmd_emotion(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.input is None):
        print("gifemo emotion: error: give either a message or --input FILE (one message per line)", file=sys.stderr)
        return 2
    from .language import honest_reading
    from .model import load_model

    model = load_model(args.runtime, args.text_model)
    if args.text is not None:
        scores, note = honest_reading(args.text, model.predict_one(args.text))
        if args.jsonl:
            _write_jsonl([args.text], [(scores, note)], args.jsonl)
        else:
            emotion = top_emotion(scores)
            print(f"{EMOJI[emotion]} {emotion}  ({model.name})")
            for name, value in sorted(scores.items(), key=lambda item: -item[1]):
                print(f"  {name:10s} {value:.3f}")
            if note:
                print(f"note: {note}")
        return 0
    try:
        source = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")
        with source:
            texts = [line.rstrip("\r\n") for line in source]
    except UnicodeDecodeError as exc:
        raise ValueError(f"{args.input}: not UTF-8 text ({exc.reason})") from None
    _write_jsonl(texts, [honest_reading(t, s) for t, s in zip(texts, model.predict(texts))], args.jsonl or "-")
    return 0


def _write_jsonl(texts: list[str], readings: list[tuple[dict, str]], destination: str) -> None:
    """One JSON object per text: its top emotion, scores and note ("" or why the scores are a guess)."""
    out = sys.stdout if destination == "-" else open(destination, "w", encoding="utf-8")
    try:
        for text, (score, note) in zip(texts, readings):
            record = {"text": text, "emotion": top_emotion(score), "scores": {k: round(v, 6) for k, v in score.items()},
                      "note": note}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()


def add_commands(sub, common) -> None:
    p = sub.add_parser("emotion", parents=[common], help="the emotion of a message (or of each line of a file)")
    p.add_argument("text", nargs="?", help="the message")
    p.add_argument("--input", metavar="FILE", help="one message per line ('-' = stdin)")
    p.add_argument("--jsonl", metavar="OUT", help="write one JSON object per message: text, emotion, scores ('-' = stdout)")
    _model_option(p)
    p.set_defaults(func=_cmd_emotion)


def _cmd_train_text(args: argparse.Namespace) -> int:
    from .train import TextTrainOptions, train

    for name in ([args.text_model] if args.text_model else list(TRAINED_TEXT_MODELS)):
        options = TextTrainOptions(data=Path(args.data), model=name, out=Path(args.out), threads=args.threads or 1,
                               embed_cache=Path(args.embed_cache) if args.embed_cache else None,
                               train_limit=args.train_limit, device=args.device,
                               outside_label_weight=args.outside_label_weight)
        if args.epochs:
            options.epochs = args.epochs
        elif name == "minilm":
            options.epochs = 30  # a small head on fixed embeddings: epochs are cheap
        train(options, args.runtime)
    return 0


def add_train_target(train_sub, common) -> None:
    from ..paths import WEIGHTS_DIR

    p = train_sub.add_parser("text", parents=[common], help="train the text emotion models on tweet_emotion + goemotions_ekman")
    p.add_argument("--data", required=True, metavar="DIR", help="folder with tweet_emotion/ and goemotions_ekman/ (e.g. ../shared/data)")
    p.add_argument("--out", default=str(WEIGHTS_DIR), metavar="DIR", help="where the weights go (default: %(default)s)")
    p.add_argument("--text-model", choices=TRAINED_TEXT_MODELS, default=None, help="train only this model (default: both)")
    p.add_argument("--epochs", type=int, default=None, help="default: 8 (bilstm), 30 (minilm)")
    p.add_argument("--embed-cache", metavar="DIR", help="keep MiniLM embeddings of the corpora here between runs")
    p.add_argument("--train-limit", type=int, default=None, metavar="N",
                   help="train on a seeded random N rows of each corpus (to bound MiniLM embedding time)")
    p.add_argument("--outside-label-weight", type=float, default=1.0, metavar="W",
                   help="how hard a row is pushed away from emotions its corpus never labels (tweets: neutral, disgust): "
                        "0 = softmax over the corpus's own emotions, 1 = ordinary 7-way cross-entropy (default)")
    p.add_argument("--device", default="cpu", help="torch device for training: cpu, cuda (default: %(default)s)")
    p.set_defaults(func=_cmd_train_text)
