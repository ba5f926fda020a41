"""Settings made once at the edge (CLI, app, service) and passed down; torch-free so it imports fast.

`Runtime` says where model files are and how the process may use the machine. The options dataclasses say
what each stage does. Library code reads them; nothing below the edge reads or writes `os.environ`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Optional

TRUE_WORDS = {"1", "true", "yes", "on"}

# Constants more than one module needs.
TRAINED_TEXT_MODELS = ("bilstm", "minilm")             # the message-emotion models with weights of their own
TEXT_MODELS = TRAINED_TEXT_MODELS + ("ensemble",)       # ensemble: the two mixed (gifemo.text.model)
DEFAULT_TEXT_MODEL = "ensemble"            # the best on the figures in data/weights/README.md
SEMANTIC_DIM = 384                         # all-MiniLM-L6-v2 sentence embeddings
MAX_UPLOAD_MB = 10                         # the app's upload limit per GIF
FLOW_METHODS = ("tvl1", "dis", "farneback")
# DIS by default: TV-L1 (the I3D paper's flow) costs about 7x more per GIF on 2 cores.
DEFAULT_FLOW = "dis"


@dataclass(frozen=True)
class Runtime:
    models_dir: Optional[Path] = None   # a folder laid out like ../shared/models, searched before the user cache
    cache_dir: Optional[Path] = None    # where downloads go (default: the user cache dir)
    offline: bool = False               # never download model files
    threads: int = 0                    # CPU threads per process for torch and OpenCV; 0 = all cores
    device: str = "cpu"
    verbose: int = 0                    # 0 quiet (third-party logs silenced), 1 -v, 2 -vv

    def __post_init__(self):
        for key in ("models_dir", "cache_dir"):
            object.__setattr__(self, key, _path(getattr(self, key)))

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides) -> "Runtime":
        """The defaults a user set in the environment (GIFEMO_MODELS_DIR, GIFEMO_CACHE_DIR, GIFEMO_OFFLINE),
        then explicit overrides (None means "not given")."""
        env = os.environ if environ is None else environ
        base = cls(models_dir=_path(env.get("GIFEMO_MODELS_DIR")), cache_dir=_path(env.get("GIFEMO_CACHE_DIR")),
                   offline=env.get("GIFEMO_OFFLINE", "").strip().lower() in TRUE_WORDS)
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def torch_threads(self) -> int:
        return self.threads or (os.cpu_count() or 1)

    def models_cache(self) -> Path:
        from platformdirs import user_cache_dir

        return (self.cache_dir or Path(user_cache_dir("gifemo"))) / "models"


def _path(value) -> Optional[Path]:
    return Path(value).expanduser() if value else None


# ------------------------------------------------------------------ options, one dataclass per stage
@dataclass
class DecodeLimits:
    """A file over any of these is reported and skipped."""
    max_bytes: int = 64 * 1024 * 1024
    max_canvas_pixels: int = 4096 * 4096
    max_frames: int = 20_000           # frames in the file (GIF) or frames decoded (video)
    max_total_pixels: int = 2_000_000_000  # canvas pixels x frames that must be decoded
    max_video_seconds: float = 600.0
    # CPU seconds of decoding per file (GIF or video); CPU, not wall-clock, so a busy machine fails no file.
    max_seconds: float = 60.0
    # Frames kept are shrunk to this side at most (unless the caller asks for smaller): 16 sampled
    # 4096x4096 frames would hold 800 MB, at 1280 they hold 79 MB (faces stay far above detector size).
    max_kept_side: int = 1280


@dataclass
class FaceOptions:
    max_faces: int = 4
    # 0.3 finds faces in 29 of the 43 gifs_dev GIFs against 26 at MediaPipe's default 0.5 (see README).
    min_detection_confidence: float = 0.3
    views: int = 2                    # CNN test-time views per face: 1, 2 (with mirror) or 10 (see facs/expression.py)
    onnx_runtime: bool = True         # run the CNN on ONNX Runtime: the same scores as torch, less CPU
    # combination weights are loaded from data/weights/face_combine.json, not set here


@dataclass
class ActionOptions:
    # "tvl1" (the I3D paper's, about 7x slower on 2 cores) | "dis" | "farneback" | "none" (RGB only)
    flow: str = DEFAULT_FLOW
    fps: float = 25.0            # I3D was trained on 25 fps video
    min_frames: int = 64         # short GIFs loop up to this many frames (I3D's training clips were 64)
    max_frames: int = 250        # cap compute on long GIFs: their middle 10 s at 25 fps
    top_k: int = 5
    # Set a priori, not tuned on any GIFs: a uniform (uninformative) prediction maps 0.077 of its
    # mass with data/kinetics_emotion.csv, so 0.25 asks for over 3x chance -- e.g. 'laughing' at
    # probability >= 0.25, or a 0.5-weight action such as 'clapping' at >= 0.5.
    min_mapped_mass: float = 0.25
    progress: bool = False       # show a progress bar while computing flow (TV-L1 takes minutes)

    def __post_init__(self):
        if self.flow not in FLOW_METHODS + ("none",):
            raise ValueError(f"unknown flow method {self.flow!r}; expected one of {', '.join(FLOW_METHODS)}, none")


@dataclass
class IndexOptions:
    """Which faiss index answers a corpus of n GIFs: an exact scan below `approximate_from`, an HNSW graph up to
    `graph_up_to`, an IVF beyond (bench/bench_recommender.py; README). The graph finds 99.5 % of the exact top 8
    at 100k GIFs in 0.4 ms (the IVF 97.5 % in 1.3 ms), but 92 % at 150k, 69 % at 300k and 45 % at 1M, where the
    IVF still finds 98 % (in 24 ms)."""
    approximate_from: int = 50_000
    graph_up_to: int = 120_000
    # The HNSW graph: links per GIF, and how many candidates building and searching keep in view.
    graph_links: int = 32
    build_breadth: int = 80
    search_breadth: int = 64
    # The IVF: sqrt(n) lists, a tenth of them scanned per query, at least 32.
    probe_fraction: float = 0.1
    min_nprobe: int = 32
    train_per_list: int = 40     # training vectors per IVF list (k-means on all of 1M would take minutes)
    train_iterations: int = 10

    def kind_for(self, n: int) -> str:
        return "exact" if n < self.approximate_from else "hnsw" if n < self.graph_up_to else "ivf"

    def nlist(self, n: int) -> int:
        return max(16, int(math.sqrt(n)))

    def nprobe(self, nlist: int) -> int:
        return min(nlist, max(self.min_nprobe, math.ceil(self.probe_fraction * nlist)))


@dataclass
class RankingOptions:
    emotion_weight: float = 1.0
    semantic_weight: float = 0.4
    candidates_per_result: int = 12     # candidates fetched per requested result, for diversity and the rules
    min_candidates: int = 64
    min_term_match: float = 0.35        # a tag term at least this close to the message is named in `why`
    duplicate_emotion_l1: float = 0.1   # emotion scores this close, plus same frames/shape/duration: a re-encode
    mix_sources_within: float = 0.8     # another stream's GIF this close to the last pick's score may replace it
    # A GIF fits when P(same emotion) beats chance (1/7) by this much, or a tag term is min_term_match close.
    min_emotion_match: float = 0.25
    # A message emotion this probable switches on its FORBIDDEN pairs (gifemo.recommender.ranking): low, since a
    # grieving message the text model reads as mostly neutral must still not get a laughing GIF (on the 60 sad,
    # angry and frightened GoEmotions dev messages of bench/bench_suggest_quality.py, 0.25 let 15 through,
    # 0.1 one, 0.05 none).
    forbid_from: float = 0.05
    lead_min_confidence: float = 0.2    # the first suggestion's tag must be at least this likely right
    diversity: float = 0.5              # MMR: weight of the similarity to GIFs already picked (0: none)
    feedback_weight: float = 0.05       # score added per net 👍 (squashed), for messages of the same emotion


@dataclass
class CaptionOptions:
    """The caption stream (gifemo.caption): which frames it reads and when its words count as an emotion."""
    check_frames: int = 8           # frames given the cheap text-presence check, evenly over the clip's frames
    # Of those that pass, OCR reads the first, the last when its letters are elsewhere, and the rest of
    # `ocr_frames` spread between them only when those two read differently (a caption that changes mid-GIF).
    ocr_frames: int = 3
    min_ocr_score: float = 0.6      # recognised lines below this OCR confidence are dropped
    # The text model's top probability below this, or a neutral top, is no emotion: the stream abstains
    # (names, show titles, "Which seat can I take?").
    min_emotion_score: float = 0.5
    # The BiLSTM alone: the fitted decision calibrates this stream on its readings (another model needs a refit).
    text_model: str = "bilstm"


@dataclass
class DrawnOptions:
    """Options of the drawn-face stream (gifemo.drawn.stream)."""
    num_frames: int = 6                    # frames of the clip read for the photo-or-drawing check and the faces
    # below this P(drawn) the clip is left to the photo face stream and the drawn stream abstains
    min_drawn_probability: float = 0.5
    landmarks: bool = True                 # look for a MediaPipe face mesh inside drawn objects and scenes
    # The face stream's detection settings (FaceOptions): the clip's faces are then found once for both streams.
    # The largest face found is read.
    max_faces: int = 4
    min_detection_confidence: float = 0.3


@dataclass
class RayOptions:
    """How `gifemo tag --engine ray` uses a Ray cluster (gifemo.ray_engine)."""
    address: Optional[str] = None    # a running cluster ("HEAD:6379", or "auto" on one of its nodes); None: a local one
    actors: Optional[int] = None     # actors in the pool; None: as many as the cluster's CPUs hold, grown on demand
    cpus_per_actor: float = 1.0      # CPUs each actor reserves; its torch threads too
    batch_size: int = 4              # files per actor call: the records come back, and are committed, this many at once
    # A batch whose actor died (node lost, out of memory) is retried this often; then its files are failure records.
    retries: int = 2
