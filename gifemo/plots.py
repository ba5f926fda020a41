"""Pictures of results: confusion matrices and per-frame emotion timelines (PNG)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .emotions import EMOTIONS

# One colour per emotion, reused by the app so a colour means the same everywhere.
COLOURS = {
    "anger": "#d62728", "disgust": "#8c9c2c", "fear": "#9467bd", "happiness": "#f2b701",
    "sadness": "#1f77b4", "surprise": "#ff7f0e", "neutral": "#7f7f7f",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out_png: str | Path, dpi: int) -> Path:
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=dpi)
    _pyplot().close(fig)
    return out_png


def plot_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str], out_png: str | Path,
                   title: str = "Confusion matrix", column_labels: Sequence[str] | None = None) -> Path:
    """Rows are true labels, columns predictions (`column_labels` when they differ, e.g. an extra
    "no answer" column); cells show counts, colour shows the share of the row."""
    column_labels = list(column_labels or labels)
    plt = _pyplot()
    counts = np.asarray(matrix, dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(column_labels), 0.6 + 0.7 * len(labels)))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(column_labels)), column_labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            if counts[i, j]:
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center",
                        color="white" if shares[i, j] > 0.5 else "black")
    return _save(fig, out_png, dpi=120)


def plot_timeline(timeline: Sequence[dict], out_png: str | Path, title: str = "Emotion over time") -> Path:
    """Stacked emotion scores per sampled frame; frames without a face are left blank."""
    plt = _pyplot()
    times = [float(step["time"]) for step in timeline]
    fig, ax = plt.subplots(figsize=(8, 3))
    if times:
        stack = np.array([[float((step.get("scores") or {}).get(e, np.nan)) for e in EMOTIONS] for step in timeline])
        ax.stackplot(times, np.nan_to_num(stack).T, labels=EMOTIONS, colors=[COLOURS[e] for e in EMOTIONS], alpha=0.9)
        missing = [t for t, row in zip(times, stack) if np.isnan(row).all()]
        if missing:
            ax.plot(missing, [0.02] * len(missing), "x", color="black", label="no face")
        ax.set_xlim(min(times), max(times) if max(times) > min(times) else min(times) + 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("seconds")
    ax.set_ylabel("score")
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    return _save(fig, out_png, dpi=110)


def plot_training_curves(members: Sequence[dict], ensemble_accuracy: float, ensemble_label: str,
                         out_png: str | Path) -> Path:
    """Per-epoch train loss and val accuracy (and fear recall, the hardest class) of each ensemble member."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for member in members:
        history, label = member["history"], f"seed {member['seed']}"
        epochs = [row["epoch"] for row in history]
        ax1.plot(epochs, [row["train_loss"] for row in history], label=f"{label}: train loss")
        line, = ax2.plot(epochs, [row["val_accuracy"] for row in history], label=f"{label}: val accuracy")
        ax2.plot(epochs, [row["val_recall"]["fear"] for row in history], ":", color=line.get_color(),
                 label=f"{label}: val recall fear")
    ax1.set_xlabel("epoch")
    ax1.legend(fontsize=8)
    ax2.axhline(ensemble_accuracy, color="black", lw=0.8, ls="--", label=ensemble_label)
    ax2.set_xlabel("epoch (val: centre crop)")
    ax2.set_ylim(0, 1)
    ax2.legend(fontsize=7)
    fig.suptitle(f"Expression CNN, {len(members)} member(s): val accuracy {ensemble_accuracy:.3f} ({ensemble_label})")
    return _save(fig, out_png, dpi=100)


def plot_reliability(bins: Sequence[dict], out_png: str | Path, title: str = "Reliability") -> Path:
    """Accuracy against confidence per confidence bin (bar width: the bin, bar label: its count); a calibrated
    model's bars reach the diagonal."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], color="#7f7f7f", linestyle="--", linewidth=1, label="calibrated")
    for b in bins:
        ax.bar(b["low"], b["accuracy"], width=b["high"] - b["low"], align="edge", color="#1f77b4",
               edgecolor="white", alpha=0.8)
        ax.plot((b["low"] + b["high"]) / 2, b["confidence"], "o", color="#d62728", markersize=4)
        ax.annotate(str(b["n"]), ((b["low"] + b["high"]) / 2, b["accuracy"]), ha="center", va="bottom", fontsize=7)
    ax.set(xlim=(0, 1), ylim=(0, 1.05), xlabel="confidence", ylabel="share right", title=title)
    ax.plot([], [], "o", color="#d62728", markersize=4, label="mean confidence in bin")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, out_png, dpi=120)
