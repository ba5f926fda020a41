"""Training of both text models on tweet_emotion + goemotions_ekman together.

One 7-way softmax is trained on the union of the two corpora. Each row's target is its label
distribution (multi-label GoEmotions rows split evenly). A corpus only says which of ITS emotions a
row shows: CARER has no neutral or disgust label at all. By default (outside_label_weight 1) tweet rows
are trained against neutral and disgust too, which the model turns into "tweet register = some
feeling" (plain statements such as "the report is attached" read as happiness). With 0 a tweet row is
scored by a partial-label softmax over the 5 tweet emotions only (`partial_label_cross_entropy`): plain
statements then read neutral, but about 1 % of tweet val rows do too, which costs tweet accuracy
(data/weights/README.md), so the shipped weights keep 1. Classes are weighted by (inverse frequency) **
class_weight_power over the union, so the rare GoEmotions classes (fear, disgust, surprise) are not
drowned. The epoch kept is the one with the best mean of tweet val accuracy and GoEmotions dev
macro-F1; figures are in metrics.py.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .. import models
from ..config import Runtime
from ..emotions import EMOTIONS
from ..paths import WEIGHTS_DIR
from ..plots import plot_confusion
from . import metrics
from .bilstm import BiLSTMClassifier, BiLSTMConfig
from .data import CORPORA, TextSet, label_space, read_split
from .encoder import EmbeddingHead, HeadConfig, embed
from .model import WEIGHTS, pad_batch
from .preprocess import PreprocessOptions, Vocabulary, tokenize


@dataclass
class TextTrainOptions:
    data: Path
    model: str = "bilstm"  # "bilstm" | "minilm"
    out: Path = WEIGHTS_DIR
    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    class_weight_power: float = 0.5
    max_vocab: int = 30000
    max_train_tokens: int = 64  # training texts are cut here (inference reads up to 256 tokens)
    bilstm: dict = field(default_factory=dict)  # BiLSTMConfig overrides
    train_limit: Optional[int] = None  # a seeded random subset of each train split (MiniLM: embedding time)
    embed_cache: Optional[Path] = None  # folder for MiniLM embeddings of the splits
    # Weight of the term pushing a row away from emotions its corpus never labels (tweets: neutral, disgust):
    # 0 = partial-label softmax over the corpus's own emotions, 1 = ordinary 7-way cross-entropy (shipped).
    outside_label_weight: float = 1.0
    threads: int = 1
    device: str = "cpu"
    seed: int = 0


@dataclass
class Splits:
    train: list[TextSet]
    val: list[TextSet]

    @property
    def train_targets(self) -> np.ndarray:
        return np.concatenate([c.targets for c in self.train])

    @property
    def train_texts(self) -> list[str]:
        return [t for c in self.train for t in c.texts]

    @property
    def train_label_space(self) -> np.ndarray:
        """(N, 7) bool: the emotions each row's corpus can label."""
        return np.concatenate([np.tile(label_space(c.name), (len(c), 1)) for c in self.train])


def subset(corpus: TextSet, limit: Optional[int], seed: int) -> TextSet:
    if limit is None or limit >= len(corpus):
        return corpus
    rows = np.random.default_rng(seed).permutation(len(corpus))[:limit]
    return TextSet(corpus.name, [corpus.texts[i] for i in rows], corpus.targets[rows], corpus.labels[rows])


def load_splits(options: TextTrainOptions) -> Splits:
    train = [subset(read_split(options.data, c, "train"), options.train_limit, options.seed) for c in CORPORA]
    return Splits(train, [read_split(options.data, c, "val") for c in CORPORA])


def class_weights(targets: np.ndarray, power: float) -> torch.Tensor:
    counts = targets.sum(0) + 1.0
    weights = (counts.sum() / counts) ** power
    weights /= (weights * counts).sum() / counts.sum()  # the average row keeps weight 1
    return torch.tensor(weights, dtype=torch.float32)


def partial_label_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
                                label_space: torch.Tensor, outside_weight: float) -> torch.Tensor:
    """Soft cross-entropy of the softmax over each row's label space, plus `outside_weight` x -log P(label space).

    -log p(y) over all 7 classes = -log p(y | label space) - log P(label space): with outside_weight 1 this is
    the ordinary 7-way loss; with 0 a row says nothing about emotions its corpus cannot name.
    """
    inside = logits.masked_fill(~label_space, float("-inf"))
    inside_total = torch.logsumexp(inside, dim=-1, keepdim=True)
    log_probs = inside - inside_total + outside_weight * (inside_total - torch.logsumexp(logits, dim=-1, keepdim=True))
    # Targets are 0 outside the label space; where() keeps 0 x -inf out of the sum.
    return -torch.where(label_space, targets * weights * log_probs, 0.0).sum(-1).mean()


# ---------------------------------------------------------------- the two kinds of input
class BiLSTMInputs:
    """Token ids of every text; batches of similar length."""

    def __init__(self, texts: Sequence[str], vocabulary: Vocabulary, options: PreprocessOptions, max_tokens: int):
        self.ids = [vocabulary.encode(tokenize(t, options)[:max_tokens]) or [1] for t in tqdm(texts, desc="tokenise", leave=False)]

    def __len__(self) -> int:
        return len(self.ids)

    def batches(self, rows: np.ndarray, batch_size: int, shuffle: bool, rng: np.random.Generator):
        if shuffle:
            # Sort within chunks of 50 batches: little padding, still random batches.
            chunk = batch_size * 50
            rows = np.concatenate([sorted(rows[i:i + chunk], key=lambda r: len(self.ids[r]))
                                   for i in range(0, len(rows), chunk)])
        starts = list(range(0, len(rows), batch_size))
        if shuffle:
            rng.shuffle(starts)
        for start in starts:
            batch = rows[start:start + batch_size]
            yield batch, pad_batch([self.ids[r] for r in batch])


class EmbeddingInputs:
    def __init__(self, embeddings: np.ndarray):
        self.embeddings = torch.from_numpy(embeddings)

    def __len__(self) -> int:
        return len(self.embeddings)

    def batches(self, rows: np.ndarray, batch_size: int, shuffle: bool, rng: np.random.Generator):
        for start in range(0, len(rows), batch_size):
            batch = rows[start:start + batch_size]
            yield batch, (self.embeddings[batch],)


def cached_embeddings(corpus: TextSet, split: str, options: TextTrainOptions, runtime: Runtime) -> np.ndarray:
    cache = None
    if options.embed_cache is not None:
        suffix = f"_{len(corpus)}" if split == "train" and options.train_limit else ""
        cache = Path(options.embed_cache) / f"{corpus.name}_{split}{suffix}.npy"
        if cache.is_file():
            cached = np.load(cache)
            if len(cached) == len(corpus):
                return cached
    print(f"embedding {len(corpus)} {corpus.name} {split} texts with MiniLM (slow on a CPU; --embed-cache keeps them)")
    result = embed(corpus.texts, runtime, progress=True)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, result)
    return result


# ---------------------------------------------------------------- loop
def predict_probs(network: nn.Module, inputs, batch_size: int = 512) -> np.ndarray:
    network.eval()
    device = next(network.parameters()).device
    out = np.zeros((len(inputs), len(EMOTIONS)), dtype=np.float32)
    with torch.inference_mode():
        for batch, tensors in inputs.batches(np.arange(len(inputs)), batch_size, False, None):
            out[batch] = torch.softmax(network(*(t.to(device) for t in tensors)), dim=-1).cpu().numpy()
    return out


def fit(network: nn.Module, train_inputs, targets: np.ndarray, label_space: np.ndarray,
        val: list[tuple[TextSet, object]], options: TextTrainOptions) -> tuple[dict, list[dict]]:
    """Train; returns the best epoch's state dict (on the CPU) and every epoch's validation figures."""
    rng = np.random.default_rng(options.seed)
    device = torch.device(options.device)
    network.to(device)
    weights = class_weights(targets, options.class_weight_power).to(device)
    optimizer = torch.optim.AdamW(network.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay)
    steps = options.epochs * -(-len(train_inputs) // options.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, options.learning_rate, total_steps=steps,
                                                   pct_start=max(0.1, 2 / steps))  # 2+ warm-up steps on tiny runs
    target_tensor, space_tensor = torch.from_numpy(targets).to(device), torch.from_numpy(label_space).to(device)
    history, best_state, best_score = [], None, -1.0
    for epoch in range(1, options.epochs + 1):
        network.train()
        started, total = time.time(), 0.0
        batches = train_inputs.batches(rng.permutation(len(train_inputs)), options.batch_size, True, rng)
        for batch, tensors in tqdm(batches, total=-(-len(train_inputs) // options.batch_size), desc=f"epoch {epoch}", leave=False):
            rows = torch.from_numpy(batch).to(device)
            loss = partial_label_cross_entropy(network(*(t.to(device) for t in tensors)), target_tensor[rows], weights,
                                               space_tensor[rows], options.outside_label_weight)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        figures = {corpus.name: metrics.corpus_figures(corpus, predict_probs(network, inputs)) for corpus, inputs in val}
        score = float(np.mean([metrics.headline(f) for f in figures.values()]))
        history.append({"epoch": epoch, "loss": total / len(train_inputs), "seconds": round(time.time() - started, 1),
                        "score": score, **{name: {k: f[k] for k in f if k != "per_class_f1"} for name, f in figures.items()}})
        print(f"epoch {epoch}: loss {total / len(train_inputs):.4f}  "
              + "  ".join(f"{name} {metrics.headline(f):.4f}" for name, f in figures.items())
              + f"  ({time.time() - started:.0f}s)", flush=True)
        if score > best_score:
            best_score, best_state = score, {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
    return best_state, history


def train(options: TextTrainOptions, runtime: Runtime) -> Path:
    torch.manual_seed(options.seed)
    torch.set_num_threads(options.threads)
    splits = load_splits(options)
    targets = splits.train_targets
    if options.model == "bilstm":
        preprocess = PreprocessOptions()
        vocabulary = Vocabulary.build((tokenize(t, preprocess) for t in tqdm(splits.train_texts, desc="vocabulary")),
                                      options.max_vocab)
        network = BiLSTMClassifier(BiLSTMConfig(vocab_size=len(vocabulary), **options.bilstm))
        make_inputs = lambda texts, _c, _s: BiLSTMInputs(texts, vocabulary, preprocess, options.max_train_tokens)
        extra = {"vocab": vocabulary.tokens, "preprocess": asdict(preprocess)}
    elif options.model == "minilm":
        network = EmbeddingHead(HeadConfig())
        make_inputs = lambda _t, corpus, split: EmbeddingInputs(
            np.concatenate([cached_embeddings(c, split, options, runtime) for c in corpus]))
        extra = {}
    else:
        raise ValueError(f"unknown text model {options.model!r}")
    train_inputs = make_inputs(splits.train_texts, splits.train, "train")
    val = [(c, make_inputs(c.texts, [c], "val")) for c in splits.val]
    best_state, history = fit(network, train_inputs, targets, splits.train_label_space, val, options)
    network.cpu().load_state_dict(best_state)
    best = max(history, key=lambda h: h["score"])
    figures = {c.name: metrics.corpus_figures(c, predict_probs(network, inputs)) for c, inputs in val}
    checkpoint = {
        "kind": options.model, "config": network.config_dict(), **extra,
        # float16 halves the file; the scores it gives differ from float32 in the 4th decimal at most.
        "state_dict": {k: v.half() for k, v in best_state.items()},
        "figures": json.loads(json.dumps(figures)), "epoch": best["epoch"],
    }
    out_dir = Path(options.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / models.get_spec(WEIGHTS[options.model]).files[0].relpath
    torch.save(checkpoint, path)
    report = {"options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
              "best_epoch": best["epoch"], "validation": figures, "history": history}
    report_path = path.with_name(path.stem + "_validation.json")
    report_path.write_text(json.dumps(report, indent=1))
    save_confusion_pngs(val, network, path)
    print(f"saved {path} ({path.stat().st_size / 1e6:.1f} MB), best epoch {best['epoch']}; figures in {report_path}")
    return path


def save_confusion_pngs(val: list[tuple[TextSet, object]], network: nn.Module, weights: Path) -> None:
    """One confusion matrix per corpus, beside the weights: <stem>_confusion_<corpus>.png."""
    for corpus, inputs in val:
        probs = predict_probs(network, inputs)
        rows = np.flatnonzero(corpus.labels.any(0))  # tweets have no disgust/neutral rows
        plot_confusion(metrics.confusion(probs, corpus.labels)[rows], [EMOTIONS[i] for i in rows],
                       weights.with_name(f"{weights.stem}_confusion_{corpus.name}.png"),
                       title=f"{corpus.name} val: {metrics.headline(metrics.corpus_figures(corpus, probs)):.3f}",
                       column_labels=EMOTIONS)
