"""Command-line entry points of the face stream: `gifemo face` and `gifemo train face`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Iterator

from ..paths import WEIGHTS_DIR

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
ALIGNED_BATCH = 256
# Aligned crops are classified offline, with no detection to pay for, so they get the 10-crop protocol
# (the best of the view choices on FER2013 val, data/weights/README.md); GIF frames keep FaceOptions.views.
ALIGNED_VIEWS = 10
FACE_FIELDS = ("box", "emotion", "scores", "aus")  # per face in the JSON lines


def iter_images(paths: list[str]) -> Iterator[Path]:
    """Files as given, and image files below folders (sorted)."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        else:
            yield path


def _read_image(path: Path):
    """RGB array of a still image (the first frame of an animated one); None with a message if unreadable."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from ..corpus import failure_line
    from ..names import one_line, readable

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except UnidentifiedImageError:   # its message names the file again
        problem = "not an image format it can read"
    except (OSError, ValueError) as exc:
        problem = getattr(exc, "strerror", None) or one_line(str(exc))
    print(failure_line(f"{readable(path)}: cannot read image: {problem}"), file=sys.stderr)
    return None


def _cmd_face(args: argparse.Namespace) -> int:
    from ..emotions import top_emotion
    from ..config import FaceOptions
    from .stream import FaceStream

    views = args.views or (ALIGNED_VIEWS if args.aligned else None)
    options = FaceOptions(max_faces=args.max_faces, **({"views": views} if views else {}))
    stream = FaceStream(options, args.runtime)
    out = sys.stdout if args.jsonl == "-" else open(args.jsonl, "w", encoding="utf-8")
    failed = 0

    def emit(path: Path, faces: list[dict]) -> None:
        out.write(json.dumps({"path": str(path), "faces": faces}) + "\n")
        if out is not sys.stdout:
            summary = ", ".join(f"{f['emotion']} {f['scores'][f['emotion']]:.2f}" for f in faces) or "no face"
            print(f"{path}: {summary}")

    try:
        paths = list(iter_images(args.paths))
        if args.aligned:
            for start in range(0, len(paths), ALIGNED_BATCH):
                batch = [(p, _read_image(p)) for p in paths[start:start + ALIGNED_BATCH]]
                good = [(p, im) for p, im in batch if im is not None]
                failed += len(batch) - len(good)
                for (path, image), scores in zip(good, stream.classify_aligned([im for _, im in good])):
                    emotion = top_emotion(scores)
                    box = [0, 0, int(image.shape[1]), int(image.shape[0])]
                    emit(path, [{"box": box, "emotion": emotion, "scores": scores, "aus": {}}])
        else:
            for path in paths:
                image = _read_image(path)
                if image is None:
                    failed += 1
                    continue
                faces = stream.analyze_frames([image], [0.0], video=False)[0]
                emit(path, [{k: v for k, v in f.to_dict().items() if k in FACE_FIELDS} for f in faces])
    finally:
        stream.close()
        if out is not sys.stdout:
            out.close()
    return 1 if failed else 0


def add_commands(sub, common) -> None:
    p = sub.add_parser("face", parents=[common],
                       help="emotion of the faces in still images (or of aligned face crops)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders of them")
    p.add_argument("--jsonl", required=True, metavar="OUT", help="write one JSON line per image here ('-': stdout)")
    p.add_argument("--aligned", action="store_true",
                   help="each image is already a face crop framed like FER2013: one face, no detection, CNN only")
    p.add_argument("--max-faces", type=int, default=4, metavar="N",
                   help="faces read per image at most (default %(default)s)")
    p.add_argument("--views", type=int, choices=(1, 2, 10),  # expression.TEST_VIEWS, without importing torch here
                   help="CNN test-time views per face: centre crop, + mirror, or 10 crops (default: 10 with "
                        "--aligned, else the face stream's FaceOptions.views, 2); fewer is faster")
    p.set_defaults(func=_cmd_face)


def _cmd_train_face(args: argparse.Namespace) -> int:
    from .train import FaceTrainOptions, train

    options = FaceTrainOptions(data=Path(args.data), out=Path(args.out), epochs=args.epochs,
                           batch_size=args.batch_size, learning_rate=args.lr, threads=args.threads or 2,
                           widths=tuple(args.widths), bf16=not args.no_bf16, seed=args.seed,
                           time_budget=args.time_budget, ensemble=args.ensemble,
                           init=Path(args.init) if args.init else None,
                           work_dir=Path(args.work_dir) if args.work_dir else None)
    metrics = train(options)
    recall = metrics["recall"]
    print(f"val accuracy {metrics['accuracy']:.4f} ({len(metrics['members'])} member(s), {metrics['views']} views; "
          f"this member {metrics['members'][-1]['accuracy']:.4f}); recall disgust {recall['disgust']:.3f}, "
          f"fear {recall['fear']:.3f}; weights and figures in {options.out}")
    return 0


def _cmd_train_face_combine(args: argparse.Namespace) -> int:
    import json

    from .train import fit_combination

    metrics = fit_combination(Path(args.data), Path(args.out), args.runtime, threads=args.threads or 2)
    print(json.dumps(metrics, indent=1))
    return 0


def _cmd_train_face_gif(args: argparse.Namespace) -> int:
    from .gif_finetune import FaceGifJob, FaceGifOptions, build

    training = FaceGifOptions(epochs=args.epochs, folds=args.folds, learning_rate=args.lr, gif_share=args.gif_share,
                              keep_base=args.keep_base,
                              seed=args.seed, jobs=args.jobs, threads=args.threads or 1, device=args.device)
    job = FaceGifJob([Path(d) for d in args.data], Path(args.fer), Path(args.crops), Path(args.work_dir),
                     Path(args.out), Path(args.init), reuse=args.reuse, training=training)
    metrics = build(job, args.runtime)
    print(f"FER2013 val accuracy {metrics['accuracy']:.4f} ({metrics['views']} views), by views "
          f"{metrics['accuracy_by_views']}; weights, figures and face_gif_oof.jsonl in {job.out}")
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
    p.add_argument("--no-bf16", action="store_true", help="train in float32 (slower on CPUs with AMX)")
    p.add_argument("--seed", type=int, default=0, help="seed of this network (one ensemble member per seed)")
    p.add_argument("--ensemble", action="store_true",
                   help="add the network to the ensemble already in --out (replacing the member of the same seed) "
                        "instead of writing a one-member file")
    p.add_argument("--init", metavar="WEIGHTS",
                   help="start from the member of --seed in this weights file and train it on with a new schedule "
                        "(a warm restart; its architecture is kept)")
    p.add_argument("--work-dir", metavar="DIR",
                   help="checkpoint folder (default: user cache, one per seed); an existing checkpoint is resumed")
    p.set_defaults(func=_cmd_train_face)

    p = train_sub.add_parser("face-gif", parents=[common],
                             help="fine-tune the expression ensemble on FER2013 + face crops of labelled GIFs, "
                                  "with out-of-fold models for the decision")
    p.add_argument("--data", required=True, action="append", metavar="DATASET",
                   help="labelled GIF set with manifest.csv (repeat; same order as for `train decision`)")
    p.add_argument("--fer", required=True, metavar="DIR", help="FER2013 folder (DIR/train, DIR/val)")
    p.add_argument("--crops", required=True, metavar="FACES.npz",
                   help="the GIFs' face crops; extracted with the face stream when the file does not exist")
    p.add_argument("--init", required=True, metavar="WEIGHTS", help="the FER2013-only ensemble to fine-tune")
    p.add_argument("--work-dir", required=True, metavar="DIR", help="fold models and out-of-fold probabilities")
    p.add_argument("--out", default=str(WEIGHTS_DIR), metavar="DIR",
                   help="where face_expression.pt, its figures and face_gif_oof.jsonl go (default: %(default)s)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--epochs", type=float, default=4, help="passes over FER2013 train per fine-tune")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--gif-share", type=float, default=0.25, help="share of each batch drawn from GIF crops")
    p.add_argument("--keep-base", type=float, default=0.5,
                   help="share of the FER2013-only weights kept in each fine-tuned member (weight interpolation)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1, help="fine-tunes run at once (processes)")
    p.add_argument("--device", default="cpu", help="torch device for the fine-tunes: cpu, cuda (default: %(default)s)")
    p.add_argument("--reuse", action="store_true",
                   help="only write the shipped files from the fine-tunes already in --work-dir")
    p.set_defaults(func=_cmd_train_face_gif)

    p = train_sub.add_parser("face-combine", parents=[common],
                             help="fit the CNN + EMFACS-rules combination on FER2013 val (after `train face`)")
    p.add_argument("--data", required=True, metavar="DIR", help="FER2013 folder (uses DIR/val)")
    p.add_argument("--out", default=str(WEIGHTS_DIR), metavar="DIR",
                   help="folder with face_expression.pt; face_combine.json is written there (default: %(default)s)")
    p.set_defaults(func=_cmd_train_face_combine)
