"""Recommender latency, index build time and recall for corpora of 10k, 100k and 1M GIF vectors.

The GIF vectors are synthetic but shaped like real ones: 2,000 tag texts made of real tag terms
(emotion words, Kinetics action names, FACS action units) are embedded by the real MiniLM, and each
synthetic GIF is one of them plus noise, with an emotion distribution peaked on the text's emotion.
Messages are real (the tweet_emotion validation split), and the per-message latency includes the real
text model and the MiniLM embedding of the message: what `gifemo suggest` does after loading.

    .venv/bin/python bench/bench_recommender.py [--sizes 10000 100000 1000000] [--queries 200]
        [--labelled-db CORPUS.db]

With --labelled-db (a corpus tagged from label-named folders, e.g. `gifemo tag ../shared/data/gifs_dev`),
it also reports how often the suggested GIFs carry the emotion of labelled messages (GoEmotions dev,
single-label rows), with and without the tag-text term. Prints a table and writes
bench/results/recommender.json.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import torch

from common import write_results  # noqa: E402
from gifemo.emotions import EMOTIONS, normalize_label
from gifemo.facs.aus import au_names
from gifemo.recommender import vectors
from gifemo.config import SEMANTIC_DIM, IndexOptions, RankingOptions, Runtime
from gifemo.recommender.index import GifIndex
from gifemo.recommender.ranking import query_vector, rank
from gifemo.text import load_model
from gifemo.text.encoder import embed

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RUNTIME = Runtime.from_env(models_dir=os.environ.get("GIFEMO_MODELS_DIR") or SHARED / "models")
RESULTS = REPO / "bench" / "results" / "recommender.json"
BASE_TEXTS = 2000
K = 8


def tweet_messages() -> list[str]:
    """The tweet_emotion validation messages (2,000 distinct): real messages that no cache has seen."""
    return [line.rsplit(";", 1)[0] for line in (SHARED / "data" / "tweet_emotion" / "val.txt").read_text().splitlines()]


def tag_texts(rng: np.random.Generator) -> tuple[list[str], list[int]]:
    """Tag texts as the index writes them, from real terms; and the emotion each one is about."""
    actions = (SHARED / "models" / "i3d" / "label_map.txt").read_text().split("\n")
    actions = [a for a in actions if a.strip()]
    aus = [name.lower() for name in au_names().values()]
    texts, emotions = [], []
    for _ in range(BASE_TEXTS):
        e = int(rng.integers(len(EMOTIONS)))
        terms = [vectors.EMOTION_WORDS[EMOTIONS[e]]]
        terms += list(rng.choice(actions, size=int(rng.integers(0, 3)), replace=False))
        terms += list(rng.choice(aus, size=int(rng.integers(0, 4)), replace=False))
        texts.append(vectors.tag_text(terms))
        emotions.append(e)
    return texts, emotions


def synthetic_corpus(n: int, base: np.ndarray, base_emotions: np.ndarray, rng: np.random.Generator):
    pick = rng.integers(len(base), size=n)
    vecs = np.empty((n, vectors.DIM), dtype=np.float32)
    for start in range(0, n, 100_000):  # in chunks: the noise for 1M x 384 at once would double the memory
        rows = pick[start:start + 100_000]
        semantic = base[rows] + rng.normal(scale=0.015, size=(len(rows), SEMANTIC_DIM)).astype(np.float32)
        vecs[start:start + len(rows), len(EMOTIONS):] = semantic / np.linalg.norm(semantic, axis=1, keepdims=True)
        emotion = rng.dirichlet(np.full(len(EMOTIONS), 0.3), size=len(rows)).astype(np.float32)
        emotion[np.arange(len(rows)), base_emotions[rows]] += rng.uniform(0.5, 2.0, size=len(rows)).astype(np.float32)
        vecs[start:start + len(rows), :len(EMOTIONS)] = emotion / emotion.sum(1, keepdims=True)
    top = vecs[:, :len(EMOTIONS)].argmax(1)
    rows = {"path": [f"synthetic/{i}.gif" for i in range(n)], "emotion": [EMOTIONS[e] for e in top],
            "confidence": vecs[np.arange(n), top].tolist(), "source": ["face" if i % 3 else "action" for i in range(n)],
            "frames": list(range(n)), "width": [320] * n, "height": [240] * n, "duration": [2.0] * n,
            "term_ids": [[]] * n}
    return vecs, rows


def percentiles(seconds: list[float]) -> dict:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2)}


def time_search(index: GifIndex, queries: np.ndarray, n: int) -> tuple[dict, np.ndarray]:
    seconds, ids = [], []
    for q in queries:
        start = time.perf_counter()
        _, found = index.search(q, n)
        seconds.append(time.perf_counter() - start)
        ids.append(found[:K])
    return percentiles(seconds), np.array(ids)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return round(float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth)])), 3)


def labelled_messages(limit: int) -> list[tuple[str, str]]:
    """GoEmotions dev rows with one Ekman label (all 7 emotions; tweets have no disgust or neutral)."""
    names = (SHARED / "data" / "goemotions_ekman" / "labels.txt").read_text().split()
    out = []
    for line in (SHARED / "data" / "goemotions_ekman" / "dev.tsv").read_text(encoding="utf-8").splitlines():
        text, labels, _ = line.split("\t")
        if "," not in labels:
            out.append((text, normalize_label(names[int(labels)])))
    per_emotion = limit // len(EMOTIONS)  # balanced, so that happiness does not decide the figure
    return [m for e in EMOTIONS for m in [m for m in out if m[1] == e][:per_emotion]]


def emotion_precision(db: Path, text_model: str, k: int, limit: int) -> dict:
    """Share of suggested GIFs whose folder label is the message's label, per ranking; chance for reference."""
    from gifemo.recommender.suggest import Recommender

    recommender = Recommender(db, RUNTIME, text_model=text_model)
    labels = {p: normalize_label(Path(p).parent.name) for p in recommender.index.rows["path"]}
    messages = labelled_messages(limit)
    scores = [(recommender.message_scores(t), recommender.message_embedding(t), label) for t, label in messages]
    chance = np.mean([np.mean([gif_label == label for gif_label in labels.values()]) for _, _, label in scores])
    out = {"corpus": str(db), "gifs": len(labels), "messages": len(messages), "k": k, "chance": round(float(chance), 3)}
    for name, semantic_weight in (("emotion_only", 0.0), ("emotion_and_tags", RankingOptions().semantic_weight)):
        options = RankingOptions(semantic_weight=semantic_weight)
        hits = [np.mean([labels[r.path] == label for r in rank(recommender.index, s, v, k, options=options)])
                for s, v, label in scores]
        out[name] = round(float(np.mean(hits)), 3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--text-model", default=None, help="bilstm or minilm (default: the project's default)")
    parser.add_argument("--labelled-db", type=Path, help="corpus tagged from label-named folders (quality check)")
    parser.add_argument("--exact-sizes", type=int, nargs="+", default=[10_000, 25_000, 50_000, 100_000],
                        help="sizes at which the exact scan is timed, to place the approximate threshold")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"bench_recommender: needs {SHARED} (data and models)", file=sys.stderr)
        return 1
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)  # one message at a time, as the CLI and the app do
    rng = np.random.default_rng(0)
    options = RankingOptions()
    candidates = max(options.min_candidates, options.candidates_per_result * K)

    text_model = load_model(RUNTIME, args.text_model)
    messages = tweet_messages()[:args.queries]
    embed(["warm up"], RUNTIME)
    start = time.perf_counter()
    texts, base_emotions = tag_texts(rng)
    base = vectors.encode(texts, RUNTIME)
    embed_rate = len(texts) / (time.perf_counter() - start)
    print(f"MiniLM embeds {embed_rate:.0f} tag texts/s on this machine (the index build's cost for new GIFs)")

    # Message side, measured once: text model + MiniLM per message.
    message_scores, message_vecs, text_seconds = [], [], []
    for m in messages:
        start = time.perf_counter()
        message_scores.append(text_model.predict_one(m))
        message_vecs.append(embed([m], RUNTIME)[0])
        text_seconds.append(time.perf_counter() - start)
    queries = np.stack([query_vector(s, v, options) for s, v in zip(message_scores, message_vecs)])
    result = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 thread per query",
              "text_model": text_model.name, "queries": len(messages), "k": K, "candidates": candidates,
              "embed_tag_texts_per_s": round(embed_rate, 1), "message_encoding": percentiles(text_seconds),
              "exact_scan": {}, "corpora": {}}

    # Where the exact scan stops being cheap: this places IndexOptions.approximate_from.
    for n in args.exact_sizes:
        vecs, rows = synthetic_corpus(n, base, np.asarray(base_emotions), rng)
        exact = GifIndex(vecs, rows, options=IndexOptions(approximate_from=10 ** 12))
        result["exact_scan"][n] = time_search(exact, queries, candidates)[0]
        print(f"exact scan {n:>9,d}: {result['exact_scan'][n]}")
        del exact, vecs

    for n in args.sizes:
        vecs, rows = synthetic_corpus(n, base, np.asarray(base_emotions), rng)
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # building may use every core
        start = time.perf_counter()
        index = GifIndex(vecs, rows)
        build_s = time.perf_counter() - start
        faiss.omp_set_num_threads(1)
        search, found = time_search(index, queries, candidates)
        entry = {"kind": index.kind, "build_s": round(build_s, 2), "search": search}
        if index.kind != "exact":  # recall of the top K against an exact scan of the same vectors
            exact = GifIndex(vecs, rows, options=IndexOptions(approximate_from=10 ** 12))
            n_check = min(len(queries), 50)
            exact_search, truth = time_search(exact, queries[:n_check], candidates)
            entry["exact_search"] = exact_search
            entry[f"recall_at_{K}"] = recall(found[:n_check], truth)
            # What the default breadth (IndexOptions.search_breadth, or the IVF's lists probed) trades.
            entry["search_breadth_sweep"] = {}
            graph = index.kind == "hnsw"
            default = index.faiss_index.hnsw.efSearch if graph else index.faiss_index.nprobe
            for breadth in (32, 48, 64, 96, 128):
                if graph:
                    index.faiss_index.hnsw.efSearch = breadth
                else:
                    index.faiss_index.nprobe = breadth
                sweep_search, sweep_found = time_search(index, queries[:n_check], candidates)
                entry["search_breadth_sweep"][breadth] = {**sweep_search, f"recall_at_{K}": recall(sweep_found, truth)}
            if graph:
                index.faiss_index.hnsw.efSearch = default
            else:
                index.faiss_index.nprobe = default
            entry["search_breadth"] = default
            del exact
        seconds = []
        for scores, vec in zip(message_scores, message_vecs):
            start = time.perf_counter()
            rank(index, scores, vec, K, options=options)
            seconds.append(time.perf_counter() - start)
        entry["rank"] = percentiles(seconds)
        entry["per_message"] = percentiles([t + r for t, r in zip(text_seconds, seconds)])
        result["corpora"][n] = entry
        for breadth, sweep in entry.get("search_breadth_sweep", {}).items():
            print(f"    search breadth {breadth:3d}: {sweep}")
        print(f"{n:>9,d} GIFs  {entry['kind']:5s} build {entry['build_s']:7.2f} s  search {search}  "
              f"rank {entry['rank']}  per message {entry['per_message']}"
              + (f"  recall@{K} {entry[f'recall_at_{K}']}" if "recall_at_8" in entry else ""))
        del index, vecs, rows
    result["approximate_from"] = IndexOptions().approximate_from
    result["graph_up_to"] = IndexOptions().graph_up_to
    if args.labelled_db:
        result["emotion_precision"] = emotion_precision(args.labelled_db, text_model.name, K, 700)
        print(f"suggested GIFs carrying the message's emotion: {result['emotion_precision']}")
    write_results(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
