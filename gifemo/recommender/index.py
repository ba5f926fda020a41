"""The search index of a corpus: GIF vectors, their metadata and a faiss index, kept beside the corpus.

`CORPUS.db` gets a folder `CORPUS.db.index/`. It records when the corpus was last written; when the
corpus has changed since, `open_index` updates it, re-embedding only the GIFs whose tag text changed.
Small corpora are searched exactly; from `IndexOptions.approximate_from` GIFs on, an HNSW graph answers in under a
millisecond, and beyond `IndexOptions.graph_up_to`, where the graph misses too many of the best GIFs, an IVF (see
bench/bench_recommender.py for the measurements behind both thresholds). The faiss index is saved beside the
vectors; one of another kind than the corpus's size now gets is rebuilt from the saved vectors, which are kept.
"""
from __future__ import annotations

import ctypes
import json
import mmap
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import faiss
import numpy as np

from ..config import SEMANTIC_DIM, IndexOptions, Runtime
from ..streams import SOURCES
from ..corpus import Corpus, GifRecord
from ..emotions import EMOTIONS
from . import vectors

FORMAT_VERSION = 3   # 2: caption embedding, reasons; 3: reasons only of the evidence the decision read
# A filtered query that leaves at most this many GIFs is answered by an exact scan of just those.
EXACT_SUBSET_MAX = 20_000
APPROXIMATE_KINDS = ("hnsw", "ivf")  # faiss indexes saved beside the vectors, as <kind>.faiss
MADV_COLLAPSE = 25  # linux/mman.h (Linux 6.1+): back the pages there now with 2 MB pages
# Tag terms a message's words are not matched against: the emotion match already counts them ("great news" is
# 0.37 from "sad, sadness").
EMOTION_WORDS_TERMS = frozenset(vectors.EMOTION_WORDS.values())


@dataclass
class GifIndex:
    vectors: np.ndarray                  # (N, DIM) float32: emotion scores, then the tag-text (+ caption) embedding
    rows: dict                           # column name -> list: sha256, path, emotion, confidence, source, caption, ...
    terms: list[str] = field(default_factory=list)
    term_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, SEMANTIC_DIM), np.float32))
    corpus_changed_at: float = 0.0
    options: IndexOptions = field(default_factory=IndexOptions)
    faiss_index: Optional[faiss.Index] = None
    saved_kind: Optional[str] = None     # the kind of faiss index found saved, when loaded

    def __post_init__(self):
        if self.faiss_index is None:
            self.faiss_index = build_faiss_index(self.vectors, self.options)
        if isinstance(self.faiss_index, faiss.IndexHNSW):
            _on_huge_pages(self.faiss_index)
        # Columns as arrays, for filtering without Python loops.
        self.emotion_ids = np.array([EMOTIONS.index(e) if e else -1 for e in self.rows["emotion"]], dtype=np.int8)
        self.source_ids = np.array([SOURCES.index(s) for s in self.rows["source"]], dtype=np.int8)
        self.confidence = np.asarray(self.rows["confidence"], dtype=np.float32)
        # A GIF with no emotion and no tag text has nothing a message could match.
        self.matchable = self.vectors.any(axis=1)
        self.term_ids = {term: i for i, term in enumerate(self.terms)}
        # Columns an older or synthetic index may lack.
        for column, empty in (("sha256", ""), ("caption", ""), ("reasons", []), ("term_ids", [])):
            self.rows.setdefault(column, [empty] * len(self.vectors))
        # Each row's word terms (its tag terms but the emotion words), all rows' one after another:
        # row i's are word_terms[word_starts[i]:word_starts[i + 1]].
        emotion_terms = {i for i, term in enumerate(self.terms) if term in EMOTION_WORDS_TERMS}
        words = [[t for t in term_ids if t not in emotion_terms] for term_ids in self.rows["term_ids"]]
        self.word_counts = np.array([len(w) for w in words], dtype=np.int64)
        self.word_starts = np.concatenate([[0], np.cumsum(self.word_counts)])
        self.word_terms = np.array([t for w in words for t in w], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def kind(self) -> str:
        if isinstance(self.faiss_index, faiss.IndexHNSW):
            return "hnsw"
        return "ivf" if isinstance(self.faiss_index, faiss.IndexIVF) else "exact"

    def search(self, query: np.ndarray, n: int, allowed: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
        """The `n` best rows by inner product with `query`, restricted to the `allowed` mask; (scores, ids)."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if allowed is None:
            scores, ids = self.faiss_index.search(query, min(n, len(self)))
        else:
            subset = np.flatnonzero(allowed)
            if len(subset) <= EXACT_SUBSET_MAX:
                return _exact_top(self.vectors[subset], query[0], n, subset)
            bitmap = np.packbits(allowed.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
            params = (faiss.SearchParametersHNSW(sel=selector, efSearch=self.options.search_breadth)
                      if self.kind == "hnsw" else
                      faiss.SearchParametersIVF(sel=selector, nprobe=self.faiss_index.nprobe) if self.kind == "ivf"
                      else faiss.SearchParameters(sel=selector))
            scores, ids = self.faiss_index.search(query, min(n, len(subset)), params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The vectors of rows `ids` (a copy), from the graph's own copy when the index is a graph: a search has
        just read them there, so they come from the CPU's cache, not from memory (0.03 ms per suggestion at
        100k GIFs)."""
        if self.kind == "hnsw":
            return self.faiss_index.reconstruct_batch(ids)
        return self.vectors[ids]

    def words_of(self, i: int) -> np.ndarray:
        """Ids of row i's word terms."""
        return self.word_terms[self.word_starts[i]:self.word_starts[i + 1]]

    def best_word_match(self, ids: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """For each row of `ids`, the highest cosine of one of its word terms with `embedding` (-inf: no words).
        Rows with the same number of terms go through one stacked product: BLAS rounds a product by its
        shape, and a stack of (terms x dim) products keeps each row's numbers those of its own product."""
        best = np.full(len(ids), -np.inf, dtype=np.float32)
        counts = self.word_counts[ids]
        for count in set(counts.tolist()) - {0}:
            at = np.flatnonzero(counts == count)
            terms = self.word_terms[self.word_starts[ids[at]][:, None] + np.arange(count)]
            best[at] = (self.term_vectors[terms] @ embedding).max(axis=1)
        return best

    # ------------------------------------------------------------ files
    def save(self, folder: Path) -> None:
        """Write every file under a temporary name first, so a reader never sees a half-written index."""
        folder.mkdir(parents=True, exist_ok=True)
        _replace(folder / "vectors.npy", lambda p: np.save(p, self.vectors))
        _replace(folder / "terms.npy", lambda p: np.save(p, self.term_vectors))
        for kind in APPROXIMATE_KINDS:  # the one of this index written, another kind saved before removed
            if kind == self.kind:
                _replace(folder / f"{kind}.faiss", lambda p: faiss.write_index(self.faiss_index, str(p)))
            else:
                (folder / f"{kind}.faiss").unlink(missing_ok=True)
        meta = {"format": FORMAT_VERSION, "corpus_changed_at": self.corpus_changed_at, "count": len(self),
                "kind": self.kind, "terms": self.terms, "rows": self.rows}
        _replace(folder / "meta.json", lambda p: p.write_text(json.dumps(meta)))

    @classmethod
    def load(cls, folder: Path, options: Optional[IndexOptions] = None) -> Optional["GifIndex"]:
        """The saved index, or None when there is none or it is from another format version."""
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if meta.get("format") != FORMAT_VERSION:
                return None
            vecs = np.load(folder / "vectors.npy")
            term_vectors = np.load(folder / "terms.npy")
            if len(vecs) != meta["count"]:
                return None
            options = options or IndexOptions()
            # A saved faiss index of another kind than this size now gets (older versions, other options) is
            # left for None: built again from the saved vectors.
            kind = options.kind_for(len(vecs))
            saved = (faiss.read_index(str(folder / f"{kind}.faiss")) if meta["kind"] == kind != "exact" else None)
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
        faiss_index = _exact_index(vecs) if kind == "exact" else _set_search(saved, options) if saved is not None else None
        return cls(vecs, meta["rows"], meta["terms"], term_vectors, meta["corpus_changed_at"], options, faiss_index,
                   saved_kind=meta["kind"])


def build_faiss_index(vecs: np.ndarray, options: IndexOptions) -> faiss.Index:
    kind = options.kind_for(len(vecs))
    if kind == "exact":
        return _exact_index(vecs)
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(vecs.shape[1], options.graph_links, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = options.build_breadth
    else:
        nlist = options.nlist(len(vecs))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(vecs.shape[1]), vecs.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = options.train_iterations
        rng = np.random.default_rng(0)
        index.train(vecs[rng.choice(len(vecs), min(len(vecs), options.train_per_list * nlist), replace=False)])
    index.add(vecs)
    return _set_search(index, options)


def _set_search(index: faiss.Index, options: IndexOptions) -> faiss.Index:
    """How widely the approximate index looks per query (a search setting: not kept in its saved file)."""
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = options.search_breadth
    else:
        index.nprobe = options.nprobe(index.nlist)
    return index


def _on_huge_pages(index: faiss.IndexHNSW) -> None:
    """Back the graph's vectors and links with 2 MB pages (Linux; elsewhere nothing). A search reads some
    thousand vectors from all over the corpus, and on 4 kB pages nearly each read also misses the TLB: at 100k
    GIFs a search took 0.45 ms of CPU, 0.39 on 2 MB pages. The memory's backing only: same results."""
    if not sys.platform.startswith("linux"):
        return
    storage = faiss.downcast_index(index.storage)
    if not isinstance(storage, faiss.IndexFlat):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for address, size in ((storage.get_xb(), storage.ntotal * storage.code_size),
                          (index.hnsw.neighbors.data(), index.hnsw.neighbors.size() * 4)):  # int32 links
        start = int(address) - int(address) % mmap.PAGESIZE
        length = ctypes.c_size_t(int(address) + size - start)
        # HUGEPAGE: pages added later too; COLLAPSE: those there now. A refusal (old kernel, no free 2 MB
        # pages) leaves the 4 kB pages: slower, not wrong.
        for advice in (mmap.MADV_HUGEPAGE, MADV_COLLAPSE):
            libc.madvise(ctypes.c_void_p(start), length, advice)


def _exact_index(vecs: np.ndarray) -> faiss.Index:
    index = faiss.IndexFlatIP(vecs.shape[1] if vecs.ndim == 2 else vectors.DIM)
    if len(vecs):
        index.add(np.ascontiguousarray(vecs, dtype=np.float32))
    return index


def _exact_top(vecs: np.ndarray, query: np.ndarray, n: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = vecs @ query
    n = min(n, len(scores))
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    top = np.argpartition(-scores, n - 1)[:n]
    top = top[np.argsort(-scores[top], kind="stable")]
    return scores[top], ids[top]


def _replace(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    write(tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------- build / update
def index_dir(db_path: str | Path) -> Path:
    return Path(str(db_path) + ".index")


def build_index(records: Iterable[GifRecord], runtime: Runtime, previous: Optional[GifIndex] = None,
                options: Optional[IndexOptions] = None, corpus_changed_at: float = 0.0,
                progress: bool = False) -> GifIndex:
    """Vectors for the records (failed files left out). Tag texts unchanged since `previous` keep their embedding."""
    rows: dict[str, list] = {k: [] for k in ("sha256", "path", "emotion", "confidence", "source", "frames",
                                             "width", "height", "duration", "text", "term_ids", "caption",
                                             "reasons")}
    term_ids: dict[str, int] = {}
    emotion_rows = []
    for record in records:
        if record.error:
            continue
        terms = vectors.tag_terms(record)
        caption = vectors.caption(record)
        for column in ("sha256", "path", "emotion", "source", "frames", "width", "height", "duration"):
            rows[column].append(getattr(record, column))
        rows["confidence"].append(float(record.confidence or 0.0))
        rows["text"].append(vectors.tag_text(terms))
        # The caption is a term too, so that `why` can say it matched the message.
        rows["term_ids"].append([term_ids.setdefault(t, len(term_ids)) for t in terms + [caption] * bool(caption)])
        rows["caption"].append(caption)
        rows["reasons"].append(vectors.reasons(record))
        emotion_rows.append(vectors.emotion_part(record))

    # Reuse embeddings of unchanged tag texts and captions (kept as terms) from the previous index.
    known_terms: dict[str, np.ndarray] = {}
    if previous is not None and len(previous):
        known_terms = dict(zip(previous.terms, previous.term_vectors))
    texts = rows["text"]
    for text in texts + rows["caption"]:
        term_ids.setdefault(text, len(term_ids))
    terms = list(term_ids)
    term_vectors = _embed_missing(terms, known_terms, runtime, progress)
    # The caption's meaning joins the tag text's: their sum, back to unit length.
    semantic = term_vectors[[term_ids[t] for t in texts]] + term_vectors[[term_ids[c] for c in rows["caption"]]]
    norms = np.linalg.norm(semantic, axis=1, keepdims=True)
    semantic = np.divide(semantic, norms, out=np.zeros_like(semantic), where=norms > 0)

    vecs = np.zeros((len(texts), vectors.DIM), dtype=np.float32)
    if texts:
        vecs[:, :len(EMOTIONS)] = np.stack(emotion_rows)
        vecs[:, len(EMOTIONS):] = semantic
    return GifIndex(vecs, rows, terms, term_vectors, corpus_changed_at, options or IndexOptions())


def _embed_missing(texts: list[str], known: dict, runtime: Runtime, progress: bool) -> np.ndarray:
    # A GIF with nothing to say (no emotion, face or words) gets a zero vector: it matches no message.
    known = {**known, "": np.zeros(SEMANTIC_DIM, dtype=np.float32)}
    out = np.zeros((len(texts), SEMANTIC_DIM), dtype=np.float32)
    missing = sorted({t for t in texts if t not in known})
    embedded = vectors.encode(missing, runtime, progress=progress and len(missing) > 1000)
    fresh = dict(zip(missing, embedded))
    for i, text in enumerate(texts):
        out[i] = known[text] if text in known else fresh[text]
    return out


def open_index(db_path: str | Path, runtime: Runtime, options: Optional[IndexOptions] = None,
               progress: bool = False) -> GifIndex:
    """The index of the corpus at `db_path`: loaded from beside it, or brought up to date and saved."""
    folder = index_dir(db_path)
    # An existing corpus is only read (it may sit on a read-only disk); a missing one starts empty.
    with Corpus(db_path, readonly=Path(db_path).exists()) as corpus:
        changed_at = corpus.changed_at()
        index = GifIndex.load(folder, options)
        up_to_date = index is not None and index.corpus_changed_at == changed_at
        if up_to_date and index.saved_kind == index.kind:
            return index
        if not up_to_date:
            index = build_index(corpus.records(include_errors=False), runtime, previous=index,
                                options=options, corpus_changed_at=changed_at, progress=progress)
    # Saved: a new index, or one whose faiss index was rebuilt (an older version's kind).
    try:
        index.save(folder)
    except OSError:
        pass  # a corpus on a read-only disk: the index is rebuilt in memory each time instead
    return index
