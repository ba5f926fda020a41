"""Fine-tuning the expression ensemble for GIF faces: FER2013 train (partly shown GIF-like) plus the stream's own
crops of labelled GIFs, with out-of-fold models so that the GIF decision is fitted on honest face evidence.

`run` fine-tunes every member of the shipped ensemble once per fold of the labelled GIFs (folds grouped by source
collection, as the decision's cross-validation groups them: `decision.group_folds`) without that fold's crops, and
once on all crops (the shipped model). Each fold's models score only their own fold's crops; the face Evidence
rebuilt from those out-of-fold probabilities (`oof_evidence`) is what `gifemo train decision --face-evidence`
fits on. A GIF label is the label of every face crop in it, so the labels are noisy and a GIF's frames are
near-copies: every labelled GIF gets the same total weight, however many faces it has.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..emotions import EMOTIONS
from .expression import DEFAULT_VIEWS, predict_proba
from .gif_augment import GifLikeOptions, gif_like_bank
from .gif_crops import GifFaces
from .train import augment, class_weights, learning_rate, validation_figures
from .weights import Member, load_members, save_members

OOF_EVIDENCE = "face_gif_oof.jsonl"
OOF_PROBS = "face_gif_oof_probs.npy"


@dataclass
class FaceGifOptions:
    epochs: float = 4                    # passes over FER2013 train
    batch_size: int = 128
    gif_share: float = 0.25              # share of each batch drawn from GIF crops
    gif_like_share: float = 0.5          # share of FER images shown through the GIF-like degradation
    bank_copies: int = 2                 # GIF-like versions made of each FER image before training
    learning_rate: float = 0.01          # peak; the members are already trained, this only adapts them
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    gif_label_smoothing: float = 0.2     # a GIF's label is noisier on a single frame
    class_weight_power: float = 0.5
    erase_prob: float = 0.25
    # Weight-space share of the FER-only member kept in the fine-tuned one (WiSE-FT: interpolating the weights
    # of a network and its fine-tuned copy keeps most of both): the guard on FER2013 val accuracy.
    keep_base: float = 0.5
    folds: int = 5
    # GIF crops trained on: faces the photo-face stream is meant for (the drawn stream reads drawings): GIFs of
    # these content types, and GIFs of no stated content that the drawn stream's check calls photographed
    train_contents: tuple[str, ...] = ("live-action-face", "live-action-noface")
    max_drawn_probability: float = 0.5
    seed: int = 0
    jobs: int = 1                        # member fine-tunes run at once (processes)
    threads: int = 1                     # torch threads per job
    device: str = "cpu"
    gif_like: GifLikeOptions = field(default_factory=GifLikeOptions)


@dataclass
class TrainingData:
    fer_x: np.ndarray        # (N, 48, 48) uint8 FER2013 train
    fer_y: np.ndarray
    bank: np.ndarray         # (copies, N, 48, 48) GIF-like versions of fer_x
    gif_x: np.ndarray        # (M, 48, 48) uint8 GIF crops trained on
    gif_y: np.ndarray
    gif_p: np.ndarray        # (M,) sampling probability: each GIF the same in total


def gif_sampling(faces: GifFaces, rows: np.ndarray) -> np.ndarray:
    """Sampling probability of each face in `rows`: 1 / (faces of its GIF among rows), normalised."""
    _, inverse, counts = np.unique(faces.gif[rows], return_inverse=True, return_counts=True)
    p = 1.0 / counts[inverse]
    return p / p.sum()


def photographed(info: dict, options: FaceGifOptions) -> bool:
    """Whether a GIF's faces are trained on: by its content type, or by the drawn check when none is given."""
    if info["content"]:
        return info["content"] in options.train_contents
    return info.get("drawn_probability", 1.0) < options.max_drawn_probability


def finetune_member(member: Member, data: TrainingData, options: FaceGifOptions, seed: int) -> Member:
    """One member trained on with a short warm-up + cosine schedule on FER (original or GIF-like) and GIF crops."""
    torch.set_num_threads(options.threads)
    device = torch.device(options.device)
    base = {k: v.clone() for k, v in member.model.state_dict().items()}
    model = member.model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=options.learning_rate, momentum=0.9, nesterov=True,
                                weight_decay=options.weight_decay)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    n_gif = int(round(options.batch_size * options.gif_share)) if len(data.gif_x) else 0
    n_fer = options.batch_size - n_gif
    steps = max(1, int(options.epochs * len(data.fer_x) / n_fer))
    weights = class_weights(data.fer_y, options.class_weight_power).to(device)
    fer_order = np.concatenate([rng.permutation(len(data.fer_x)) for _ in range(int(np.ceil(options.epochs)) + 1)])
    started = time.time()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step / steps, options.learning_rate)
        idx = fer_order[step * n_fer:(step + 1) * n_fer]
        copy = rng.integers(0, data.bank.shape[0], len(idx))
        shown = rng.random(len(idx)) < options.gif_like_share
        fer = np.where(shown[:, None, None], data.bank[copy, idx], data.fer_x[idx])
        gif_idx = rng.choice(len(data.gif_x), n_gif, p=data.gif_p) if n_gif else np.zeros(0, dtype=np.int64)
        images = torch.from_numpy(np.concatenate([fer, data.gif_x[gif_idx]])).unsqueeze(1).float() / 255
        x = augment(images, generator, options.erase_prob).to(device).contiguous(memory_format=torch.channels_last)
        y = torch.from_numpy(np.concatenate([data.fer_y[idx], data.gif_y[gif_idx]])).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = model(x).float()
        loss = F.cross_entropy(logits[:n_fer], y[:n_fer], weight=weights, label_smoothing=options.label_smoothing)
        if n_gif:
            gif_loss = F.cross_entropy(logits[n_fer:], y[n_fer:], weight=weights,
                                       label_smoothing=options.gif_label_smoothing)
            loss = (n_fer * loss + n_gif * gif_loss) / options.batch_size
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model = interpolate(base, model.float().cpu().eval(), options.keep_base)
    info = dict(member.info, gif_finetune={"steps": steps, "minutes": (time.time() - started) / 60,
                                           "gif_faces": int(len(data.gif_x)), "seed": seed,
                                           "options": {k: str(v) for k, v in asdict(options).items()}})
    return Member(model, info)


def interpolate(base: dict, model: torch.nn.Module, keep_base: float) -> torch.nn.Module:
    """`model` with its float weights and statistics moved `keep_base` of the way back to `base` (a state dict)."""
    if keep_base:
        state = model.state_dict()
        model.load_state_dict({k: (keep_base * base[k] + (1 - keep_base) * v) if v.is_floating_point() else v
                               for k, v in state.items()})
    return model


def _job(args) -> Member:
    member, data, options, seed = args
    return finetune_member(member, data, options, seed)


def _fold_data(faces: GifFaces, train_rows: np.ndarray, fer_x, fer_y, bank) -> TrainingData:
    return TrainingData(fer_x, fer_y, bank, faces.crops[train_rows], faces.labels(EMOTIONS)[train_rows],
                        gif_sampling(faces, train_rows) if len(train_rows) else np.zeros(0))


def face_folds(faces: GifFaces, folds: int) -> np.ndarray:
    """(number of GIFs,) fold of each GIF (-1: not decodable), grouped by source collection like the decision's
    cross-validation over the same GIFs in the same order."""
    from ..decision import group_folds

    usable = [g for g, info in enumerate(faces.gifs) if not info["error"]]
    fold = np.full(len(faces.gifs), -1)
    fold[usable] = group_folds([faces.gifs[g]["group"] for g in usable], folds)
    return fold


def run(faces: GifFaces, fer_x: np.ndarray, fer_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray,
        init: Path, work_dir: Path, options: FaceGifOptions, progress=print) -> dict:
    """Fine-tune the fold models and the shipped one; writes into `work_dir`: fold-K/face_expression.pt, the
    shipped ensemble's members (members.pt), the out-of-fold CNN probabilities of every face (OOF_PROBS) and
    the fold of each GIF (folds.json). Returns the FER val figures of each ensemble."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    base = load_members(init)
    if any("gif_finetune" in m.info for m in base):
        raise ValueError(f"{init}: already fine-tuned on GIF faces; start from a FER2013-only ensemble "
                         "(data/weights/README.md says which commit holds it)")
    started = time.time()
    bank = gif_like_bank(fer_x, options.bank_copies, options.seed, options.gif_like, workers=max(options.jobs, 1))
    progress(f"GIF-like bank: {bank.shape[0]} x {bank.shape[1]} images in {time.time() - started:.0f} s")
    gif_fold = face_folds(faces, options.folds)
    face_fold = gif_fold[faces.gif]
    trained_on = np.array([photographed(faces.gifs[g], options) for g in faces.gif], dtype=bool)
    plans = [(k, np.flatnonzero(trained_on & (face_fold != k) & (face_fold >= 0))) for k in range(options.folds)]
    plans.append((None, np.flatnonzero(trained_on & (face_fold >= 0))))
    jobs = [(member, _fold_data(faces, rows, fer_x, fer_y, bank), options,
             options.seed * 1000 + (k if k is not None else options.folds) * 10 + i)
            for k, rows in plans for i, member in enumerate(base)]
    if options.jobs > 1:
        with ProcessPoolExecutor(options.jobs, mp_context=get_context("spawn")) as pool:
            tuned = list(pool.map(_job, jobs))
    else:
        tuned = [_job(job) for job in jobs]
    progress(f"{len(jobs)} fine-tunes done in {(time.time() - started) / 60:.1f} min")
    val_images = torch.from_numpy(val_x).unsqueeze(1).float() / 255
    figures = {}
    for j, (k, rows) in enumerate(plans):
        members = tuned[j * len(base):(j + 1) * len(base)]
        for m in members:
            m.model.half().float()  # what the file stores
        name = f"fold-{k}" if k is not None else "all"
        probs = torch.stack([predict_proba(m.model, val_images, views=DEFAULT_VIEWS) for m in members]).mean(0)
        figures[name] = {**{key: v for key, v in validation_figures(probs, val_y).items() if key != "confusion"},
                         "gif_faces_trained": int(len(rows))}
        progress(f"{name}: FER val {figures[name]['accuracy']:.4f} ({DEFAULT_VIEWS} views), "
                 f"{len(rows)} GIF faces trained on")
        save_members(members, work_dir / (f"{name}/face_expression.pt" if k is not None else "members.pt"),
                     figures[name])
    (work_dir / "folds.json").write_text(json.dumps({"folds": gif_fold.tolist(), "figures": figures,
                                                     "options": {k: str(v) for k, v in asdict(options).items()}}))
    score_out_of_fold(faces, work_dir)
    return figures


def score_out_of_fold(faces: GifFaces, work_dir: Path) -> np.ndarray:
    """(N, 7) CNN probabilities of every face by the fold model that never saw its GIF (saved as OOF_PROBS)."""
    from .weights import load_expression

    work_dir = Path(work_dir)
    face_fold = np.asarray(json.loads((work_dir / "folds.json").read_text())["folds"])[faces.gif]
    oof = np.full((len(faces), len(EMOTIONS)), np.nan, dtype=np.float32)
    for k in np.unique(face_fold[face_fold >= 0]):
        held = np.flatnonzero(face_fold == k)
        crops = torch.from_numpy(faces.crops[held]).unsqueeze(1).float() / 255
        oof[held] = predict_proba(load_expression(work_dir / f"fold-{k}" / "face_expression.pt"), crops).numpy()
    np.save(work_dir / OOF_PROBS, oof)
    return oof


def oof_evidence(faces: GifFaces, work_dir: Path, stream, out: Optional[Path] = None) -> Path:
    """The face Evidence of every GIF from its out-of-fold probabilities (`run`'s files in `work_dir`), as JSON
    lines {sha256, fold, evidence} for `gifemo train decision --face-evidence`."""
    work_dir = Path(work_dir)
    probs = np.load(work_dir / OOF_PROBS)
    folds = json.loads((work_dir / "folds.json").read_text())["folds"]
    out = Path(out or work_dir / OOF_EVIDENCE)
    with open(out, "w", encoding="utf-8") as handle:
        for info, fold, evidence in zip(faces.gifs, folds, faces.evidence(stream, probs)):
            if fold >= 0:
                data = evidence.to_dict()
                data["details"].pop("timeline", None)  # per-frame scores: for display, not for the decision
                handle.write(json.dumps({"sha256": info["sha256"], "fold": fold, "evidence": data}) + "\n")
    return out


def finish(faces: GifFaces, val_x: np.ndarray, val_y: np.ndarray, work_dir: Path, out: Path, stream) -> dict:
    """From `run`'s files: the shipped ensemble into `out` (weights, metrics JSON, figures) and the out-of-fold
    face Evidence beside it (OOF_EVIDENCE)."""
    from .train import write_ensemble

    members = load_members(Path(work_dir) / "members.pt")
    metrics = write_ensemble(members, torch.from_numpy(val_x).unsqueeze(1).float() / 255, val_y, Path(out))
    oof_evidence(faces, Path(work_dir), stream, Path(out) / OOF_EVIDENCE)
    return metrics


@dataclass
class FaceGifJob:
    """The whole rebuild: crops (extracted when the file is missing), fine-tunes, shipped files."""
    data: list[Path]             # labelled GIF sets (folders with manifest.csv)
    fer: Path                    # FER2013 folder: train/ and val/
    crops: Path                  # the GifFaces file
    work_dir: Path               # fold models, OOF probabilities
    out: Path                    # where face_expression.pt, its figures and OOF_EVIDENCE go
    init: Path                   # the ensemble to fine-tune
    num_frames: int = 16         # frames per GIF, as the tagger samples them (TagOptions.num_frames)
    reuse: bool = False          # only `finish`: the fine-tunes in work_dir were made already (elsewhere)
    training: FaceGifOptions = field(default_factory=FaceGifOptions)


def build(job: FaceGifJob, runtime, progress=print) -> dict:
    from ..config import FaceOptions
    from .fer import load_split
    from .gif_crops import extract_datasets
    from .stream import FaceStream

    if not Path(job.crops).exists():
        extract_datasets(job.data, job.crops, runtime, job.num_frames)
    faces = GifFaces.load(job.crops)
    progress(f"{len(faces)} faces in {len(faces.gifs)} GIFs ({job.crops})")
    val_x, val_y = load_split(Path(job.fer) / "val")
    if not job.reuse:
        fer_x, fer_y = load_split(Path(job.fer) / "train")
        run(faces, fer_x, fer_y, val_x, val_y, job.init, job.work_dir, job.training, progress)
    with FaceStream(FaceOptions(), runtime, weights=job.init) as stream:  # only its combination is used
        return finish(faces, val_x, val_y, job.work_dir, job.out, stream)
