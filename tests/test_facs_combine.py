"""Fitting the CNN + EMFACS-rules combination: what it learns, what cross-validation reports, its file."""
import numpy as np

from gifemo.emotions import EMOTIONS
from gifemo.facs.combine import AnchoredCombination, Combination, features, fit

K = len(EMOTIONS)


def _cnn_probs(labels: np.ndarray, right: float, rng: np.random.Generator) -> np.ndarray:
    """Softmax outputs that put their peak on the true class for a fraction `right` of rows, elsewhere at random."""
    peak = np.where(rng.random(len(labels)) < right, labels, rng.integers(0, K, len(labels)))
    logits = rng.normal(0, 1, (len(labels), K))
    logits[np.arange(len(labels)), peak] += 3
    probs = np.exp(logits)
    return probs / probs.sum(1, keepdims=True)


def test_rules_that_know_what_the_cnn_misses_are_used():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, K, 1500)
    cnn = _cnn_probs(labels, right=0.6, rng=rng)
    # the rules fire on the true class of disgust and fear faces only, as AU9/AU20 would
    rules = rng.uniform(0, 0.2, (len(labels), K))
    hard = np.isin(labels, [EMOTIONS.index("disgust"), EMOTIONS.index("fear")])
    rules[hard, labels[hard]] += 0.8
    combination = fit(cnn, rules, labels)
    m = combination.metrics
    assert m["accuracy_fused_cv"] > m["accuracy_cnn"] + 0.03
    assert m["recall_fused_cv"]["disgust"] > m["recall_cnn"]["disgust"] + 0.08
    probs = combination.combine(cnn[:5], rules[:5])
    assert probs.shape == (5, K) and np.allclose(probs.sum(1), 1)


def test_anchored_combination_keeps_the_cnn_when_the_rules_are_noise():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, K, 1500)
    cnn = _cnn_probs(labels, right=0.7, rng=rng)
    rules = rng.uniform(0, 1, (len(labels), K))
    model = AnchoredCombination().fit(features(cnn, rules), labels)
    assert np.allclose(model.coef_[:, :K], np.eye(K) * model.coef_[0, 0])  # the CNN block is a scaled identity
    assert model.coef_[0, 0] > 0.5
    agree = (model.predict(features(cnn, rules)) == cnn.argmax(1)).mean()
    assert agree > 0.95


def test_fitted_combination_round_trips_through_its_file(tmp_path):
    rng = np.random.default_rng(2)
    labels = rng.integers(0, K, 400)
    cnn, rules = _cnn_probs(labels, 0.6, rng), rng.uniform(0, 1, (len(labels), K))
    combination = fit(cnn, rules, labels)
    loaded = Combination.load(combination.save(tmp_path / "face_combine.json"))
    assert np.allclose(loaded.combine(cnn, rules), combination.combine(cnn, rules), atol=1e-5)
    assert loaded.metrics == combination.metrics
    assert Combination.load(tmp_path / "missing.json") is None
