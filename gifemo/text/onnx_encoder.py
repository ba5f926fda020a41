"""MiniLM for messages one at a time: ONNX Runtime on a fused, int8 copy of the verified all-MiniLM-L6-v2.

PyTorch spends about 21 ms of CPU on one short message, mostly per-layer Python and dispatch; the same network
exported to ONNX with its attention, GELU and layer norms fused, about 9 ms on one thread, with the same
embeddings (bench/bench_message_encoder.py). Its weights quantised to int8 with one scale per output channel
take about 5.5 ms, with embeddings at a cosine of 0.99 to the float ones on average, 0.94 at worst on one-word
messages (one scale per matrix: 0.95 on average, 0.90 at worst), and the same text-model validation and
ranking figures (data/weights/README.md). The copies
are built on first use from the registry's MiniLM files, their sha256 checked first (gifemo.onnx_build).
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .. import models
from ..config import SEMANTIC_DIM, Runtime
from ..onnx_build import built_model, session
from .preprocess import normalize

# Bump when the export or the quantisation changes: the cache key includes it.
RECIPE = "minilm-onnx-fused-fp32-v1"
INT8_RECIPE = RECIPE + "+int8-per-channel-v1"
OPSET = 17
BATCH = 32                 # messages per ONNX Runtime call when many are encoded at once
CACHED_MESSAGES = 1024     # embeddings of recent messages kept (384 floats each)


def built_path(runtime: Runtime, int8: bool = True) -> Path:
    """The fused model for the registry's MiniLM (its int8 copy, or the float one), built on first use (the
    MiniLM files' sha256 checked first)."""
    digest = models.digests(["minilm"], runtime)["minilm"]
    if int8:
        return built_model("minilm-int8", digest, INT8_RECIPE, runtime,
                           lambda dest: quantize(built_path(runtime, int8=False), dest))
    return built_model("minilm-fused", digest, RECIPE, runtime,
                       lambda dest: build(models.verify("minilm", runtime), dest))


def build(source: Path, dest: Path) -> None:
    """Export MiniLM (folder `source`) to ONNX with mean pooling and L2 norm included, fuse its layers, and
    write the result to `dest`."""
    from onnxruntime.transformers import optimizer
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(source, local_files_only=True)
    # The eager attention traces to a graph valid for every length; SDPA's traced masks are not.
    network = AutoModel.from_pretrained(source, local_files_only=True, attn_implementation="eager").eval()
    exported = dest.with_suffix(".exported.onnx")
    ids = torch.randint(1000, 5000, (2, 8))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    torch.onnx.export(PooledMiniLM(network).eval(), (ids, mask), str(exported),
                      input_names=["input_ids", "attention_mask"], output_names=["embedding"], opset_version=OPSET,
                      dynamo=False, dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                                  "attention_mask": {0: "batch", 1: "tokens"},
                                                  "embedding": {0: "batch"}})
    optimizer.optimize_model(str(exported), model_type="bert", num_heads=config.num_attention_heads,
                             hidden_size=config.hidden_size, opt_level=1).save_model_to_file(str(dest))


def quantize(source: Path, dest: Path) -> None:
    """The float model `source` with its matrix weights in int8, one scale per output channel (activations are
    quantised per call, from their own range)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The fused ops (Attention, SkipLayerNorm) are outside ONNX's shape inference: their outputs are float.
    quantize_dynamic(str(source), str(dest), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


class PooledMiniLM(torch.nn.Module):
    """MiniLM plus sentence-transformers' mean pooling and normalisation, as one graph to export."""

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.network(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)


class MessageEncoder:
    """(N, 384) unit-length embeddings of messages, as `gifemo.text.encoder.embed` gives, from the fused model."""

    def __init__(self, runtime: Runtime, cached_messages: int = CACHED_MESSAGES, int8: bool = True):
        from tokenizers import Tokenizer

        source = models.resolve("minilm", runtime)  # first: fetched from its sources when not here yet
        self.session = session(built_path(runtime, int8))
        self.tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        # tokenizer.json pads every message to 128 tokens; only the words are worth computing.
        self.tokenizer.no_padding()
        max_tokens = json.loads((source / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.tokenizer.enable_truncation(max_tokens)
        self.cached_messages = cached_messages
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # requests share the encoder from several threads

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Messages seen lately come from a bounded cache (the recommender asks twice per message: for its
        emotion and for the search), looked up by the text as given, before normalising it; the rest are run
        in batches of similar length, so little is padding."""
        out = np.zeros((len(texts), SEMANTIC_DIM), dtype=np.float32)
        missing = []
        with self._lock:
            for row, text in enumerate(texts):
                if text in self._recent:
                    self._recent.move_to_end(text)
                    out[row] = self._recent[text]
                else:
                    missing.append(row)
        inputs = {row: normalize(texts[row]).strip() for row in missing}
        missing.sort(key=lambda row: len(inputs[row]))
        for start in range(0, len(missing), BATCH):
            rows = missing[start:start + BATCH]
            out[rows] = self._run([inputs[row] for row in rows])
        with self._lock:
            for row in missing:
                self._recent[texts[row]] = out[row]
            while len(self._recent) > self.cached_messages:
                self._recent.popitem(last=False)
        return out

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.zeros((len(encodings), max(len(e.ids) for e in encodings)), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, :len(encoding.ids)] = encoding.ids
            mask[row, :len(encoding.ids)] = 1
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]


@lru_cache(maxsize=2)
def load_message_encoder(runtime: Runtime) -> MessageEncoder:
    return MessageEncoder(runtime)
