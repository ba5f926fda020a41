"""The Kinetics action -> emotion table and how class probabilities become emotion scores."""
import csv

import numpy as np
import pytest

from gifemo.action import kinetics
from gifemo.action.stream import summarize
from gifemo.config import ActionOptions, Runtime
from gifemo.emotions import EMOTIONS


@pytest.fixture(scope="module")
def labels(models_dir):
    return kinetics.load_labels(Runtime(models_dir=models_dir))


@pytest.fixture(scope="module")
def emotion_map(labels):
    return kinetics.load_emotion_map(labels=labels)


def test_table_covers_the_label_map_in_order(labels, emotion_map):
    assert len(labels) == 400 and emotion_map.actions == tuple(labels)


@pytest.mark.parametrize("action,emotion", [
    ("laughing", "happiness"), ("celebrating", "happiness"), ("hugging", "happiness"),
    ("crying", "sadness"), ("slapping", "anger"), ("headbutting", "anger"),
    ("punching person (boxing)", "anger"), ("sneezing", "disgust"), ("yawning", "neutral"),
    ("playing cricket", None), ("abseiling", None), ("mowing lawn", None),
])
def test_reviewed_classes(emotion_map, action, emotion):
    index = emotion_map.actions.index(action)
    if emotion is None:
        assert emotion_map.emotion[index] == -1 and emotion_map.weight[index] == 0
    else:
        assert EMOTIONS[emotion_map.emotion[index]] == emotion and emotion_map.weight[index] > 0


def test_most_classes_map_to_none_and_the_threshold_is_well_above_chance(emotion_map):
    mapped = emotion_map.emotion >= 0
    assert 20 <= mapped.sum() <= 100
    # A uniform prediction must abstain, with room to spare.
    assert ActionOptions().min_mapped_mass >= 3 * emotion_map.chance_mass
    assert summarize(np.full(400, 1 / 400), emotion_map).abstained


def _rewrite(tmp_path, change):
    rows = list(csv.DictReader(open(kinetics.EMOTION_TABLE, newline="")))
    change(rows)
    path = tmp_path / "table.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("change,message", [
    (lambda rows: rows[180].update(emotion="joy"), "not one of"),
    (lambda rows: rows[180].update(weight="1.5"), "weight"),
    (lambda rows: rows[0].update(weight="0.5"), "weight"),      # weight without an emotion
    (lambda rows: rows[79].update(weight="0"), "weight"),       # emotion without a weight
    (lambda rows: rows[3].update(action="clapping"), "label map"),
    (lambda rows: rows.pop(), "rows"),
    (lambda rows: rows.insert(5, dict(rows[5])), "rows"),
])
def test_broken_tables_are_rejected(tmp_path, labels, change, message):
    with pytest.raises(ValueError, match=message):
        kinetics.load_emotion_map(_rewrite(tmp_path, change), labels=labels)


def probs_on(emotion_map, **mass):
    probs = np.full(400, 0.0)
    for action, p in mass.items():
        probs[emotion_map.actions.index(action.replace("_", " "))] = p
    rest = 1 - probs.sum()
    unmapped = np.flatnonzero((emotion_map.emotion < 0) & (probs == 0))
    probs[unmapped] = rest / len(unmapped)
    return probs


def test_confident_laughing_gives_happiness(emotion_map):
    analysis = summarize(probs_on(emotion_map, laughing=0.8, clapping=0.1), emotion_map, ActionOptions(top_k=3))
    assert not analysis.abstained
    assert [name for name, _ in analysis.details["top_actions"][:2]] == ["laughing", "clapping"]
    assert analysis.details["top_actions"][0][1] == pytest.approx(0.8)
    assert len(analysis.details["top_actions"]) == 3
    assert analysis.details["mapped_mass"] == pytest.approx(0.8 * 1.0 + 0.1 * 0.5)
    assert sum(analysis.scores.values()) == pytest.approx(1.0)
    assert analysis.scores["happiness"] == pytest.approx(1.0)
    assert analysis.confidence == pytest.approx(0.85) and analysis.reason.startswith("actions: laughing 0.80")


def test_mapped_mass_is_split_by_emotion_and_weight(emotion_map):
    analysis = summarize(probs_on(emotion_map, crying=0.3, slapping=0.5), emotion_map)
    assert analysis.details["mapped_mass"] == pytest.approx(0.3 + 0.4)
    assert analysis.scores["anger"] == pytest.approx(0.4 / 0.7)
    assert analysis.scores["sadness"] == pytest.approx(0.3 / 0.7)
    assert set(analysis.scores) == set(EMOTIONS)


def test_actions_without_emotion_abstain(emotion_map):
    analysis = summarize(probs_on(emotion_map, playing_cricket=0.7, laughing=0.1), emotion_map)
    assert analysis.abstained and analysis.scores == {} and analysis.confidence == 0
    assert analysis.details["top_actions"][0][0] == "playing cricket"
    assert analysis.details["mapped_mass"] == pytest.approx(0.1)
    d = analysis.to_dict()
    assert d["details"]["top_actions"][0] == ["playing cricket", pytest.approx(0.7)]
    assert d["scores"] == {} and d["emotion"] is None and "carry no emotion" in d["reason"]
