"""EMFACS prototype rules (data/emfacs_rules.csv)."""
import pytest

from gifemo.emotions import EMOTIONS
from gifemo.facs.aus import au_names
from gifemo.facs.rules import load_rules, rule_scores

TEXTBOOK = {  # the prototypes
    "happiness": {6, 12}, "sadness": {1, 4, 15}, "surprise": {1, 2, 5, 26},
    "fear": {1, 2, 4, 5, 7, 20, 26}, "anger": {4, 5, 7, 23}, "disgust": {9, 15, 16},
}


def _aus(numbers, value=1.0):
    return {f"AU{n}": value for n in numbers}


def test_table_has_the_textbook_prototypes_and_only_known_aus():
    rules = load_rules()
    emfacs = {r.emotion: {int(a[2:]) for a in r.aus} for r in rules if r.source == "EMFACS"}
    assert emfacs == TEXTBOOK
    known = set(au_names())
    assert all(au in known for r in rules for au in r.aus)


@pytest.mark.parametrize("emotion", sorted(TEXTBOOK))
def test_each_prototype_wins_its_own_emotion(emotion):
    scores = rule_scores(_aus(TEXTBOOK[emotion]))
    assert scores[emotion] == pytest.approx(1.0)
    assert all(v < 1.0 for k, v in scores.items() if k != emotion), scores
    assert set(scores) == set(EMOTIONS)


def test_fear_is_not_mistaken_for_its_surprise_subset():
    fear = rule_scores(_aus(TEXTBOOK["fear"]))
    surprise = rule_scores(_aus(TEXTBOOK["surprise"]))
    assert fear["fear"] > fear["surprise"]
    assert surprise["surprise"] > surprise["fear"]


def test_no_action_is_neutral_and_weak_actions_score_low():
    assert rule_scores({})["neutral"] == 1.0
    weak = rule_scores(_aus(TEXTBOOK["happiness"], 0.1))
    assert weak["neutral"] > weak["happiness"] > 0


def test_scores_are_bounded_for_hostile_inputs():
    every = {au: 1.0 for au in au_names()}
    for aus in (every, {"AU12": 1.0, "AU999": 5.0}, {}):
        assert all(0.0 <= v <= 1.0 for v in rule_scores(aus).values())
