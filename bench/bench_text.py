"""Text emotion speed: messages per second in batch and single-message latency, for every text model.

    .venv/bin/python bench/bench_text.py [--threads 1] [--batch 2000] [--single 100]

With --validation it instead scores every text model, as shipped (gifemo.text.load_model), on the validation
splits: tweet accuracy, GoEmotions macro-F1 and the calibration of the top emotion's probability (expected
calibration error), and writes bench/results/text_validation.json.

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

import numpy as np
import torch

from gifemo.config import TEXT_MODELS, Runtime
from gifemo.text import data, load_model, metrics
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


def validation() -> list[dict]:
    from gifemo import metrics as shared_metrics
    from gifemo.emotions import EMOTIONS

    runtime = Runtime.from_env(models_dir=os.environ.get("GIFEMO_MODELS_DIR") or ROOT.parent / "shared" / "models")
    rows = []
    for name in TEXT_MODELS:
        model, row = load_model(runtime, name), {"model": name}
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
                           "per_class_f1": figures["per_class_f1"]}
        print(row, flush=True)
        rows.append(row)
    return rows


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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    if args.ablation:
        (results_dir / "text_preprocessing.json").write_text(json.dumps(ablation(), indent=1))
        return
    if args.validation:
        (results_dir / "text_validation.json").write_text(json.dumps(validation(), indent=1))
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
