"""The message encoder of the recommender: the ONNX MiniLM against the PyTorch MiniLM it is built from.

On real messages (tweet_emotion validation and GoEmotions dev, --messages of each): the cosine between the two
embeddings of each message, and the CPU time of one message at a time on one thread (thread CPU time, so
that other jobs on a shared machine inflate it little), and the messages least alike. Writes bench/results/message_encoder.json.

    python bench/bench_message_encoder.py [--messages 300]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from common import write_results  # noqa: E402
from gifemo.config import Runtime
from gifemo.text.data import CORPORA, read_split
from gifemo.text.encoder import embed
from gifemo.text.onnx_encoder import RECIPE, MessageEncoder

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RESULTS = REPO / "bench" / "results" / "message_encoder.json"


def messages(count: int) -> list[str]:
    return [text for corpus in CORPORA for text in read_split(SHARED / "data", corpus, "val").texts[:count]]


def cpu_ms_per_message(encode, texts: list[str]) -> float:
    for text in texts[:10]:  # first calls allocate
        encode([text])
    start = time.thread_time()
    for text in texts:
        encode([text])
    return 1000 * (time.thread_time() - start) / len(texts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=300, help="of each data set")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"bench_message_encoder: needs {SHARED} (data and models)", file=sys.stderr)
        return 1
    torch.set_num_threads(1)
    runtime = Runtime.from_env(models_dir=os.environ.get("GIFEMO_MODELS_DIR") or SHARED / "models")
    texts = messages(args.messages)
    started = time.perf_counter()
    encoder = MessageEncoder(runtime, cached_messages=0)  # every message through the model
    load_s = time.perf_counter() - started
    # One message per call, as the recommender encodes them.
    cosine = np.sum(embed(texts, runtime) * np.concatenate([encoder.encode([t]) for t in texts]), axis=1)
    result = {"recipe": RECIPE, "messages": len(texts), "load_or_build_s": round(load_s, 1),
              "cosine_vs_torch": {"min": round(float(cosine.min()), 4),
                                  "p1": round(float(np.percentile(cosine, 1)), 4),
                                  "mean": round(float(cosine.mean()), 4),
                                  "share_at_least_0.99": round(float(np.mean(cosine >= 0.99)), 3),
                                  "lowest": {texts[i]: round(float(cosine[i]), 4) for i in np.argsort(cosine)[:5]}},
              "cpu_ms_per_message": {"torch": round(cpu_ms_per_message(lambda t: embed(t, runtime), texts[:100]), 2),
                                     "onnx": round(cpu_ms_per_message(encoder.encode, texts[:100]), 2)},
              "load_average": [round(x, 1) for x in os.getloadavg()]}
    print(result)
    write_results(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
