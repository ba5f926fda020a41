"""Loading the trained text-emotion models and scoring messages with them.

Both models give one 7-way softmax over EMOTIONS, trained on tweets and Reddit comments together
(see train.py), so a message of either style is scored the same way: no corpus has to be named at
inference. Blank messages (nothing left after whitespace, emoji glue and control characters) are
not run through a model: they get `BLANK_SCORES`, all mass on neutral, since there is no emotion
to read.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from .. import models
from ..config import DEFAULT_TEXT_MODEL, TEXT_MODELS, Runtime
from ..emotions import EMOTIONS, scores_dict, softmax
from .bilstm import BiLSTMClassifier, BiLSTMConfig, export_onnx
from .encoder import EmbeddingHead, HeadConfig, NumpyHead
from ..onnx_build import built_model, session
from .onnx_encoder import load_message_encoder
from .preprocess import PreprocessOptions, Vocabulary, normalize, tokenize

# The registry name of each text model's weights.
WEIGHTS = {"bilstm": "text-bilstm", "minilm": "text-minilm-head"}
BILSTM_RECIPE = "bilstm-onnx-opset17-v1"   # bump when the export changes: it names the cached copy
BLANK_SCORES = scores_dict([1.0 if name == "neutral" else 0.0 for name in EMOTIONS])


def is_blank(text: str) -> bool:
    return not normalize(text).strip()


class TextEmotionModel:
    """Scores messages as dicts over the 7 emotions (each dict sums to 1)."""

    name: str

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(N, 7) probabilities for non-blank texts."""
        raise NotImplementedError

    def predict(self, texts: list[str]) -> list[dict[str, float]]:
        texts = list(texts)
        results: list[dict[str, float]] = [dict(BLANK_SCORES) for _ in texts]
        rows = [i for i, text in enumerate(texts) if not is_blank(text)]
        if rows:
            for i, probs in zip(rows, self.probabilities([texts[i] for i in rows])):
                results[i] = scores_dict(probs)
        return results

    def predict_one(self, text: str) -> dict[str, float]:
        return self.predict([text])[0]


class BiLSTMTextModel(TextEmotionModel):
    """Runs the trained BiLSTM through ONNX Runtime: one message costs about 0.4 ms of CPU there against 3 ms
    through PyTorch (same probabilities to 1e-6; gifemo.onnx_build)."""
    name = "bilstm"

    def __init__(self, session, vocabulary: Vocabulary, options: PreprocessOptions, batch_size: int = 256):
        self.session = session
        self.vocabulary = vocabulary
        self.options = options
        self.batch_size = batch_size

    @classmethod
    def from_checkpoint(cls, checkpoint: dict, digest: str, runtime: Runtime) -> "BiLSTMTextModel":
        """`digest`: the sha256 of the checkpoint file, naming its ONNX copy."""
        network = BiLSTMClassifier(BiLSTMConfig(**checkpoint["config"]))
        network.load_state_dict({k: v.float() for k, v in checkpoint["state_dict"].items()})
        path = built_model("text-bilstm", digest, BILSTM_RECIPE, runtime, lambda dest: export_onnx(network.eval(), dest))
        return cls(session(path), Vocabulary(checkpoint["vocab"]), PreprocessOptions(**checkpoint["preprocess"]))

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        # A message of unknown words still needs one step for the LSTM.
        return [self.vocabulary.encode(tokenize(text, self.options)) or [1] for text in texts]

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        ids = self.encode(texts)
        order = np.argsort([len(x) for x in ids])  # similar lengths together: less padding
        out = np.zeros((len(ids), len(EMOTIONS)), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            tokens, lengths = padded([ids[i] for i in batch])
            out[batch] = self.session.run(None, {"token_ids": tokens, "lengths": lengths})[0]
        return out


class MiniLMTextModel(TextEmotionModel):
    """The trained head on MiniLM's message embedding, run in numpy (NumpyHead)."""
    name = "minilm"

    def __init__(self, head: EmbeddingHead, runtime: Runtime):
        self.runtime = runtime
        self._logits = NumpyHead(head.eval())
        load_message_encoder(runtime)  # fail now, with the full message, if MiniLM is missing

    @classmethod
    def from_checkpoint(cls, checkpoint: dict, runtime: Runtime) -> "MiniLMTextModel":
        head = EmbeddingHead(HeadConfig(**checkpoint["config"]))
        head.load_state_dict({k: v.float() for k, v in checkpoint["state_dict"].items()})
        return cls(head, runtime)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        # The recommender's message encoder: it keeps recent embeddings, so the search reuses this one.
        # not scipy.special.softmax, which spends half its time on one message in its array-API dispatch
        return softmax(self._logits(load_message_encoder(self.runtime).encode(texts)))


class EnsembleTextModel(TextEmotionModel):
    """The BiLSTM's probabilities mixed with the MiniLM head's, `minilm_weight` of the latter. The head reads
    what the BiLSTM's tweet-heavy training never taught it (plain statements, words outside its vocabulary);
    the BiLSTM stays the stronger reader. The weight was chosen on the validation splits as the one that
    raises GoEmotions macro-F1 without lowering tweet accuracy (data/weights/README.md)."""
    name = "ensemble"

    def __init__(self, bilstm: BiLSTMTextModel, minilm: MiniLMTextModel, minilm_weight: float = 0.2):
        self.bilstm = bilstm
        self.minilm = minilm
        self.minilm_weight = minilm_weight

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return ((1 - self.minilm_weight) * self.bilstm.probabilities(texts)
                + self.minilm_weight * self.minilm.probabilities(texts))


def padded(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(tokens (N, longest) int64 padded with 0, lengths (N,) int64)."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    tokens = np.zeros((len(sequences), int(lengths.max())), dtype=np.int64)
    for row, sequence in enumerate(sequences):
        tokens[row, :len(sequence)] = sequence
    return tokens, lengths


def pad_batch(sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    tokens, lengths = padded(sequences)
    return torch.from_numpy(tokens), torch.from_numpy(lengths)


def load_model(runtime: Runtime, name: Optional[str] = None, weights: Optional[os.PathLike] = None) -> TextEmotionModel:
    """The trained text model `name` (one of TEXT_MODELS; None: DEFAULT_TEXT_MODEL).

    `weights` overrides the shipped checkpoint; `runtime` says where the MiniLM encoder is looked up.
    """
    name = name or DEFAULT_TEXT_MODEL
    if name not in TEXT_MODELS:
        raise ValueError(f"unknown text model {name!r}; expected one of {', '.join(TEXT_MODELS)}")
    if name == "ensemble":
        if weights is not None:
            raise ValueError("the ensemble mixes the shipped models: give weights to bilstm or minilm instead")
        return EnsembleTextModel(load_model(runtime, "bilstm"), load_model(runtime, "minilm"))
    path = Path(weights) if weights is not None else models.resolve(WEIGHTS[name], runtime)
    if not path.is_file():
        raise models.MissingModelError(
            f"text model weights {path} not found; train them with `gifemo train text --text-model {name}`")
    checkpoint = models.load_torch_checkpoint(path)
    if name == "bilstm":
        return BiLSTMTextModel.from_checkpoint(checkpoint, models.sha256_of(path), runtime)
    return MiniLMTextModel.from_checkpoint(checkpoint, runtime)
