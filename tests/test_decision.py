"""The GIF-level decision on constructed Evidence: every branch of the rule, calibration, pooling, fitting."""
import json

import numpy as np
import pytest

from gifemo.decision import (Calibration, FittedDecision, RuleDecision, fit_decision, is_decided, load_decision,
                             raw_evidence)
from gifemo.emotions import EMOTIONS, scores_dict
from gifemo.evidence import Evidence


def leaning(emotion: str, strength: float = 0.7) -> dict:
    """Scores with `strength` on one emotion and the rest spread evenly."""
    rest = (1 - strength) / (len(EMOTIONS) - 1)
    return scores_dict([strength if e == emotion else rest for e in EMOTIONS])


def face(emotion="sadness", coverage=1.0, strength=0.7):
    return Evidence("face", leaning(emotion, strength), coverage, 0.6, f"{emotion} face")


def caption(emotion="anger", strength=0.8):
    return Evidence("caption", leaning(emotion, strength), 0.5, 0.7, f"caption says {emotion}")


# ------------------------------------------------------------------ the rule (no fitted file)
def test_rule_a_reliable_face_comes_first():
    decided = RuleDecision().decide([caption("anger"), face("sadness")])
    assert (decided.emotion, decided.source, decided.reason) == ("sadness", "face", "sadness face")


def test_rule_another_stream_wins_over_a_face_seen_in_few_frames():
    decided = RuleDecision().decide([face("sadness", coverage=0.1), caption("anger")])
    assert (decided.emotion, decided.source) == ("anger", "caption")


def test_rule_a_weak_face_alone_answers_with_its_confidence_scaled_down():
    decided = RuleDecision().decide([face("fear", coverage=0.125), Evidence.abstain("action", "unavailable")])
    assert decided.emotion == "fear" and decided.source == "face"
    assert decided.confidence == pytest.approx(0.6 * 0.125 / 0.25) and decided.reason.startswith("weak evidence")


def test_no_evidence_is_source_none_never_neutral():
    said = [Evidence.abstain("face", "no face in 16 sampled frames"), Evidence.abstain("caption", "no text")]
    for decision in (RuleDecision(), _fitted()):
        decided = decision.decide(said)
        assert decided.emotion is None and decided.source == "none" and decided.scores == {}
        assert decided.confidence == 0.0 and "no face in 16 sampled frames" in decided.reason
    assert RuleDecision().decide([]).source == "none"


def test_a_fallback_stream_runs_only_when_nothing_saw_enough():
    assert is_decided([face(coverage=0.5)])
    assert not is_decided([face(coverage=0.1)])
    assert not is_decided([Evidence.abstain("face", "none")])


# ------------------------------------------------------------------ calibration and pooling
def _fitted(weights=None, bias=None, calibration=None):
    return FittedDecision(calibration or {}, weights or {"face": 1.0, "caption": 1.0},
                          np.zeros(len(EMOTIONS)) if bias is None else bias)


def test_calibration_corrects_the_prior_and_the_temperature():
    neutral = EMOTIONS.index("neutral")
    b = np.zeros(len(EMOTIONS))
    b[neutral] = -3.0                           # neutral is rare in reaction GIFs
    calm = Evidence("face", leaning("neutral", 0.5) | {}, 1.0, 0.5, "calm")
    calibrated = Calibration(1.0, b).apply(calm)
    assert calibrated.emotion != "neutral"
    assert calibrated.details["raw_scores"] == calm.scores and raw_evidence(calibrated.to_dict()) == calm
    sharp = Calibration(3.0).apply(face("sadness", strength=0.4))
    soft = Calibration(0.3).apply(face("sadness", strength=0.4))
    assert sharp.emotion == soft.emotion == "sadness"
    assert sharp.confidence > 0.4 > soft.confidence      # the confidence is the calibrated top score
    assert Calibration(2.0).apply(Evidence.abstain("face", "x")).abstained


def test_pooling_follows_the_weights_and_names_the_source():
    both = [face("sadness", strength=0.6), caption("anger", strength=0.6)]
    face_first = _fitted({"face": 2.0, "caption": 0.5}).decide(both)
    assert (face_first.emotion, face_first.source) == ("sadness", "face")
    caption_first = _fitted({"face": 0.5, "caption": 2.0}).decide(both)
    assert (caption_first.emotion, caption_first.source) == ("anger", "caption")
    assert caption_first.reason == "caption says anger"
    agree = _fitted().decide([face("anger"), caption("anger")])
    assert agree.emotion == "anger" and agree.confidence > max(face("anger").scores.values())
    assert agree.reason.count("anger") == 2   # both streams' reasons, the source first


def test_a_face_in_few_frames_counts_less():
    strong_caption = caption("anger", strength=0.6)
    full = _fitted().decide([face("sadness", coverage=1.0, strength=0.8), strong_caption])
    glimpse = _fitted().decide([face("sadness", coverage=0.05, strength=0.8), strong_caption])
    assert full.emotion == "sadness" and glimpse.emotion == "anger"


def test_the_confidence_gives_back_what_the_class_weighting_took():
    """The answer is the class-weighted one; its confidence is read with each class's prior given back."""
    correction = np.zeros(len(EMOTIONS))
    correction[EMOTIONS.index("happiness")] = 1.0             # the common class: the fit weighed it down
    correction[EMOTIONS.index("disgust")] = -1.0              # a rare one: the fit weighed it up
    plain, corrected = _fitted(), _fitted()
    corrected.prior_correction = correction
    for emotion, more_often_right in (("happiness", True), ("disgust", False)):
        evidence = [face(emotion, strength=0.5)]
        before, after = plain.decide(evidence), corrected.decide(evidence)
        assert after.emotion == before.emotion == emotion and after.scores == before.scores
        assert before.confidence == pytest.approx(before.scores[emotion])   # no correction: the top score
        assert (after.confidence > before.confidence + 0.1) == more_often_right
        assert (after.confidence < before.confidence - 0.1) != more_often_right
    assert corrected.decide([Evidence.abstain("face", "no face")]).source == "none"


def test_decision_file_round_trip(tmp_path):
    decision = _fitted({"face": 1.5, "caption": 0.7}, np.linspace(-1, 1, len(EMOTIONS)),
                       {"face": Calibration(0.8, np.arange(len(EMOTIONS)) / 10)})
    decision.prior_correction = np.linspace(0.5, -0.5, len(EMOTIONS))
    decision.metrics = {"accuracy": 0.5}
    path = decision.save(tmp_path / "decision.json")
    loaded = load_decision(path)
    evidence = [face("fear"), caption("surprise")]
    assert loaded.decide(evidence).scores == pytest.approx(decision.decide(evidence).scores)
    assert loaded.decide(evidence).confidence == pytest.approx(decision.decide(evidence).confidence)
    assert loaded.metrics == {"accuracy": 0.5}
    assert isinstance(load_decision(tmp_path / "absent.json"), RuleDecision)
    # a file from before the prior correction: its confidence is its top score, as it was
    older = json.loads(path.read_text())
    del older["prior_correction"]
    (tmp_path / "older.json").write_text(json.dumps(older))
    decided = load_decision(tmp_path / "older.json").decide(evidence)
    assert decided.confidence == pytest.approx(max(decided.scores.values()))


# ------------------------------------------------------------------ fitting
def test_fitting_learns_priors_and_which_stream_to_trust():
    """Synthetic labelled GIFs: the caption is right 90 % of the time where present, the face 40 %; and the
    face says "neutral" too often. The fit must trust the caption more and correct the neutral prior;
    cross-validated predictions must beat both streams' own."""
    rng = np.random.default_rng(0)
    rows, labels, groups = [], [], []
    for i in range(240):
        label = EMOTIONS[rng.integers(0, 6)]                       # reaction GIFs: neutral is rare
        face_says = label if rng.random() < 0.4 else ("neutral" if rng.random() < 0.6 else EMOTIONS[rng.integers(0, 7)])
        row = [Evidence("face", leaning(face_says, 0.5), 1.0, 0.5, "face")]
        if i % 2:
            says = label if rng.random() < 0.9 else EMOTIONS[rng.integers(0, 7)]
            row.append(Evidence("caption", leaning(says, 0.5), 0.5, 0.5, "caption"))
        rows.append(row)
        labels.append(label)
        groups.append(f"collection{i % 12}")
    decision, held_out = fit_decision(rows, labels, groups)
    trust = {s: decision.weights[s] * decision.calibration[s].a for s in ("face", "caption")}
    assert trust["caption"] > 2 * trust["face"]
    assert decision.calibration["face"].b[EMOTIONS.index("neutral")] < 0
    cv_accuracy = np.mean([d.emotion == label for d, label in zip(held_out, labels)])
    face_accuracy = np.mean([row[0].emotion == label for row, label in zip(rows, labels)])
    assert cv_accuracy > face_accuracy + 0.15
    neutral_share = np.mean([d.emotion == "neutral" for d in held_out])
    assert neutral_share < 0.1                                     # the face's neutral habit is corrected
    confidence = np.array([d.confidence for d in held_out])
    right = np.array([d.emotion == label for d, label in zip(held_out, labels)])
    assert abs(confidence.mean() - right.mean()) < 0.1             # confidence means the chance of being right


def test_held_out_confidence_is_the_chance_of_being_right_for_common_and_rare_answers():
    """Skewed labels (60 % happiness) and a face right half of the time: the class-weighted fit answers rare
    emotions more often; its top score then flatters rare answers and undersells "happiness". The confidence,
    the weighting undone, matches how often each kind of answer is right on held-out GIFs."""
    rng = np.random.default_rng(0)
    rows, labels, groups = [], [], []
    for i in range(300):
        label = "happiness" if rng.random() < 0.6 else EMOTIONS[rng.integers(0, 7)]
        says = label if rng.random() < 0.5 else EMOTIONS[rng.integers(0, 7)]
        rows.append([Evidence("face", leaning(says, 0.4 + 0.3 * rng.random()), 1.0, 0.5, "face")])
        labels.append(label)
        groups.append(f"collection{i % 10}")
    decision, held_out = fit_decision(rows, labels, groups)
    assert EMOTIONS[int(np.argmax(decision.prior_correction))] == "happiness"
    right = np.array([d.emotion == label for d, label in zip(held_out, labels)])
    confidence = np.array([d.confidence for d in held_out])
    top_score = np.array([max(d.scores.values()) for d in held_out])
    common = np.array([d.emotion == "happiness" for d in held_out])
    for answers in (common, ~common):
        assert abs(confidence[answers].mean() - right[answers].mean()) < 0.05
        assert abs(top_score[answers].mean() - right[answers].mean()) > 0.08


def test_on_drawn_gifs_the_fit_learns_to_trust_the_drawn_stream_over_the_photo_face_model():
    """The face stream is right on photographed GIFs and random on drawn ones; the drawn stream the reverse."""
    rng = np.random.default_rng(1)
    rows, labels, groups = [], [], []
    for i in range(200):
        label = EMOTIONS[rng.integers(0, 7)]
        drawn = i % 2 == 0
        face_says = EMOTIONS[rng.integers(0, 7)] if drawn else label
        drawn_says = label if drawn else EMOTIONS[rng.integers(0, 7)]
        rows.append([Evidence("face", leaning(face_says, 0.5), 1.0, 0.5, "face"),
                     Evidence("drawn", leaning(drawn_says, 0.5), 1.0, 0.5, "drawn",
                              {"drawn_probability": 0.7 if drawn else 0.05})])   # below ROUTE_TO_DRAWN
        labels.append(label)
        groups.append(f"collection{i % 10}")
    decision, held_out = fit_decision(rows, labels, groups)
    assert decision.weight("face", 0.0) > decision.weight("drawn", 0.0)
    assert decision.weight("drawn", 1.0) > decision.weight("face", 1.0)
    assert np.mean([d.emotion == label for d, label in zip(held_out, labels)]) > 0.8


def test_a_face_on_a_clearly_drawn_gif_is_left_to_the_drawn_model():
    neutral_face = Evidence("face", leaning("neutral", 0.9), 1.0, 0.9, "neutral face")

    def drawn(p_drawn, emotion="anger"):
        if emotion is None:
            return Evidence.abstain("drawn", "drawn, but no face", drawn_probability=p_drawn)
        return Evidence("drawn", leaning(emotion, 0.45), 1.0, 0.45, "drawn face reads anger",
                        {"drawn_probability": p_drawn})

    decision = _fitted({"face": 1.0, "face@drawn": 1.0, "drawn": 1.0, "drawn@drawn": 1.0})
    for decide in (decision.decide, RuleDecision().decide):
        routed = decide([neutral_face, drawn(0.95)])
        assert (routed.emotion, routed.source) == ("anger", "drawn")
        assert [e.stream for e in routed.evidence] == ["face", "drawn"]   # still shown, not counted
        # not clearly drawn, or the drawn model read nothing: the face counts
        assert decide([neutral_face, drawn(0.6)]).emotion == "neutral"
        assert decide([neutral_face, drawn(0.95, None)]).emotion == "neutral"


def test_the_reason_quotes_only_streams_whose_own_reading_is_the_answer():
    """Calibration can move a stream's top emotion; its reason still describes its own reading."""
    neutral_face = Evidence("face", leaning("neutral", 0.4) | {}, 1.0, 0.4, "neutral face in 14 of 16 frames")
    b = np.zeros(len(EMOTIONS))
    b[EMOTIONS.index("happiness")] = 3.0
    decision = _fitted({"face": 1.0, "drawn": 1.0}, calibration={"face": Calibration(1.0, b)})
    drawn = Evidence("drawn", leaning("happiness", 0.6), 1.0, 0.6, "drawn face reads happiness in 6 of 6 frames")
    decided = decision.decide([neutral_face, drawn])
    assert decided.emotion == "happiness" and decided.reason == "drawn face reads happiness in 6 of 6 frames"
    prior = np.zeros(len(EMOTIONS))
    prior[EMOTIONS.index("surprise")] = 5.0      # a prior strong enough to outvote two streams that disagree
    split = _fitted({"face": 1.0, "drawn": 1.0}, prior).decide(
        [Evidence("face", leaning("anger", 0.4), 1.0, 0.4, "anger face"),
         Evidence("drawn", leaning("fear", 0.4), 1.0, 0.4, "drawn fear")])
    assert (split.emotion, split.reason) == ("surprise", "surprise on balance: anger face; drawn fear")
