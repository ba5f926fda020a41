"""Text emotion speed: messages per second in batch and single-message latency, for every text model.

    .venv/bin/python bench/bench_text.py [--threads 1] [--batch 2000] [--single 100]

With --validation it instead scores every text model, as shipped (gifemo.text.load_model), on the validation
splits: tweet accuracy, GoEmotions macro-F1, the calibration of the top emotion's probability (expected
calibration error) and how often the answer is neutral, and writes bench/results/text_validation.json.
With --messages it prints how every model reads the fixed messages of bench/data/text_messages.tsv (plain
statements and clearly emotional ones) and writes bench/results/text_messages.json.
--bilstm-weights scores a candidate BiLSTM checkpoint (alone and in the ensemble) instead of the shipped one;
--ensemble-weights scores the ensemble at other MiniLM weights too (to choose it on the validation splits).

Messages are real validation rows of both corpora (../shared/data). Writes bench/results/text.json.
With --ablation it instead measures the preprocessing choices (stop words, stemming, negation
splitting) with a TF-IDF + logistic-regression probe on the validation splits, and writes
bench/results/text_preprocessing.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from gifemo.config import TEXT_MODELS, Runtime
from gifemo.text import data, load_model, metrics
from gifemo.text.model import EnsembleTextModel, TextEmotionModel
from gifemo.text.onnx_encoder import load_message_encoder
from gifemo.text.preprocess import PreprocessOptions, tokenize

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def messages(n: int) -> list[str]:
    texts = [t for c in data.CORPORA for t in data.read_split(DATA, c, "val").texts]
    return [texts[i] for i in np.random.default_rng(0).permutation(len(texts))[:n]]


def bench_model(name: str, texts: list[str], singles: int) -> dict:
    load_message_encoder.cache_clear()  # no embeddings kept from the model timed before
    started = time.perf_counter()
    model = load_model(Runtime.from_env(models_dir=os.environ.get("GIFEMO_MODELS_DIR") or ROOT.parent / "shared" / "models"), name)
    model.predict_one("warm up")
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    model.predict(texts)
    batch_s = time.perf_counter() - started
    latencies = []
    for text in texts[:singles]:
        started = time.perf_counter()
        model.predict_one(text)
        latencies.append((time.perf_counter() - started) * 1000)
    return {"model": name, "load_s": round(load_s, 2), "batch_messages": len(texts),
            "messages_per_s": round(len(texts) / batch_s, 1), "latency_ms_median": round(statistics.median(latencies), 2),
            "latency_ms_p95": round(float(np.percentile(latencies, 95)), 2)}


class Remembered(TextEmotionModel):
    """A model whose answers for a list of texts are kept: the ensembles at several weights share one MiniLM pass."""

    def __init__(self, model: TextEmotionModel):
        self.model, self.name, self.answers = model, model.name, {}

    def probabilities(self, texts) -> np.ndarray:
        key = tuple(texts)
        if key not in self.answers:
            self.answers[key] = self.model.probabilities(texts)
        return self.answers[key]


def text_models(bilstm_weights: Optional[Path], ensemble_weights: Sequence[float]) -> dict[str, TextEmotionModel]:
    """Every text model as shipped (or with the candidate BiLSTM), ensembles named by their MiniLM weight."""
    runtime = Runtime.from_env(models_dir=os.environ.get("GIFEMO_MODELS_DIR") or ROOT.parent / "shared" / "models")
    bilstm = Remembered(load_model(runtime, "bilstm", bilstm_weights))
    minilm = Remembered(load_model(runtime, "minilm"))
    shipped = load_model(runtime, "ensemble").minilm_weight
    ensembles = {("ensemble" if w == shipped else f"ensemble@{w}"): EnsembleTextModel(bilstm, minilm, w)
                 for w in dict.fromkeys([shipped, *ensemble_weights])}
    return {"bilstm": bilstm, "minilm": minilm, **ensembles}


def validation(models: dict[str, TextEmotionModel]) -> list[dict]:
    from gifemo import metrics as shared_metrics
    from gifemo.emotions import EMOTIONS

    rows = []
    for name, model in models.items():
        row = {"model": name}
        for corpus in data.CORPORA:
            val = data.read_split(DATA, corpus, "val")
            probs = model.probabilities(val.texts)
            figures = metrics.corpus_figures(val, probs)
            predicted = [EMOTIONS[i] for i in probs.argmax(1)]
            # A multi-label row is right when the answer is any of its labels.
            truth = [p if val.labels[r, EMOTIONS.index(p)] else EMOTIONS[int(val.labels[r].argmax())]
                     for r, p in enumerate(predicted)]
            row[corpus] = {"headline": round(metrics.headline(figures), 4), "n": len(val),
                           "ece": round(shared_metrics.calibration(truth, predicted, probs.max(1))["ece"], 4),
                           "neutral_rate": round(float(np.mean([p == "neutral" for p in predicted])), 4),
                           "per_class_f1": figures["per_class_f1"]}
        print(row, flush=True)
        rows.append(row)
    return rows


def read_messages() -> list[dict]:
    rows = []
    for line in (ROOT / "bench" / "data" / "text_messages.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, expected, text = line.split("\t")
            rows.append({"kind": kind, "expected": expected, "text": text})
    return rows


def message_readings(models: dict[str, TextEmotionModel]) -> dict:
    """Each model's top emotion on the fixed messages, and how many of each kind it reads as expected."""
    from gifemo.emotions import top_emotion

    messages = read_messages()
    report = {"messages": messages, "models": {}}
    for name, model in models.items():
        readings = model.predict([m["text"] for m in messages])
        tops = [top_emotion(r) for r in readings]
        summary = {kind: sum(t == m["expected"] for t, m in zip(tops, messages) if m["kind"] == kind)
                   for kind in ("plain", "emotional")}
        report["models"][name] = {"as_expected": summary, "readings": [
            {"emotion": t, "probability": round(r[t], 3), "neutral": round(r["neutral"], 3)} for t, r in zip(tops, readings)]}
        print(f"{name}: plain read neutral {summary['plain']}/{sum(m['kind'] == 'plain' for m in messages)}, "
              f"emotional read as expected {summary['emotional']}/{sum(m['kind'] == 'emotional' for m in messages)}")
        for message, t, r in zip(messages, tops, readings):
            mark = " " if t == message["expected"] else "x"
            print(f"  {mark} {t:9s} {r[t]:.2f}  (neutral {r['neutral']:.2f})  {message['text']}")
    return report


def ablation() -> list[dict]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    variants = {"default": PreprocessOptions(), "+stopwords": PreprocessOptions(remove_stopwords=True),
                "+stem": PreprocessOptions(stem=True), "-negation split": PreprocessOptions(split_negations=False)}
    rows = []
    for label, options in variants.items():
        row = {"preprocessing": label}
        for corpus in data.CORPORA:
            train, val = data.read_split(DATA, corpus, "train"), data.read_split(DATA, corpus, "val")
            vectorizer = TfidfVectorizer(analyzer=lambda text: tokenize(text, options), min_df=2, sublinear_tf=True)
            classifier = LogisticRegression(C=5, max_iter=300, class_weight="balanced")
            classifier.fit(vectorizer.fit_transform(train.texts), train.targets.argmax(1))
            probs = np.zeros((len(val), 7))
            probs[:, classifier.classes_] = classifier.predict_proba(vectorizer.transform(val.texts))
            row[corpus] = round(metrics.headline(metrics.corpus_figures(val, probs)), 4)
        print(row, flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2000, help="messages in the batch run")
    parser.add_argument("--single", type=int, default=100, help="messages timed one at a time")
    parser.add_argument("--ablation", action="store_true", help="measure preprocessing choices instead of speed")
    parser.add_argument("--validation", action="store_true", help="score every text model on the validation splits")
    parser.add_argument("--messages", action="store_true", help="how every text model reads bench/data/text_messages.tsv")
    parser.add_argument("--bilstm-weights", type=Path, metavar="PT", help="a candidate BiLSTM checkpoint instead of the shipped one")
    parser.add_argument("--ensemble-weights", type=float, nargs="*", default=[], metavar="W",
                        help="also score the ensemble at these MiniLM weights")
    parser.add_argument("--out", type=Path, metavar="JSON", help="where --validation / --messages write")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    if args.ablation:
        (results_dir / "text_preprocessing.json").write_text(json.dumps(ablation(), indent=1))
        return
    if args.validation or args.messages:
        models = text_models(args.bilstm_weights, args.ensemble_weights)
        report = validation(models) if args.validation else message_readings(models)
        out = args.out or results_dir / ("text_validation.json" if args.validation else "text_messages.json")
        out.write_text(json.dumps(report, indent=1))
        print(f"wrote {out}")
        return
    texts = messages(args.batch)
    results = [bench_model(name, texts, args.single) for name in TEXT_MODELS]
    print(f"{'model':8s} {'load s':>7s} {'msg/s (batch)':>14s} {'latency ms (median)':>20s} {'p95':>7s}")
    for r in results:
        print(f"{r['model']:8s} {r['load_s']:7.2f} {r['messages_per_s']:14.1f} {r['latency_ms_median']:20.2f} "
              f"{r['latency_ms_p95']:7.2f}")
    report = {"threads": args.threads, "cpu": platform.processor() or platform.machine(), "results": results}
    out = results_dir / "text.json"
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
