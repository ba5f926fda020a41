"""Suggest GIFs of a tagged corpus for a message: text model + MiniLM embedding -> ranked, explained GIFs."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from ..config import SEMANTIC_DIM, IndexOptions, RankingOptions, Runtime
from ..emotions import scores_vector, top_emotion
from .index import GifIndex, open_index
from .ranking import Filters, Suggestions, rank


class Recommender:
    """Holds the text model, the sentence encoder, the corpus index and the votes; load once, ask many times."""

    def __init__(self, db_path: str | Path, runtime: Runtime, text_model: Optional[str] = None,
                 options: Optional[RankingOptions] = None, index_options: Optional[IndexOptions] = None,
                 progress: bool = False):
        import faiss

        from ..text import load_model
        from ..text.onnx_encoder import load_message_encoder

        # One message at a time: a second OpenMP thread only adds contention on a shared CPU (see the bench).
        faiss.omp_set_num_threads(1)
        self.db_path = Path(db_path)
        # The corpus file and its write-ahead log, as strings: a Path built per suggestion costs more than its stat.
        self._watched = (str(self.db_path), str(self.db_path) + "-wal")
        self.runtime = runtime
        self.options = options or RankingOptions()
        self.index_options = index_options
        self.text_model = load_model(runtime, name=text_model)
        self.message_encoder = load_message_encoder(runtime)
        self._seen_writes = self._corpus_writes()
        self.index: GifIndex = open_index(self.db_path, runtime, index_options, progress=progress)
        self.feedback = self._load_feedback()

    def refresh(self) -> GifIndex:
        """Pick up GIFs tagged and votes given since the index was opened (here or by another process)."""
        from ..corpus import Corpus

        self._seen_writes = self._corpus_writes()  # first: a write during the reads below is seen next time
        with Corpus(self.db_path, readonly=True) as corpus:
            changed_at = corpus.changed_at()
        if changed_at != self.index.corpus_changed_at:  # a vote alone leaves the GIFs as they were
            self.index = open_index(self.db_path, self.runtime, self.index_options)
        self.feedback = self._load_feedback()
        return self.index

    def _corpus_writes(self) -> tuple:
        """Size and time of the corpus file and of its write-ahead log: every write changes one of them, and
        two stat calls cost microseconds, against a query of the corpus per suggestion."""
        signature = []
        for path in self._watched:
            try:
                status = os.stat(path)
                signature.append((status.st_mtime_ns, status.st_size))
            except OSError:
                signature.append(None)
        return tuple(signature)

    def _load_feedback(self) -> dict[str, np.ndarray]:
        from ..corpus import Corpus

        with Corpus(self.db_path, readonly=True) as corpus:  # suggesting never writes (the corpus may be read-only)
            return {sha: scores_vector(votes) for sha, votes in corpus.feedback_votes().items()}

    def vote(self, sha256: str, message: str, vote: int) -> None:
        """Store a 👍/👎 for a suggestion; later suggestions for messages of the same emotion feel it."""
        from ..corpus import Corpus

        emotion = top_emotion(self.message_scores(message))
        with Corpus(self.db_path) as corpus:
            corpus.add_feedback(sha256, message, emotion, vote)
        self.feedback = self._load_feedback()

    def message_scores(self, message: str) -> dict:
        """How the message reads; nearly even for a language the text models were not trained on."""
        return self._reading(message)[0]

    def _reading(self, message: str) -> tuple[dict, str]:
        """The message's emotion scores, and the note ("" or why they are a guess: a language it cannot read)."""
        from ..text.language import honest_reading

        return honest_reading(message, self.text_model.predict_one(message))

    def message_embedding(self, message: str) -> np.ndarray:
        """MiniLM's embedding of the message, from its int8 ONNX copy: a quarter of PyTorch's CPU per message."""
        return self.message_encoder.encode([message])[0]

    def suggest(self, message: str, k: int = 8, filters: Optional[Filters] = None) -> Suggestions:
        if self._corpus_writes() != self._seen_writes:
            self.refresh()
        scores, note = self._reading(message)
        results = rank(self.index, scores, self.message_embedding(message), k, filters, self.options, self.feedback)
        if note:
            results.note = "; ".join(filter(None, [note, results.note]))
        return results

    def suggest_for_face(self, face_scores: dict, k: int = 8, filters: Optional[Filters] = None) -> Suggestions:
        """GIFs for a face's emotion scores (the camera page): ranked by the emotion match alone, as a face
        has no words for the semantic term to match."""
        return rank(self.index, face_scores, np.zeros(SEMANTIC_DIM, dtype=np.float32), k, filters, self.options,
                    self.feedback, subject="face")
