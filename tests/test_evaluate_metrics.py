import pytest

from gifemo.corpus import Corpus, GifRecord
from gifemo.emotions import EMOTIONS, normalize_label, scores_dict
from gifemo.evaluate import NONE, load_dataset, metrics


def test_label_synonyms():
    assert [normalize_label(x) for x in ("Happy", "angry", "SAD", "surprised", "disgusted", "scared", "joy")] == \
        ["happiness", "anger", "sadness", "surprise", "disgust", "fear", "happiness"]
    with pytest.raises(ValueError, match="unknown emotion label 'bored'"):
        normalize_label("bored")


def test_dataset_from_folders_and_csv(gifs_dev, tmp_path):
    pairs = load_dataset(gifs_dev)
    assert len(pairs) == 43 and {label for _, label in pairs} == set(EMOTIONS)
    csv_path = tmp_path / "set.csv"
    csv_path.write_text("file,label\na.gif,Happy\nsub/b.gif,scared\n")
    assert load_dataset(csv_path) == [(tmp_path / "a.gif", "happiness"), (tmp_path / "sub" / "b.gif", "fear")]
    (tmp_path / "bad.csv").write_text("path,emotion\nx,y\n")
    with pytest.raises(ValueError, match="file,label"):
        load_dataset(tmp_path / "bad.csv")


def test_metrics_count_abstentions_as_wrong():
    truth = ["happiness", "happiness", "anger", "sadness"]
    predicted = ["happiness", NONE, "anger", "happiness"]
    m = metrics(truth, predicted)
    assert m["accuracy"] == 0.5 and m["coverage"] == 0.75
    assert m["accuracy_on_covered"] == pytest.approx(2 / 3)
    assert m["abstained"]["happiness"] == 1
    happy = EMOTIONS.index("happiness")
    assert m["confusion_matrix"][happy][happy] == 1
    assert m["confusion_matrix"][EMOTIONS.index("sadness")][happy] == 1
    # macro-F1 over the 3 classes present: happiness 2/3 (P 1/2, R 1/2 -> 0.5), anger 1, sadness 0
    assert m["per_class"]["happiness"]["f1"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)


def test_corpus_roundtrip_and_counts(tmp_path):
    db = tmp_path / "c.db"
    with Corpus(db) as corpus:
        corpus.put(GifRecord("a" * 64, "/x/a.gif", emotion="happiness", source="face",
                             scores=scores_dict([0, 0, 0, 1, 0, 0, 0]), model_version="v1",
                             timeline=[{"time": 0.1, "scores": None}]))
        corpus.put(GifRecord("b" * 64, "/x/b.gif", error="/x/b.gif: not a GIF", model_version="v1"))
    with Corpus(db) as corpus:   # reopened: everything was committed
        assert len(corpus) == 2
        a = corpus.get("a" * 64)
        assert a.scores["happiness"] == 1.0 and a.timeline == [{"time": 0.1, "scores": None}]
        assert corpus.is_current("a" * 64, "v1") and not corpus.is_current("a" * 64, "v2")
        assert [r.path for r in corpus.records(include_errors=False)] == ["/x/a.gif"]
        assert corpus.counts() == {"emotion": {"happiness": 1}, "source": {"face": 1}, "error": {"failed": 1}}
        assert corpus.changed_at() > 0
