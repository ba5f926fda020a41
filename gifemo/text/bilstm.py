"""BiLSTM emotion classifier: word embedding -> bidirectional LSTM -> max + attention pooling -> 7 logits."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..emotions import EMOTIONS


@dataclass
class BiLSTMConfig:
    vocab_size: int
    embed_dim: int = 128
    hidden: int = 128
    dropout: float = 0.4
    num_classes: int = len(EMOTIONS)


class BiLSTMClassifier(nn.Module):
    def __init__(self, config: BiLSTMConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        self.embed_dropout = nn.Dropout(config.dropout / 2)
        self.lstm = nn.LSTM(config.embed_dim, config.hidden, batch_first=True, bidirectional=True)
        self.attention = nn.Linear(2 * config.hidden, 1)
        self.classifier = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(4 * config.hidden, config.num_classes))

    def forward(self, token_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """token_ids: (B, T) padded with 0; lengths: (B,) >= 1. Returns (B, 7) logits."""
        embedded = self.embed_dropout(self.embedding(token_ids))
        packed = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=token_ids.shape[1])
        padding = (token_ids == 0).unsqueeze(-1)
        # Max pooling catches the one decisive word; attention weighs the whole message.
        max_pooled = states.masked_fill(padding, float("-inf")).max(dim=1).values
        weights = torch.softmax(self.attention(states).masked_fill(padding, float("-inf")), dim=1)
        attended = (weights * states).sum(dim=1)
        return self.classifier(torch.cat([max_pooled, attended], dim=-1))

    def config_dict(self) -> dict:
        return asdict(self.config)


class BiLSTMProbabilities(nn.Module):
    """The classifier with its softmax: the graph exported to ONNX for inference."""

    def __init__(self, classifier: BiLSTMClassifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, token_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.classifier(token_ids, lengths), dim=-1)


def export_onnx(classifier: BiLSTMClassifier, dest) -> None:
    """Write the classifier (eval mode, softmax included) as ONNX, for batches of any size and length."""
    token_ids = torch.tensor([[5, 6, 7], [8, 9, 0]])
    lengths = torch.tensor([3, 2])
    torch.onnx.export(BiLSTMProbabilities(classifier).eval(), (token_ids, lengths), str(dest),
                      input_names=["token_ids", "lengths"], output_names=["probabilities"], opset_version=17,
                      dynamo=False, dynamic_axes={"token_ids": {0: "batch", 1: "tokens"}, "lengths": {0: "batch"},
                                                  "probabilities": {0: "batch"}})
