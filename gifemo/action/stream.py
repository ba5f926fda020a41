"""The action stream: two-stream I3D on a GIF -> top Kinetics actions -> the emotion they imply.

RGB and flow logits are each averaged over time, then over the streams, then softmaxed (the
DeepMind sample sums the streams instead; the ranking is the same, the probabilities softer).
Each class's probability, times its table weight, counts for its emotion; the stream abstains when
that mapped mass is below `min_mapped_mass`, i.e. when the GIF shows no emotion-bearing action.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from .. import models
from ..config import ActionOptions, Runtime
from ..emotions import scores_dict
from . import kinetics, preprocess
from .flow import clip_flow
from .weights import UnusableWeightsError, load_i3d


@dataclass
class ActionAnalysis:
    available: bool
    reason: str                                  # why the stream is unavailable, else ""
    top_actions: list[tuple[str, float]] = field(default_factory=list)   # (Kinetics class, probability)
    scores: Optional[dict[str, float]] = None   # the 7 emotions, sums to 1; None if abstained / unavailable
    mapped_mass: float = 0.0
    abstained: bool = True

    def to_dict(self) -> dict:
        return {
            "available": self.available,
            "reason": self.reason,
            "top_actions": [{"action": name, "probability": prob} for name, prob in self.top_actions],
            "scores": self.scores,
            "mapped_mass": self.mapped_mass,
            "abstained": self.abstained,
        }


def summarize(probs: np.ndarray, emotion_map: kinetics.EmotionMap,
              options: Optional[ActionOptions] = None) -> ActionAnalysis:
    """ActionAnalysis from (400,) class probabilities (uses `top_k` and `min_mapped_mass`)."""
    options = options or ActionOptions()
    top = np.argsort(-probs, kind="stable")[:options.top_k]
    mass = emotion_map.emotion_mass(probs)
    mapped = float(mass.sum())
    abstained = mapped < options.min_mapped_mass
    return ActionAnalysis(
        available=True, reason="",
        top_actions=[(emotion_map.actions[i], float(probs[i])) for i in top],
        scores=None if abstained else scores_dict(mass),
        mapped_mass=mapped, abstained=abstained)


class ActionStream:
    """Loads the weights once; `available` is False (with `reason`) when they are missing or unusable."""

    def __init__(self, options: Optional[ActionOptions] = None, runtime: Optional[Runtime] = None):
        self.options = options or ActionOptions()
        runtime = runtime or Runtime()
        self.rgb_model = self.flow_model = None
        try:
            self.rgb_model = load_i3d("i3d-rgb", runtime)
            if self.options.flow != "none":
                self.flow_model = load_i3d("i3d-flow", runtime)
            labels = kinetics.load_labels(runtime)
            self.emotion_map = kinetics.load_emotion_map(labels=labels)
        except (models.MissingModelError, UnusableWeightsError) as exc:
            self.rgb_model = self.flow_model = None
            self.available, self.reason = False, str(exc)
        else:
            self.available, self.reason = True, ""

    def class_probabilities(self, path: os.PathLike | str) -> np.ndarray:
        """(400,) softmax of the stream-averaged, time-averaged logits for the GIF or video at `path`."""
        if not self.available:
            raise RuntimeError(f"the action stream is unavailable: {self.reason}")
        o = self.options
        frames, indices = preprocess.load_frames(path, o.fps, o.min_frames, o.max_frames)
        inputs = [(self.rgb_model, preprocess.rgb_input(frames))]
        if self.flow_model is not None:
            flow = clip_flow(frames, indices, o.flow, progress=o.progress)
            inputs.append((self.flow_model, preprocess.model_input(flow)))
        with torch.inference_mode():
            logits = torch.stack([model(clip)[0].mean(dim=-1) for model, clip in inputs]).mean(dim=0)
            return torch.softmax(logits.double(), dim=0).numpy()

    def analyze(self, path: os.PathLike | str) -> ActionAnalysis:
        """Top actions and mapped emotion; an unavailable result when the weights are missing.

        Raises gifemo.media.MediaError for files that cannot be decoded.
        """
        if not self.available:
            return ActionAnalysis(available=False, reason=self.reason)
        return summarize(self.class_probabilities(path), self.emotion_map, self.options)

