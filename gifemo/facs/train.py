"""Training the expression CNN on FER2013 (train split), validated on the PublicTest split.

Everything runs on tensors already in memory: the whole split is one uint8 tensor and augmentation is
done per batch with one affine warp, so the CPU spends its time on the network, not on PIL.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from platformdirs import user_cache_dir
from tqdm import tqdm

from .. import metrics
from ..config import Runtime
from ..emotions import EMOTIONS
from ..plots import plot_confusion, plot_training_curves
from .expression import CROP_SIZE, DEFAULT_VIEWS, TEST_VIEWS, ExpressionConfig, ExpressionNet, predict_proba
from .fer import load_split
from .weights import EXPRESSION_WEIGHTS, Member, load_members, save_members


@dataclass
class FaceTrainOptions:
    data: Path
    out: Path
    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 0.1                 # peak of the one-cycle schedule (SGD, Nesterov)
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    class_weight_power: float = 0.5  # weight of class c = (median count / count c) ** power: helps disgust
    erase_prob: float = 0.5
    widths: tuple[int, ...] = (32, 64, 128, 256)
    threads: int = 2
    bf16: bool = True               # bfloat16 autocast: 2-3x faster on CPUs with AMX/AVX512-BF16
    seed: int = 0
    time_budget: Optional[float] = None  # minutes: the schedule is stretched/cut so training ends annealed in time
    # per-epoch checkpoint (resumed if present) and best weights; default: user cache, one folder per seed
    work_dir: Optional[Path] = None
    # start from this member (same seed) of a weights file and continue with a new schedule (a warm restart)
    init: Optional[Path] = None
    # add the trained network to the ensemble already in `out` (replacing a member of the same seed)
    # instead of writing a one-member file
    ensemble: bool = False


def augment(images: torch.Tensor, generator: torch.Generator, erase_prob: float) -> torch.Tensor:
    """Random rotation (+-12 deg), scale (0.9-1.1), shift, horizontal flip, then a CROP_SIZE crop, erasing."""
    n = images.shape[0]
    rand = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    angle = (rand(n) * 2 - 1) * math.radians(12)
    scale = 0.9 + rand(n) * 0.2
    flip = torch.where(rand(n) < 0.5, -1.0, 1.0)
    shift = (rand(n, 2) * 2 - 1) * 0.1
    # affine_grid maps output coords to input coords; output covers CROP/48 of the input at scale 1.
    zoom = CROP_SIZE / images.shape[-1] / scale
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1),
                         torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, (n, 1, CROP_SIZE, CROP_SIZE), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # Random erasing: one rectangle of 2-20 % of the area filled with noise, on a fraction of the batch.
    area = (0.02 + rand(n) * 0.18) * CROP_SIZE ** 2
    aspect = torch.exp((rand(n) * 2 - 1) * math.log(3))
    h = (area * aspect).sqrt().clamp(1, CROP_SIZE).long()
    w = (area / aspect).sqrt().clamp(1, CROP_SIZE).long()
    y0 = (rand(n) * (CROP_SIZE - h + 1)).long()
    x0 = (rand(n) * (CROP_SIZE - w + 1)).long()
    ys = torch.arange(CROP_SIZE).view(1, -1, 1)
    xs = torch.arange(CROP_SIZE).view(1, 1, -1)
    mask = ((ys >= y0.view(-1, 1, 1)) & (ys < (y0 + h).view(-1, 1, 1))
            & (xs >= x0.view(-1, 1, 1)) & (xs < (x0 + w).view(-1, 1, 1)) & (rand(n) < erase_prob).view(-1, 1, 1))
    noise = rand(n, CROP_SIZE, CROP_SIZE)
    return torch.where(mask.unsqueeze(1), noise.unsqueeze(1), out)


def schedule_progress(step: int, total_steps: int, seconds: float, budget_minutes: Optional[float]) -> float:
    """How far training is, in [0, 1]: by steps, or by time spent when that runs out first."""
    progress = step / total_steps
    if budget_minutes:
        progress = max(progress, seconds / (budget_minutes * 60))
    return progress


def learning_rate(progress: float, peak: float, warmup: float = 0.05) -> float:
    """Linear warm-up to `peak`, then a cosine decay to zero."""
    if progress < warmup:
        return peak * (0.1 + 0.9 * progress / warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup)))


def class_weights(labels: np.ndarray, power: float) -> torch.Tensor:
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(np.float64)
    return torch.tensor((np.median(counts) / np.maximum(counts, 1)) ** power, dtype=torch.float32)


def validation_figures(probs: torch.Tensor, labels: np.ndarray) -> dict:
    pred = probs.argmax(1).numpy()
    matrix = metrics.confusion(labels, pred)
    return {"accuracy": float((pred == labels).mean()), "recall": metrics.recall(matrix), "confusion": matrix.tolist()}


def train(options: FaceTrainOptions) -> dict:
    torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    train_x, train_y = load_split(Path(options.data) / "train")
    val_x, val_y = load_split(Path(options.data) / "val")
    train_images = torch.from_numpy(train_x).unsqueeze(1)  # uint8, converted per batch
    val_images = torch.from_numpy(val_x).unsqueeze(1).float() / 255
    train_labels = torch.from_numpy(train_y)

    model = ExpressionNet(ExpressionConfig(widths=tuple(options.widths)))
    history: list[dict] = []  # per epoch; a warm restart continues the history of the network it starts from
    previous: dict = {}       # what the network started from had been through
    if options.init:
        start = warm_start(Path(options.init), options.seed)
        model, history = start.model, list(start.info.get("history", []))
        previous = {"from": str(options.init), "epoch": start.info.get("epoch"),
                    "train_minutes": start.info.get("train_minutes", 0.0), "options": start.info.get("options")}
    model = model.to(memory_format=torch.channels_last)
    epoch_offset = len(history)
    # one checkpoint folder per seed (and per starting point of a warm restart), so runs never resume each other
    run_name = f"seed-{options.seed}" + (f"-from-epoch-{epoch_offset}" if options.init else "")
    work_dir = Path(options.work_dir or Path(user_cache_dir("gifemo")) / "train_face" / run_name)
    work_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = work_dir / "checkpoint.pt"
    optimizer = torch.optim.SGD(model.parameters(), lr=options.learning_rate, momentum=0.9, nesterov=True,
                                weight_decay=options.weight_decay)
    steps_per_epoch = len(train_images) // options.batch_size
    total_steps = steps_per_epoch * options.epochs
    weights = class_weights(train_y, options.class_weight_power)
    start_epoch, trained_seconds, best = 0, 0.0, {"accuracy": -1.0}
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, trained_seconds = state["epoch"], state["trained_seconds"]
        history, best = json.loads(state["history"]), json.loads(state["best"])
        print(f"resumed from {checkpoint_path} at epoch {start_epoch}")

    generator = torch.Generator().manual_seed(options.seed)
    for epoch in range(start_epoch, options.epochs):
        generator.manual_seed(options.seed * 1000 + epoch)  # a resumed run sees the same batches
        model.train()
        order = torch.randperm(len(train_images), generator=generator)
        started, total_loss, correct, seen = time.time(), 0.0, 0, 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{options.epochs}", unit="batch", mininterval=10)
        for step in bar:
            progress = schedule_progress(epoch * steps_per_epoch + step, total_steps,
                                         trained_seconds + time.time() - started, options.time_budget)
            if progress >= 1:
                break
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(progress, options.learning_rate)
            idx = order[step * options.batch_size:(step + 1) * options.batch_size]
            x = augment(train_images[idx].float() / 255, generator, options.erase_prob)
            x = x.contiguous(memory_format=torch.channels_last)
            y = train_labels[idx]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=options.bf16):
                logits = model(x).float()
            loss = F.cross_entropy(logits, y, weight=weights, label_smoothing=options.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}", refresh=False)
        if seen == 0:  # the budget ran out exactly at an epoch boundary
            break
        val = validation_figures(predict_proba(model, val_images, views=1, bf16=options.bf16), val_y)
        row = {"epoch": epoch_offset + epoch + 1, "train_loss": total_loss / seen, "train_accuracy": correct / seen,
               "val_accuracy": val["accuracy"], "val_recall": val["recall"],
               "lr": optimizer.param_groups[0]["lr"], "seconds": time.time() - started}
        trained_seconds += row["seconds"]
        history.append(row)
        print(json.dumps(row), flush=True)
        if val["accuracy"] > best["accuracy"]:
            best = {"accuracy": val["accuracy"], "epoch": row["epoch"]}
            save_members([Member(model, {"seed": options.seed, "epoch": row["epoch"]})], work_dir / "best.pt")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "trained_seconds": trained_seconds, "epoch": epoch + 1,
                    "history": json.dumps(history), "best": json.dumps(best)}, checkpoint_path)
        if progress >= 1:
            break

    # The last epoch of an annealed schedule is normally the best; keep it unless an earlier one beat it.
    final_epoch = history[-1]["epoch"]
    if best["epoch"] != final_epoch:
        model, final_epoch = load_members(work_dir / "best.pt")[0].model, best["epoch"]
    member = Member(model, {"seed": options.seed, "epoch": final_epoch,
                            "train_minutes": previous.get("train_minutes", 0.0) + trained_seconds / 60,
                            **({"warm_start": previous} if previous else {}),
                            "options": {k: str(v) for k, v in asdict(options).items()}, "history": history})
    members = [member]
    if options.ensemble and (out / EXPRESSION_WEIGHTS).exists():
        members = [m for m in load_members(out / EXPRESSION_WEIGHTS) if m.seed != options.seed] + members
    return write_ensemble(members, val_images, val_y, out)


def warm_start(path: Path, seed: int) -> Member:
    """The member of `seed` in the weights file at `path` (or its only member), to continue training from."""
    members = load_members(path)
    chosen = [m for m in members if m.seed == seed] or (members if len(members) == 1 else [])
    if not chosen:
        raise ValueError(f"{path}: no member with seed {seed} to start from "
                         f"(members: {', '.join(str(m.seed) for m in members)})")
    return chosen[0]


def figures_by_views(probs_by_views: dict[int, torch.Tensor], val_y: np.ndarray) -> dict:
    """Val figures with the default test-time views, and the accuracy with each choice of views."""
    by_views = {views: validation_figures(probs, val_y) for views, probs in probs_by_views.items()}
    return {**by_views[DEFAULT_VIEWS], "views": DEFAULT_VIEWS,
            "accuracy_by_views": {str(views): result["accuracy"] for views, result in by_views.items()}}


def write_ensemble(members: list[Member], val_images: torch.Tensor, val_y: np.ndarray, out: Path) -> dict:
    """Evaluate the ensemble (and each member again) on val, then write its weights, metrics JSON and figures."""
    member_probs = []
    for member in members:
        member.model.half().float()  # evaluate exactly what the file stores: float16 weights
        probs = {views: predict_proba(member.model, val_images, views=views) for views in TEST_VIEWS}
        member.info.update({k: v for k, v in figures_by_views(probs, val_y).items() if k != "confusion"})
        member_probs.append(probs)
    # the ensemble's probabilities are the mean of its members' (ExpressionEnsemble), so they are not recomputed
    ensemble_probs = {views: torch.stack([probs[views] for probs in member_probs]).mean(0) for views in TEST_VIEWS}
    metrics = {**figures_by_views(ensemble_probs, val_y), "val_images": int(len(val_y)),
               "members": [m.info for m in members]}
    summary = {k: metrics[k] for k in ("accuracy", "recall", "accuracy_by_views")}
    save_members(members, out / EXPRESSION_WEIGHTS, summary)
    (out / "face_expression_metrics.json").write_text(json.dumps(metrics, indent=1))
    write_figures(metrics, out)
    return metrics


def write_figures(metrics: dict, out: Path) -> None:
    """Training curves of every member and the ensemble's validation confusion matrix as PNG."""
    plot_training_curves(metrics["members"], metrics["accuracy"], f"ensemble, {metrics['views']} views",
                         out / "face_expression_training.png")
    plot_confusion(metrics["confusion"], EMOTIONS, out / "face_expression_confusion.png",
                   title=f"FER2013 val (PublicTest): accuracy {metrics['accuracy']:.3f}")


def fit_combination(data: Path, out: Path, runtime: Runtime, threads: int = 2) -> dict:
    """Fit the CNN + EMFACS-rules combination on FER2013 val and write face_combine.json beside the CNN.

    The landmarker runs on each val image (upscaled); images where it finds no face are left out of
    the fit (at inference such faces keep the CNN alone). Accuracies are 5-fold cross-validated.
    """
    from .aus import action_units
    from .combine import COMBINATION_WEIGHTS, fit
    from .landmarks import FaceLandmarker
    from .rules import rule_scores
    from ..config import FaceOptions
    from .weights import load_expression
    from ..emotions import scores_vector

    torch.set_num_threads(threads)
    images, labels = load_split(Path(data) / "val")
    model = load_expression(Path(out) / EXPRESSION_WEIGHTS)
    # the same test-time views as the face stream uses, so the fitted weights match what they will combine
    cnn = predict_proba(model, torch.from_numpy(images).unsqueeze(1).float() / 255, views=FaceOptions().views).numpy()
    rules, rules_emfacs, found = [], [], []
    with FaceLandmarker(max_faces=1, min_detection_confidence=0.3, runtime=runtime) as landmarker:
        for image in tqdm(images, desc="landmarks on val", unit="img"):
            faces = landmarker.detect(np.repeat(image[..., None], 3, axis=2))
            found.append(bool(faces))
            if faces:
                aus = action_units(faces[0].blendshapes)
                rules.append(scores_vector(rule_scores(aus)))
                rules_emfacs.append(scores_vector(rule_scores(aus, sources=("EMFACS",))))
    found = np.asarray(found)
    combination = fit(cnn[found], np.stack(rules), labels[found])
    combination.metrics.update({
        "val_images": int(len(labels)), "faces_found": int(found.sum()),
        "accuracy_rules_emfacs_only_argmax": float((np.stack(rules_emfacs).argmax(1) == labels[found]).mean()),
        "accuracy_cnn_all_val": float((cnn.argmax(1) == labels).mean()),
    })
    combination.save(Path(out) / COMBINATION_WEIGHTS)
    return combination.metrics
