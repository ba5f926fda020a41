"""Reading the two corpora and scoring them the way the held-back evaluation is described."""
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from gifemo.emotions import EMOTIONS
from gifemo.text import data, metrics

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="module")
def splits():
    if not DATA.is_dir():
        pytest.skip("../shared is absent")
    return {c: data.read_split(DATA, c, "val") for c in data.CORPORA}


def test_tweet_labels_are_mapped(splits):
    tweets = splits[data.TWEETS]
    assert len(tweets) == 2000
    present = {EMOTIONS[i] for i in np.flatnonzero(tweets.labels.any(0))}
    assert present == set(data.TWEET_EMOTIONS)  # joy and love became happiness; no disgust, no neutral
    assert (tweets.labels.sum(1) == 1).all()


def test_goemotions_multilabel_rows_spread_their_target(splits):
    reddit = splits[data.GOEMOTIONS]
    assert len(reddit) == 5426
    multi = reddit.labels.sum(1) > 1
    assert 0.03 < multi.mean() < 0.2
    np.testing.assert_allclose(reddit.targets.sum(1), 1.0, rtol=1e-6)
    row = np.flatnonzero(multi)[0]
    assert set(np.unique(reddit.targets[row][reddit.labels[row]])) == {1.0 / reddit.labels[row].sum()}


def test_macro_f1_matches_sklearn_on_single_label_rows(splits):
    reddit = splits[data.GOEMOTIONS]
    single = reddit.labels.sum(1) == 1
    corpus = data.TextSet(reddit.name, [t for t, s in zip(reddit.texts, single) if s], reddit.targets[single],
                         reddit.labels[single])
    probs = np.random.default_rng(0).dirichlet(np.ones(7), size=len(corpus))
    figures = metrics.corpus_figures(corpus, probs)
    expected = f1_score(corpus.labels.argmax(1), probs.argmax(1), average="macro")
    assert figures["macro_f1"] == pytest.approx(expected)
    assert figures["f1_single"] == pytest.approx(expected)


def test_either_gold_label_of_a_multilabel_row_counts():
    labels = np.zeros((2, 7), dtype=bool)
    labels[0, [0, 3]] = True  # anger + happiness
    labels[1, 6] = True
    corpus = data.TextSet(data.GOEMOTIONS, ["a", "b"], labels / labels.sum(1, keepdims=True), labels)
    probs = np.full((2, 7), 0.01)
    probs[0, 3], probs[1, 6] = 0.9, 0.9
    figures = metrics.corpus_figures(corpus, probs)
    assert figures["accuracy"] == 1.0
    # anger was missed on row 0: its F1 is 0; happiness and neutral are perfect.
    assert figures["per_class_f1"]["anger"] == 0.0 and figures["per_class_f1"]["happiness"] == 1.0
    assert figures["macro_f1"] == pytest.approx(2 / 3)


def test_tweet_accuracy_counts_neutral_as_wrong(splits):
    tweets = splits[data.TWEETS]
    probs = tweets.targets * 0.5
    probs[:, EMOTIONS.index("neutral")] = 0.6
    figures = metrics.corpus_figures(tweets, probs)
    assert figures["accuracy"] == 0.0 and figures["accuracy_tweet_labels"] == 1.0
