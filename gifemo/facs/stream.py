"""The face stream: faces in sampled frames -> aligned crops -> CNN + EMFACS rules -> per-face, per-frame
and per-GIF emotion scores.

A GIF's face scores pool every face of every sampled frame, weighted by box area (the largest face is usually
the one the GIF is about) and by expressiveness, (1.05 - p_neutral)^2: a reaction GIF is about the moment the
expression peaks, and a plain mean over frames let the calm frames around it pull the answer to "neutral"
(on the labelled GIFs of ../shared/data, see data/weights/README.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import torch

from .. import models
from ..config import FaceOptions, Runtime
from ..emotions import EMOTIONS, scores_dict, scores_vector, top_emotion
from ..evidence import Evidence
from ..media import Clip
from .align import FER_SIZE, align_face, to_grey
from .aus import action_units
from .combine import Combination
from .expression import predict_proba
from .landmarks import DetectedFace, FaceLandmarker, clip_faces
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


def _rounded(d: dict[str, float]) -> dict[str, float]:
    """For AU intensities only: scores keep full precision so that they still sum to 1."""
    return {k: round(float(v), 4) for k, v in d.items()}


@dataclass
class DetectedCrop:
    """One detected face before scoring: where it is and the FER-framed crop the CNN reads."""
    frame: int
    time: float
    face: DetectedFace
    crop: np.ndarray                 # 48x48 uint8 grey
    aus: dict[str, float]


class FaceStream:
    """Loads the landmarker and the CNN once; analyses clips, frame lists and aligned crops."""

    def __init__(self, options: Optional[FaceOptions] = None, runtime: Optional[Runtime] = None,
                 weights: Optional[Path] = None, combine: Optional[Path] = None):
        self.options = options or FaceOptions()
        self.runtime = runtime or Runtime()
        torch.set_num_threads(self.runtime.torch_threads())
        weights = weights or models.resolve("face-expression", self.runtime)
        self.cnn = load_expression(weights)
        if self.options.onnx_runtime:
            from .expression_onnx import OnnxEnsemble

            self.cnn = OnnxEnsemble(self.cnn, weights, self.runtime, self.runtime.torch_threads())
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
    def detect_faces(self, frames: Sequence[np.ndarray], times: Sequence[float],
                     video: bool = True, continues: bool = False) -> list[DetectedCrop]:
        """Every face of the frames (HxWx3 uint8 RGB), aligned and with its AUs: what the CNN reads.
        `video=True` tracks faces between consecutive frames of one clip; pass False for unrelated still images.
        `continues=True` says these frames follow the last call's in the same clip, so tracking goes on."""
        landmarker = self.landmarker(video)
        if video and not continues:
            landmarker.new_clip()
        faces = [landmarker.detect(frame, int(round(t * 1000))) for frame, t in zip(frames, times)]
        return self.crops(frames, times, faces)

    def crops(self, frames: Sequence[np.ndarray], times: Sequence[float], faces: Sequence[Sequence[DetectedFace]],
              skip: Optional[Sequence[bool]] = None) -> list[DetectedCrop]:
        """The detected `faces` of each frame, aligned and with their AUs, leaving out the frames marked in `skip`."""
        skip = skip or [False] * len(frames)
        return [DetectedCrop(i, float(t), face, align_face(frame, face), action_units(face.blendshapes))
                for i, (frame, t, found, skipped) in enumerate(zip(frames, times, faces, skip)) if not skipped
                for face in found]

    def observe(self, found: Sequence[DetectedCrop], frame_count: int,
                cnn_probs: Optional[np.ndarray] = None) -> list[list[FaceObservation]]:
        """The per-frame observations of detected faces, scored by this stream's CNN (or by `cnn_probs`
        from another one) combined with the EMFACS rules."""
        if cnn_probs is None:
            cnn_probs = self.cnn_probs([f.crop for f in found])
        rules = np.stack([scores_vector(rule_scores(f.aus)) for f in found]) if found else None
        result: list[list[FaceObservation]] = [[] for _ in range(frame_count)]
        for f, p in zip(found, self.combine(cnn_probs, rules)):
            scores = scores_dict(p)
            result[f.frame].append(FaceObservation(f.frame, f.time, f.face.box, scores, top_emotion(scores), f.aus))
        return result

    def analyze_frames(self, frames: Sequence[np.ndarray], times: Sequence[float],
                       video: bool = True, continues: bool = False) -> list[list[FaceObservation]]:
        """Faces of each frame (HxWx3 uint8 RGB), scored; see detect_faces for `video` and `continues`."""
        return self.observe(self.detect_faces(frames, times, video, continues), len(frames))

    def observe_clip(self, clip: Clip) -> list[list[FaceObservation]]:
        """The observations of each sample of `clip`, from the clip's shared detections (clip_faces); a sample
        marked a repeat (Clip.repeats) takes those of the sample before it instead of being read again."""
        repeats = clip.repeats()
        faces = clip_faces(clip, self.landmarker(video=True))
        return carry_repeats(self.observe(self.crops(clip.frames, clip.times, faces, repeats), len(clip.frames)),
                             repeats, clip.times)

    def analyze(self, clip: Clip) -> Evidence:
        return pool(self.observe_clip(clip), clip.times)


def carry_repeats(per_frame: list[list[FaceObservation]], repeats: Sequence[bool],
                  times: Sequence[float]) -> list[list[FaceObservation]]:
    """`per_frame` with each sample marked a repeat (Clip.repeats) given the observations of the sample before
    it, moved to its own frame and time."""
    for i, repeat in enumerate(repeats):
        if repeat:
            per_frame[i] = [replace(o, frame=i, time=float(times[i])) for o in per_frame[i - 1]]
    return per_frame


EXPRESSIVENESS_FLOOR = 0.05  # a fully neutral face still counts a little: a GIF of calm faces is "neutral"


def frame_scores(faces: Sequence[FaceObservation]) -> Optional[np.ndarray]:
    """One frame's scores: its faces weighted by box area (the timeline's point for that frame)."""
    if not faces:
        return None
    weights = np.array([area(f) for f in faces], dtype=np.float64)
    return (np.stack([scores_vector(f.scores) for f in faces]) * weights[:, None]).sum(0) / weights.sum()


def area(face: FaceObservation) -> float:
    return float(max(1, face.box[2] * face.box[3]))


def expressive_weights(observations: Sequence[FaceObservation]) -> np.ndarray:
    """Pooling weight of each face: box area x (1 + floor - p_neutral)^2, normalised to sum 1."""
    neutral = np.array([f.scores["neutral"] for f in observations])
    weights = np.array([area(f) for f in observations]) * (1.0 + EXPRESSIVENESS_FLOOR - neutral) ** 2
    return weights / weights.sum()


def pool(per_frame: Sequence[Sequence[FaceObservation]], times: Sequence[float], top_k: int = 5) -> Evidence:
    """The face stream's Evidence for one clip: expressiveness-weighted scores over all faces, the plain
    mean over frames beside them (`details["scores_mean"]`, for comparison), timeline and strongest AUs."""
    frame_vectors = [frame_scores(faces) for faces in per_frame]
    timeline = [{"time": round(float(t), 3), "scores": scores_dict(v) if v is not None else None}
                for t, v in zip(times, frame_vectors)]
    observations = [o for faces in per_frame for o in faces]
    with_face = [v for v in frame_vectors if v is not None]
    details = {"frames_analyzed": len(per_frame), "frames_with_face": len(with_face),
               "max_faces": max((len(faces) for faces in per_frame), default=0), "timeline": timeline}
    if not observations:
        return Evidence("face", {}, 0.0, 0.0, f"no face in {len(per_frame)} sampled frames", details)
    vectors = np.stack([scores_vector(o.scores) for o in observations])
    scores = scores_dict(expressive_weights(observations) @ vectors)
    emotion = top_emotion(scores)
    p = np.clip(np.array(list(scores.values())), 1e-12, 1)
    peakedness = 1.0 - float(-(p * np.log(p)).sum() / math.log(len(p)))
    coverage = len(with_face) / len(per_frame)
    au_means = {au: float(np.mean([o.aus[au] for o in observations])) for au in observations[0].aus}
    details.update(scores_mean=scores_dict(np.mean(with_face, axis=0)),
                   top_aus=[[au, round(v, 4)] for au, v in sorted(au_means.items(), key=lambda kv: -kv[1])[:top_k]])
    agreeing = sum(1 for v in with_face if EMOTIONS[int(np.argmax(v))] == emotion)
    reason = f"{emotion} face in {agreeing} of {len(per_frame)} frames"
    return Evidence("face", scores, coverage, coverage * peakedness, reason, details)
