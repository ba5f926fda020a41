"""The message encoder of the recommender: its ONNX MiniLM copies (float, and int8 as used) against the PyTorch
MiniLM they are built from.

On real messages (tweet_emotion validation and GoEmotions dev, --messages of each), for each copy: the cosine
between its embedding of each message and PyTorch's, the messages least alike, and the CPU time per message on
one thread (thread CPU time, so that other jobs on a shared machine inflate it little), one message per call
as the service encodes them and in batches of 2, 4 and 8 (what batching concurrent requests would give: each
batch is padded to its longest message). Writes bench/results/message_encoder.json.

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
from gifemo.text.onnx_encoder import INT8_RECIPE, RECIPE, MessageEncoder

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RESULTS = REPO / "bench" / "results" / "message_encoder.json"


def messages(count: int) -> list[str]:
    return [text for corpus in CORPORA for text in read_split(SHARED / "data", corpus, "val").texts[:count]]


def cpu_ms_per_message(encode, texts: list[str], batch: int = 1) -> float:
    for text in texts[:10]:  # first calls allocate
        encode([text])
    start = time.thread_time()
    for first in range(0, len(texts), batch):
        encode(texts[first:first + batch])
    return 1000 * (time.thread_time() - start) / len(texts)


def measure(encoder: MessageEncoder, texts: list[str], reference: np.ndarray) -> dict:
    """Cosine to `reference` (PyTorch's embeddings) and CPU per message, one at a time and batched."""
    cosine = np.sum(reference * np.concatenate([encoder.encode([t]) for t in texts]), axis=1)
    return {"cosine_vs_torch": {"min": round(float(cosine.min()), 4),
                                "p1": round(float(np.percentile(cosine, 1)), 4),
                                "mean": round(float(cosine.mean()), 4),
                                "share_at_least_0.99": round(float(np.mean(cosine >= 0.99)), 3),
                                "lowest": {texts[i]: round(float(cosine[i]), 4) for i in np.argsort(cosine)[:5]}},
            "cpu_ms_per_message": {f"batch_{b}": round(cpu_ms_per_message(encoder.encode, texts[:200], b), 2)
                                   for b in (1, 2, 4, 8)}}


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
    reference = embed(texts, runtime)
    result = {"messages": len(texts),
              "torch_cpu_ms_per_message": round(cpu_ms_per_message(lambda t: embed(t, runtime), texts[:100]), 2)}
    for name, recipe, int8 in (("onnx_fp32", RECIPE, False), ("onnx_int8", INT8_RECIPE, True)):
        started = time.perf_counter()
        encoder = MessageEncoder(runtime, cached_messages=0, int8=int8)  # every message through the model
        result[name] = {"recipe": recipe, "load_or_build_s": round(time.perf_counter() - started, 1),
                        **measure(encoder, texts, reference)}
    result["load_average"] = [round(x, 1) for x in os.getloadavg()]
    print(result)
    write_results(RESULTS, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
