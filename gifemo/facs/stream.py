"""The face stream: faces in sampled frames -> aligned crops -> CNN + EMFACS rules -> per-face, per-frame
and per-GIF emotion scores.

Per frame, faces are weighted by their box area (the largest face is usually the one the GIF is
about); per GIF, the frames with a face are averaged.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import torch

from .. import models
from ..config import FaceOptions, Runtime
from ..emotions import EMOTIONS, scores_dict, scores_vector, top_emotion
from ..media import Clip, read_clip
from .align import FER_SIZE, align_face, to_grey
from .aus import action_units
from .expression import predict_proba
from .combine import Combination
from .landmarks import FaceLandmarker
from .rules import rule_scores
from .weights import load_expression


@dataclass
class FaceObservation:
    """One face in one frame (`frame` indexes the frames given to analyze_frames / the clip's samples)."""
    frame: int
    time: float
    box: tuple[int, int, int, int]   # x, y, w, h in pixels of the original frame
    scores: dict[str, float]         # combined CNN + rules, 7 emotions summing to 1
    emotion: str
    aus: dict[str, float]            # {"AU12": 0.8, ...}

    def to_dict(self) -> dict:
        return {"frame": self.frame, "time": round(self.time, 3), "box": list(self.box), "emotion": self.emotion,
                "scores": self.scores, "aus": _rounded(self.aus)}


@dataclass
class FaceAnalysis:
    scores: Optional[dict[str, float]]   # per-GIF face emotion, None when no face was found
    emotion: Optional[str]
    # Reliability of the face evidence in [0, 1]: the share of sampled frames with a face times
    # (1 - normalised entropy of `scores`). 0 without faces; near 1 for a face in every frame with one clear emotion.
    confidence: float
    frames_analyzed: int
    frames_with_face: int
    observations: list[FaceObservation]
    timeline: list[dict]                 # per sampled frame: {"time": s, "scores": dict | None}
    top_aus: list[tuple[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["observations"] = [o.to_dict() for o in self.observations]
        d["timeline"] = [{"time": round(t["time"], 3), "scores": t["scores"]} for t in self.timeline]
        d["top_aus"] = [[au, round(v, 4)] for au, v in self.top_aus]
        return d


def _rounded(d: dict[str, float]) -> dict[str, float]:
    """For AU intensities only: scores keep full precision so that they still sum to 1."""
    return {k: round(float(v), 4) for k, v in d.items()}


class FaceStream:
    """Loads the landmarker and the CNN once; analyses clips, frame lists and aligned crops."""

    def __init__(self, options: Optional[FaceOptions] = None, runtime: Optional[Runtime] = None,
                 weights: Optional[Path] = None, combine: Optional[Path] = None):
        self.options = options or FaceOptions()
        self.runtime = runtime or Runtime()
        torch.set_num_threads(self.options.threads)
        self.cnn = load_expression(weights or models.resolve("face-expression", self.runtime))
        self.combination = Combination.load(combine or models.resolve("face-combine", self.runtime))
        self._landmarkers: dict[bool, FaceLandmarker] = {}

    def landmarker(self, video: bool) -> FaceLandmarker:
        if video not in self._landmarkers:
            self._landmarkers[video] = FaceLandmarker(self.options.max_faces, self.options.min_detection_confidence,
                                                      video=video, runtime=self.runtime)
        return self._landmarkers[video]

    def close(self) -> None:
        for landmarker in self._landmarkers.values():
            landmarker.close()
        self._landmarkers.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------ per face
    def cnn_probs(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 7) CNN probabilities for 48x48 uint8 grey crops."""
        if not crops:
            return np.zeros((0, len(EMOTIONS)), dtype=np.float32)
        x = torch.from_numpy(np.stack(crops)).unsqueeze(1).float() / 255
        return predict_proba(self.cnn, x, views=self.options.views).numpy()

    def combine(self, cnn_probs: np.ndarray, rules: Optional[np.ndarray]) -> np.ndarray:
        """Fused probabilities; the CNN alone where no combination is fitted or no AUs are known."""
        if self.combination is None or rules is None:
            return cnn_probs
        return self.combination.combine(cnn_probs, rules)

    def classify_aligned(self, images: Iterable) -> list[dict[str, float]]:
        """CNN scores for images that are already face crops in FER2013 framing (any size, grey or colour)."""
        probs = self.cnn_probs([to_grey(image, FER_SIZE) for image in images])
        return [scores_dict(p) for p in probs]

    # ------------------------------------------------------------ frames
    def analyze_frames(self, frames: Sequence[np.ndarray], times: Sequence[float],
                       video: bool = True) -> list[list[FaceObservation]]:
        """Faces of each frame (HxWx3 uint8 RGB). `video=True` tracks faces between consecutive frames of
        one clip; pass False for unrelated still images."""
        landmarker = self.landmarker(video)
        if video:
            landmarker.new_clip()
        detected, crops, rules, aus_list = [], [], [], []
        for i, (frame, t) in enumerate(zip(frames, times)):
            for face in landmarker.detect(frame, int(round(t * 1000))):
                aus = action_units(face.blendshapes)
                detected.append((i, t, face))
                crops.append(align_face(frame, face))
                aus_list.append(aus)
                rules.append(scores_vector(rule_scores(aus)))
        probs = self.combine(self.cnn_probs(crops), np.stack(rules) if rules else None)
        result: list[list[FaceObservation]] = [[] for _ in frames]
        for (i, t, face), p, aus in zip(detected, probs, aus_list):
            scores = scores_dict(p)
            result[i].append(FaceObservation(i, float(t), face.box, scores, top_emotion(scores), aus))
        return result

    def analyze_clip(self, clip: Clip) -> FaceAnalysis:
        per_frame = self.analyze_frames(clip.frames, clip.times)
        return summarize(per_frame, clip.times)

    def analyze(self, path) -> FaceAnalysis:
        return self.analyze_clip(read_clip(path, num_frames=self.options.num_frames))


def frame_scores(faces: Sequence[FaceObservation]) -> Optional[np.ndarray]:
    """One frame's scores: its faces weighted by box area."""
    if not faces:
        return None
    weights = np.array([max(1, f.box[2] * f.box[3]) for f in faces], dtype=np.float64)
    return (np.stack([scores_vector(f.scores) for f in faces]) * weights[:, None]).sum(0) / weights.sum()


def summarize(per_frame: Sequence[Sequence[FaceObservation]], times: Sequence[float], top_k: int = 5) -> FaceAnalysis:
    """Per-GIF scores (mean over frames with a face), timeline, confidence and the strongest AUs."""
    frame_vectors = [frame_scores(faces) for faces in per_frame]
    timeline = [{"time": float(t), "scores": scores_dict(v) if v is not None else None}
                for t, v in zip(times, frame_vectors)]
    with_face = [v for v in frame_vectors if v is not None]
    observations = [o for faces in per_frame for o in faces]
    if not with_face:
        return FaceAnalysis(None, None, 0.0, len(per_frame), 0, observations, timeline, [])
    scores = scores_dict(np.mean(with_face, axis=0))
    p = np.clip(np.array(list(scores.values())), 1e-12, 1)
    peakedness = 1.0 - float(-(p * np.log(p)).sum() / math.log(len(p)))
    confidence = len(with_face) / len(per_frame) * peakedness
    au_means = {au: float(np.mean([o.aus[au] for o in observations])) for au in observations[0].aus}
    top_aus = sorted(au_means.items(), key=lambda kv: -kv[1])[:top_k]
    return FaceAnalysis(scores, top_emotion(scores), confidence, len(per_frame), len(with_face),
                        observations, timeline, top_aus)
