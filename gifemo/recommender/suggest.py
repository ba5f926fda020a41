"""Suggest GIFs of a tagged corpus for a message: text model + MiniLM embedding -> ranked, explained GIFs."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..config import IndexOptions, RankingOptions, Runtime
from .index import GifIndex, open_index
from .ranking import Filters, Suggestion, rank


class Recommender:
    """Holds the text model, the sentence encoder and the corpus index; load once, ask many times."""

    def __init__(self, db_path: str | Path, runtime: Runtime, text_model: Optional[str] = None,
                 options: Optional[RankingOptions] = None, index_options: Optional[IndexOptions] = None,
                 progress: bool = False):
        import faiss

        from ..text import load_model

        # One message at a time: a second OpenMP thread only adds contention on a shared CPU (see the bench).
        faiss.omp_set_num_threads(1)
        self.db_path = Path(db_path)
        self.runtime = runtime
        self.options = options or RankingOptions()
        self.index_options = index_options
        self.text_model = load_model(runtime, name=text_model)
        self.index: GifIndex = open_index(self.db_path, runtime, index_options, progress=progress)

    def refresh(self) -> GifIndex:
        """Pick up GIFs tagged since the index was opened."""
        self.index = open_index(self.db_path, self.runtime, self.index_options)
        return self.index

    def message_scores(self, message: str) -> dict:
        return self.text_model.predict_one(message)

    def message_embedding(self, message: str) -> np.ndarray:
        from ..text.encoder import embed

        return embed([message], self.runtime)[0]

    def suggest(self, message: str, k: int = 8, filters: Optional[Filters] = None) -> list[Suggestion]:
        return rank(self.index, self.message_scores(message), self.message_embedding(message), k, filters,
                    self.options)
