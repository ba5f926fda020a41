"""The action stream: two-stream I3D on a GIF -> top Kinetics actions -> the emotion they imply.

RGB and flow logits are each averaged over time, then over the streams, then softmaxed (the
DeepMind sample sums the streams instead; the ranking is the same, the probabilities softer).
Each class's probability, times its table weight, counts for its emotion; the stream abstains when
that mapped mass is below `min_mapped_mass`, i.e. when the GIF shows no emotion-bearing action.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from .. import models
from ..config import ActionOptions, Runtime
from ..evidence import Evidence
from ..media import Clip
from ..emotions import scores_dict
from . import kinetics, preprocess
from .flow import clip_flow
from .weights import UnusableWeightsError, load_i3d


def summarize(probs: np.ndarray, emotion_map: kinetics.EmotionMap,
              options: Optional[ActionOptions] = None) -> Evidence:
    """The action stream's Evidence from (400,) class probabilities (uses `top_k` and `min_mapped_mass`).

    Its confidence is the top emotion's share times the mapped mass: an action that maps weakly to any
    emotion claims little."""
    options = options or ActionOptions()
    top = np.argsort(-probs, kind="stable")[:options.top_k]
    mass = emotion_map.emotion_mass(probs)
    mapped = float(mass.sum())
    top_actions = [[emotion_map.actions[i], round(float(probs[i]), 4)] for i in top]
    details = {"available": True, "top_actions": top_actions, "mapped_mass": mapped}
    named = ", ".join(f"{name} {p:.2f}" for name, p in top_actions[:2])
    if mapped < options.min_mapped_mass:
        return Evidence("action", {}, 1.0, 0.0, f"actions ({named}) carry no emotion", details)
    scores = scores_dict(mass)
    return Evidence("action", scores, 1.0, max(scores.values()) * mapped, f"actions: {named}", details)


class ActionStream:
    """Loads both I3D networks once; reports an unavailable stream (with the reason) when weights are missing."""

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

    def close(self) -> None:
        pass

    def class_probabilities(self, clip: Clip) -> np.ndarray:
        """(400,) softmax of the stream-averaged, time-averaged logits for the file `clip` was read from."""
        if not self.available:
            raise RuntimeError(f"the action stream is unavailable: {self.reason}")
        o = self.options
        frames, indices = preprocess.load_frames(clip, o.fps, o.min_frames, o.max_frames)
        inputs = [(self.rgb_model, preprocess.rgb_input(frames))]
        if self.flow_model is not None:
            flow = clip_flow(frames, indices, o.flow, progress=o.progress)
            inputs.append((self.flow_model, preprocess.model_input(flow)))
        with torch.inference_mode():
            logits = torch.stack([model(clip)[0].mean(dim=-1) for model, clip in inputs]).mean(dim=0)
            return torch.softmax(logits.double(), dim=0).numpy()

    def analyze(self, clip: Clip) -> Evidence:
        """Top actions and mapped emotion; an abstention that says why when the weights are missing.

        Raises gifemo.media.MediaError for files that cannot be decoded.
        """
        if not self.available:
            return Evidence.abstain("action", f"action stream unavailable: {self.reason.splitlines()[0]}",
                                    available=False)
        return summarize(self.class_probabilities(clip), self.emotion_map, self.options)
