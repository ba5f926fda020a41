"""The GIF's emotion from the Evidence of every stream.

A fitted decision (`data/weights/decision.json`, made by `gifemo train decision` on labelled GIFs) works in two
steps, with few parameters so that a couple of hundred GIFs can fit them:
1. **Calibration to GIFs**, per stream: p' = softmax(a * log p + b). `a` is an inverse temperature, `b` corrects
   the class priors the stream learnt elsewhere (FER2013 photos, tweets) to those of reaction GIFs.
2. **Pooling**, log-linear: logits = sum over answering streams of w * g(coverage) * log p' + c, where
   g(coverage) = min(1, coverage / FULL_COVERAGE): a face seen in 2 of 16 frames counts less than one seen in all.
   Each stream has two weights, for photographed and for drawn GIFs, mixed by the drawn-face stream's
   `drawn_probability` (0 when no stream says): the photo-trained face model should count for less on a cartoon.
   The softmax is the GIF's scores; the top score is the answer.
The fit weighs each class by n^-CLASS_POWER, so rare emotions are answered more often than their share alone
would earn: that softmax is a posterior under flattened class priors, and its top score understates how often
a "happiness" is right and overstates a "disgust". The **confidence** is the probability that the answer is
right: the answer's share of softmax(logits + CLASS_POWER * log n), the class weighting undone (no parameter is
fitted for it). 5-fold grouped CV on the 229 GIFs of gifs_train + gifs_dev: ECE 0.097 -> 0.063, answers unchanged.
Drawn faces are routed to the drawn-face model: on a clearly drawn GIF (P(drawn) >= ROUTE_TO_DRAWN) that it read,
the photo face model's reading of the same faces is left out of both the rule and the pooling.

Without a fitted file the design's rule decides: the first stream in `STREAMS` order (face first) that saw enough
of the GIF, then any stream that answered at all, with its confidence scaled by what it saw. No evidence gives
`source: none` and no emotion, never a silent "neutral".
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .emotions import EMOTIONS, scores_dict, scores_vector, softmax, top_emotion
from .evidence import Evidence
from .paths import WEIGHTS_DIR
from .streams import stream_rank

DECISION_WEIGHTS = "decision.json"
# Below this share of the GIF, a stream's evidence is scaled down (the rule: 2 GIFs of gifs_dev with faces in
# under a quarter of the frames were both wrong).
FULL_COVERAGE = 0.25
LOG_FLOOR = 1e-4  # keeps log p finite: a stream that says 0 does not veto a class on its own


@dataclass
class Decided:
    emotion: Optional[str]
    scores: dict[str, float]
    confidence: float           # the probability that `emotion` is right
    source: str                 # the stream that carried the decision, or "none"
    reason: str
    evidence: list[Evidence]    # as the decision read it (calibrated when the decision is fitted)


@dataclass
class Calibration:
    """p' = softmax(a * log p + b) for one stream."""
    a: float = 1.0
    b: np.ndarray = field(default_factory=lambda: np.zeros(len(EMOTIONS)))

    def logits(self, log_p: np.ndarray) -> np.ndarray:
        return self.a * log_p + self.b

    def apply(self, evidence: Evidence) -> Evidence:
        if evidence.abstained:
            return evidence
        scores = scores_dict(softmax(self.logits(log_scores(evidence.scores))))
        details = dict(evidence.details, raw_scores=evidence.scores, raw_confidence=evidence.confidence)
        return replace(evidence, scores=scores, confidence=max(scores.values()), details=details)


def log_scores(scores: dict[str, float]) -> np.ndarray:
    return np.log(np.clip(scores_vector(scores).astype(np.float64), LOG_FLOOR, 1.0))


def coverage_weight(evidence: Evidence) -> float:
    return min(1.0, evidence.coverage / FULL_COVERAGE)


DRAWN = "drawn_probability"   # the Evidence detail that says how likely the GIF is drawn, not photographed


def drawn_probability(evidence: Sequence[Evidence]) -> float:
    return max((float(e.details.get(DRAWN, 0.0)) for e in evidence), default=0.0)


def drawn_key(stream: str) -> str:
    return f"{stream}@drawn"


# From this P(drawn) a face the drawn-face model read is its alone. 5-fold CV on gifs_train + gifs_dev (old drawn
# weights): all GIFs 0.406 -> 0.415, emoji/stickers 0.44 -> 0.50, cartoons 0.35 -> 0.33, live action unchanged;
# at 0.5 (the drawn stream's own gate) cartoons, often human-like, lost 0.35 -> 0.30.
ROUTE_TO_DRAWN = 0.8
PHOTO_FACE, DRAWN_FACE = "face", "drawn"


def routed(evidence: Sequence[Evidence]) -> list[Evidence]:
    """The evidence a decision reads: without the photo face model's reading where the drawn-face model read a
    clearly drawn GIF (both saw the same faces; the photo model reads drawings badly)."""
    evidence = list(evidence)
    drawn_read = any(e.stream == DRAWN_FACE and not e.abstained for e in evidence)
    if drawn_read and drawn_probability(evidence) >= ROUTE_TO_DRAWN:
        return [e for e in evidence if e.stream != PHOTO_FACE]
    return evidence


def _none(evidence: list[Evidence]) -> Decided:
    said = [e.reason for e in evidence if e.reason]
    return Decided(None, {}, 0.0, "none", "; ".join(said) or "no stream ran", evidence)


class RuleDecision:
    """The design's rule, used when no decision has been fitted: face first, then the others, then none."""

    def decide(self, evidence: Sequence[Evidence]) -> Decided:
        evidence = list(evidence)
        answered = sorted((e for e in routed(evidence) if not e.abstained), key=lambda e: stream_rank(e.stream))
        for e in answered:
            if e.coverage >= FULL_COVERAGE:
                return Decided(e.emotion, e.scores, e.confidence, e.stream, e.reason, evidence)
        if answered:
            e = answered[0]
            return Decided(e.emotion, e.scores, e.confidence * coverage_weight(e), e.stream,
                           f"weak evidence: {e.reason}", evidence)
        return _none(evidence)


def is_decided(evidence: Sequence[Evidence]) -> bool:
    """Whether the streams so far saw enough that a costly fallback stream (I3D) need not run."""
    return any(not e.abstained and e.coverage >= FULL_COVERAGE for e in evidence)


@dataclass
class FittedDecision:
    calibration: dict[str, Calibration]
    weights: dict[str, float]
    bias: np.ndarray
    # Added to the logits for the confidence: undoes the class weighting of the fit (CLASS_POWER * log n_class).
    prior_correction: np.ndarray = field(default_factory=lambda: np.zeros(len(EMOTIONS)))
    metrics: dict = field(default_factory=dict)

    def calibrate(self, evidence: Sequence[Evidence]) -> list[Evidence]:
        return [self.calibration[e.stream].apply(e) if e.stream in self.calibration else e for e in evidence]

    def weight(self, stream: str, drawn: float) -> float:
        photo = self.weights.get(stream, 0.0)
        return (1 - drawn) * photo + drawn * self.weights.get(drawn_key(stream), photo)

    def decide(self, evidence: Sequence[Evidence]) -> Decided:
        calibrated = self.calibrate(evidence)
        drawn = drawn_probability(calibrated)
        used = [e for e in routed(calibrated) if not e.abstained and self.weight(e.stream, drawn) > 0]
        if not used:
            return _none(calibrated)
        parts = {e.stream: self.weight(e.stream, drawn) * coverage_weight(e) * log_scores(e.scores) for e in used}
        logits = sum(parts.values()) + self.bias
        scores = scores_dict(softmax(logits))
        emotion = top_emotion(scores)
        k = EMOTIONS.index(emotion)
        confidence = float(softmax(logits + self.prior_correction)[k])
        # The stream that pushed the winner furthest above its own average is the source.
        source = max(parts, key=lambda s: parts[s][k] - parts[s].mean())
        # A stream's reason speaks of its own (uncalibrated) reading: quote those that read the winner.
        agreeing = [e for e in used if top_emotion(e.details.get("raw_scores", e.scores)) == emotion]
        ordered = sorted(agreeing, key=lambda e: (e.stream != source, stream_rank(e.stream)))
        reason = "; ".join(e.reason for e in ordered) or f"{emotion} on balance: " + "; ".join(e.reason for e in used)
        return Decided(emotion, scores, confidence, source, reason, calibrated)

    # ------------------------------------------------------------ file
    def save(self, path: Path) -> Path:
        data = {"emotions": list(EMOTIONS), "full_coverage": FULL_COVERAGE,
                "calibration": {s: {"a": round(c.a, 6), "b": c.b.round(6).tolist()} for s, c in self.calibration.items()},
                "weights": {s: round(w, 6) for s, w in self.weights.items()}, "bias": self.bias.round(6).tolist(),
                "prior_correction": self.prior_correction.round(6).tolist(), "metrics": self.metrics}
        Path(path).write_text(json.dumps(data, indent=1))
        return Path(path)

    @classmethod
    def from_file(cls, path: Path) -> "FittedDecision":
        data = json.loads(Path(path).read_text())
        if data.get("emotions") != list(EMOTIONS):
            raise ValueError(f"{path}: made for emotions {data.get('emotions')}, not {list(EMOTIONS)}")
        calibration = {s: Calibration(float(c["a"]), np.asarray(c["b"], dtype=np.float64))
                       for s, c in data["calibration"].items()}
        return cls(calibration, {s: float(w) for s, w in data["weights"].items()},
                   np.asarray(data["bias"], dtype=np.float64),
                   np.asarray(data.get("prior_correction", np.zeros(len(EMOTIONS))), dtype=np.float64),
                   data.get("metrics", {}))


def load_decision(path: Optional[Path] = None):
    """The fitted decision when its file exists (the project ships one), else the rule."""
    path = Path(path or WEIGHTS_DIR / DECISION_WEIGHTS)
    return FittedDecision.from_file(path) if path.exists() else RuleDecision()


# ---------------------------------------------------------------- fitting (gifemo train decision)
MIN_ANSWERS = 8          # a stream that answered on fewer labelled GIFs keeps the rule's weight, uncalibrated
BIAS_L2 = 0.01           # keeps the prior corrections small where a class has few GIFs
CLASS_POWER = 0.5        # class weights n_c^-0.5: halfway between plain accuracy and balanced classes


def raw_evidence(data: dict) -> Evidence:
    """The stream's own Evidence from a stored (possibly calibrated) one."""
    evidence = Evidence.from_dict(data)
    if "raw_scores" not in evidence.details:
        return evidence
    details = dict(evidence.details)
    scores, confidence = details.pop("raw_scores"), details.pop("raw_confidence")
    return replace(evidence, scores=dict(scores), confidence=confidence, details=details)


def class_weights(labels: np.ndarray) -> np.ndarray:
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(float)
    weights = np.where(counts > 0, np.maximum(counts, 1) ** -CLASS_POWER, 0.0)[labels]
    return weights / weights.sum()


def prior_correction(labels: np.ndarray) -> np.ndarray:
    """What `class_weights` took from each class's log prior, to give back for the confidence."""
    correction = CLASS_POWER * np.log(np.maximum(np.bincount(labels, minlength=len(EMOTIONS)), 1))
    return correction - correction.mean()


def _minimize_nll(features: list[np.ndarray], labels: np.ndarray, weights: np.ndarray, bounds_low: float):
    """Fit scalars s_j >= bounds_low and a bias c in logits = sum_j s_j * features[j] + c by weighted NLL."""
    from scipy.optimize import minimize

    k, m = len(EMOTIONS), len(features)
    onehot = np.eye(k)[labels]

    def loss_and_grad(theta):
        scale, bias = theta[:m], theta[m:]
        logits = sum(s * f for s, f in zip(scale, features)) + bias
        log_p = logits - logits.max(1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
        g = (np.exp(log_p) - onehot) * weights[:, None]
        loss = -(weights * (onehot * log_p).sum(1)).sum() + BIAS_L2 * (bias ** 2).sum()
        return loss, np.concatenate([[(g * f).sum() for f in features], g.sum(0) + 2 * BIAS_L2 * bias])

    start = np.concatenate([np.ones(m), np.zeros(k)])
    bounds = [(bounds_low, None)] * m + [(None, None)] * k
    theta = minimize(loss_and_grad, start, jac=True, method="L-BFGS-B", bounds=bounds).x
    return theta[:m], theta[m:]


def _fit(rows: list[list[Evidence]], labels: np.ndarray) -> FittedDecision:
    rows = [routed(row) for row in rows]   # each stream is calibrated and weighed where the decision reads it
    calibration: dict[str, Calibration] = {}
    streams = sorted({e.stream for row in rows for e in row if not e.abstained}, key=stream_rank)
    for stream in streams:
        idx = [i for i, row in enumerate(rows) if any(e.stream == stream and not e.abstained for e in row)]
        if len(idx) < MIN_ANSWERS:
            continue
        log_p = np.stack([log_scores(next(e for e in rows[i] if e.stream == stream).scores) for i in idx])
        (a,), b = _minimize_nll([log_p], labels[idx], class_weights(labels[idx]), bounds_low=0.0)
        calibration[stream] = Calibration(float(a), b)
    keys = [key for s in streams for key in (s, drawn_key(s))]
    decision = FittedDecision(calibration, {key: 1.0 for key in keys}, np.zeros(len(EMOTIONS)))
    answered = [i for i, row in enumerate(rows) if any(not e.abstained for e in row)]
    if answered:
        features = {key: np.zeros((len(answered), len(EMOTIONS))) for key in keys}
        for r, i in enumerate(answered):
            calibrated = decision.calibrate(rows[i])
            drawn = drawn_probability(calibrated)
            for e in calibrated:
                if not e.abstained:
                    seen = coverage_weight(e) * log_scores(e.scores)
                    features[e.stream][r] = (1 - drawn) * seen
                    features[drawn_key(e.stream)][r] = drawn * seen
        # A weight whose feature never occurs (no drawn GIF answered by that stream) keeps the photo weight.
        fitted = [key for key in keys if features[key].any()]
        weights, bias = _minimize_nll([features[key] for key in fitted], labels[answered],
                                      class_weights(labels[answered]), bounds_low=0.0)
        decision.weights = {key: float(w) for key, w in zip(fitted, weights)}
        decision.bias = bias
        decision.prior_correction = prior_correction(labels[answered])
    return decision


def group_folds(groups: Sequence[str], folds: int = 5) -> np.ndarray:
    """The cross-validation fold of each row, grouped by `groups` (source collections: GIFs of one collection are
    never split between fitting and testing). The face model's out-of-fold fine-tuning uses the same folds."""
    from sklearn.model_selection import GroupKFold

    fold = np.zeros(len(groups), dtype=np.int64)
    for k, (_, test) in enumerate(GroupKFold(min(folds, len(set(groups)))).split(np.zeros(len(groups)),
                                                                                   groups=list(groups))):
        fold[test] = k
    return fold


def _label_indexes(labels: Sequence[str]) -> np.ndarray:
    return np.array([EMOTIONS.index(label) for label in labels])


def held_out_models(rows: list[list[Evidence]], labels: Sequence[str], groups: Sequence[str], folds: int = 5,
                    fold_of: Optional[Sequence[int]] = None) -> list[FittedDecision]:
    """For each row, the decision fitted without its fold: a cross-validation grouped by `groups`
    (`group_folds`), or by the given fold of each row (`fold_of`: the folds out-of-fold evidence was made with)."""
    y = _label_indexes(labels)
    fold = np.asarray(fold_of) if fold_of is not None else group_folds(groups, folds)
    models: list[FittedDecision] = [None] * len(rows)
    for k in np.unique(fold):
        train = np.flatnonzero(fold != k)
        model = _fit([rows[i] for i in train], y[train])
        for i in np.flatnonzero(fold == k):
            models[i] = model
    return models


def fit_all(rows: list[list[Evidence]], labels: Sequence[str]) -> FittedDecision:
    """The decision fitted on every row (the one to ship)."""
    return _fit(rows, _label_indexes(labels))


def fit_decision(rows: list[list[Evidence]], labels: Sequence[str], groups: Sequence[str],
                 folds: int = 5, fold_of: Optional[Sequence[int]] = None) -> tuple[FittedDecision, list[Decided]]:
    """Fit on every row; and each row's held-out decision (`held_out_models`)."""
    models = held_out_models(rows, labels, groups, folds, fold_of)
    return fit_all(rows, labels), [model.decide(row) for model, row in zip(models, rows)]
