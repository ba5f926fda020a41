"""The drawn-face stream: is the clip drawn? If so, read the face of a few frames with the drawn-face CNN.

Evidence details: `drawn_probability` (the photo-or-drawing check, per GIF, also when the stream abstains),
`model` ("drawn") and per read frame its crop box, where the box came from and the emotion read there, so
that `show` can say which model read each face.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .. import models
from ..config import DrawnOptions, Runtime
from ..emotions import scores_dict, top_emotion
from ..evidence import Evidence
from ..facs.landmarks import FaceLandmarker, clip_faces
from ..media import Clip
from .crops import Crop, choose_crop, cut
from .model import load_drawn, predict_proba
from .style import StyleModel, clip_features

STREAM = "drawn"


def even_sample(count: int, wanted: int) -> list[int]:
    """`wanted` indexes spread evenly over `count` items (all of them when there are fewer)."""
    if count <= wanted:
        return list(range(count))
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, wanted)})


def drawn_probability(frames: Sequence[np.ndarray], style: StyleModel, num_frames: int) -> float:
    """The photo-or-drawing check on the frames the stream looks at (`num_frames` spread over the clip)."""
    picked = even_sample(len(frames), num_frames)
    return float(style.probability(clip_features([frames[i] for i in picked]))) if picked else 0.0


class DrawnStream:
    def __init__(self, options: Optional[DrawnOptions] = None, runtime: Optional[Runtime] = None,
                 weights=None, style=None):
        import torch

        self.options = options or DrawnOptions()
        self.runtime = runtime or Runtime()
        torch.set_num_threads(self.runtime.torch_threads())
        self.style = StyleModel.load(style or models.resolve("drawn-style", self.runtime))
        self.cnn = load_drawn(weights or models.resolve("drawn-expression", self.runtime))
        # In video mode like the face stream's: with the same settings, the clip's faces are found once for both
        # (a landmarker builds its MediaPipe graph only when it has to detect).
        self.landmarker = (FaceLandmarker(self.options.max_faces, self.options.min_detection_confidence, video=True,
                                          runtime=self.runtime) if self.options.landmarks else None)

    def close(self) -> None:
        if self.landmarker is not None:
            self.landmarker.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def face_boxes(self, clip: Clip) -> list[list[tuple[int, int, int, int]]]:
        """The landmarker's face boxes in each frame of the clip."""
        if self.landmarker is None:
            return [[] for _ in clip.frames]
        return [[face.box for face in faces] for faces in clip_faces(clip, self.landmarker)]

    def analyze(self, clip: Clip) -> Evidence:
        picked = even_sample(len(clip.frames), self.options.num_frames)
        if not picked:
            return Evidence.abstain(STREAM, "no frames", model=STREAM)
        probability = drawn_probability(clip.frames, self.style, self.options.num_frames)
        if probability < self.options.min_drawn_probability:
            return Evidence.abstain(STREAM, f"looks photographed (P(drawn) {probability:.2f})",
                                    drawn_probability=probability, model=STREAM)
        crops: list[tuple[int, Crop]] = []
        boxes = self.face_boxes(clip)
        for i in picked:
            crop = choose_crop(clip.frames[i], boxes[i])
            if crop is not None:
                crops.append((i, crop))
        if not crops:
            return Evidence.abstain(STREAM, "drawn, but no face or object to read",
                                    drawn_probability=probability, model=STREAM)
        probs = predict_proba(self.cnn, np.stack([cut(clip.frames[i], crop) for i, crop in crops]))
        scores = scores_dict(probs.mean(axis=0))
        emotion = top_emotion(scores)
        read = [{"frame": i, "time": round(float(clip.times[i]), 3), "box": list(crop.box), "source": crop.source,
                 "emotion": top_emotion(scores_dict(p)), "score": round(float(p.max()), 4)}
                for (i, crop), p in zip(crops, probs)]
        agree = sum(r["emotion"] == emotion for r in read)
        return Evidence(
            STREAM, scores, coverage=len(crops) / len(picked),
            # the drawn model's top probability, discounted by the chance that the clip is not drawn at all
            confidence=scores[emotion] * probability,
            reason=f"drawn face reads {emotion} in {agree} of {len(picked)} frames (P(drawn) {probability:.2f})",
            details={"model": STREAM, "drawn_probability": probability, "faces": read})
