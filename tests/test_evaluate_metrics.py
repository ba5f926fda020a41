import pytest

from gifemo.corpus import Corpus, GifRecord
from gifemo.emotions import EMOTIONS, normalize_label, scores_dict
from gifemo.evidence import Evidence
from gifemo.evaluate import LabelledGif, load_dataset
from gifemo.metrics import NONE, calibration, classification


def test_label_synonyms():
    assert [normalize_label(x) for x in ("Happy", "angry", "SAD", "surprised", "disgusted", "scared", "joy")] == \
        ["happiness", "anger", "sadness", "surprise", "disgust", "fear", "happiness"]
    with pytest.raises(ValueError, match="unknown emotion label 'bored'"):
        normalize_label("bored")


def test_dataset_from_folders_and_csv(gifs_dev, tmp_path):
    items = load_dataset(gifs_dev)   # its manifest.csv names the source collection of each GIF
    assert len(items) == 43 and {item.label for item in items} == set(EMOTIONS)
    assert all(item.path.is_file() and item.group for item in items)
    csv_path = tmp_path / "set.csv"
    csv_path.write_text("file,label,content\na.gif,Happy,cartoon\nsub/b.gif,scared,\n")
    assert load_dataset(csv_path) == [LabelledGif(tmp_path / "a.gif", "happiness", "cartoon", "a.gif"),
                                      LabelledGif(tmp_path / "sub" / "b.gif", "fear", "", "sub/b.gif")]
    (tmp_path / "folders" / "Happy").mkdir(parents=True)
    (tmp_path / "folders" / "Happy" / "x.gif").write_bytes(b"GIF89a")
    assert load_dataset(tmp_path / "folders") == [LabelledGif(tmp_path / "folders" / "Happy" / "x.gif", "happiness",
                                                               group="Happy")]
    (tmp_path / "bad.csv").write_text("path,emotion\nx,y\n")
    with pytest.raises(ValueError, match="file,label"):
        load_dataset(tmp_path / "bad.csv")


def test_metrics_count_abstentions_as_wrong():
    truth = ["happiness", "happiness", "anger", "sadness"]
    predicted = ["happiness", NONE, "anger", "happiness"]
    m = classification(truth, predicted)
    assert m["accuracy"] == 0.5 and m["coverage"] == 0.75
    assert m["accuracy_on_covered"] == pytest.approx(2 / 3)
    assert m["abstained"]["happiness"] == 1
    happy = EMOTIONS.index("happiness")
    assert m["confusion_matrix"][happy][happy] == 1
    assert m["confusion_matrix"][EMOTIONS.index("sadness")][happy] == 1
    # macro-F1 over the 3 classes present: happiness 2/3 (P 1/2, R 1/2 -> 0.5), anger 1, sadness 0
    assert m["per_class"]["happiness"]["f1"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert m["predicted_share"]["happiness"] == 0.5


def test_calibration_error_of_honest_and_overconfident_answers():
    truth = ["happiness"] * 10
    right_half = ["happiness"] * 5 + ["anger"] * 5
    honest = calibration(truth, right_half, [0.55] * 10)        # 50 % right at 0.55: gap 0.05
    assert honest["ece"] == pytest.approx(0.05) and honest["bins"][0]["n"] == 10
    boastful = calibration(truth, right_half, [0.95] * 10)      # 50 % right at 0.95: gap 0.45
    assert boastful["ece"] == pytest.approx(0.45)
    split = calibration(truth, right_half, [0.95] * 5 + [0.05] * 5)  # right ones sure, wrong ones unsure
    assert split["ece"] == pytest.approx(0.05) and len(split["bins"]) == 2
    assert calibration(truth, [NONE] * 10, [0.0] * 10)["ece"] is None  # nothing answered, nothing to score


def test_corpus_roundtrip_and_counts(tmp_path):
    db = tmp_path / "c.db"
    with Corpus(db) as corpus:
        face = Evidence("face", scores_dict([0, 0, 0, 1, 0, 0, 0]), 0.5, 0.9, "happiness face in 1 of 2 frames",
                        {"timeline": [{"time": 0.1, "scores": None}]})
        corpus.put(GifRecord("a" * 64, "/x/a.gif", emotion="happiness", source="face", caption="YES",
                             scores=scores_dict([0, 0, 0, 1, 0, 0, 0]), streams_version="v1",
                             evidence=[face.to_dict()]))
        corpus.put(GifRecord("b" * 64, "/x/b.gif", error="/x/b.gif: not a GIF", streams_version="v1"))
    with Corpus(db) as corpus:   # reopened: everything was committed
        assert len(corpus) == 2
        a = corpus.get("a" * 64)
        assert a.scores["happiness"] == 1.0 and a.timeline == [{"time": 0.1, "scores": None}]
        assert a.caption == "YES" and Evidence.from_dict(a.stream("face")) == face and a.stream("caption") is None
        assert corpus.reusable("a" * 64, "v1") == a and corpus.reusable("a" * 64, "v2") is None
        assert [r.path for r in corpus.records(include_errors=False)] == ["/x/a.gif"]
        assert corpus.counts() == {"emotion": {"happiness": 1}, "source": {"face": 1}, "error": {"failed": 1}}
        assert corpus.changed_at() > 0


def test_a_corpus_of_an_older_gifemo_gains_the_new_columns(tmp_path):
    import sqlite3

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:  # the schema before evidence and captions
        conn.execute("CREATE TABLE gifs (sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, emotion TEXT, scores TEXT, "
                     "faces TEXT, action TEXT, model_version TEXT, error TEXT, tagged_at REAL)")
        conn.execute("INSERT INTO gifs (sha256, path, emotion, faces, model_version) "
                     "VALUES ('c', '/x/c.gif', 'fear', '{}', 'old')")
    with Corpus(db) as corpus:
        old = corpus.get("c")
        assert old.emotion == "fear" and old.evidence == [] and old.caption == "" and old.reason == ""
        assert old.streams_version == "old" and old.decision_version == ""  # its one key, now the streams' key
        assert corpus.reusable("c", "new") is None   # so a rerun tags it again, now with evidence
        corpus.put(GifRecord("c", "/x/c.gif", emotion="anger", caption="GRR", streams_version="new"))
        assert corpus.get("c").caption == "GRR"


def test_show_names_the_model_that_read_the_faces():
    from gifemo.show import describe

    face = Evidence("face", scores_dict([0, 0, 0, 1, 0, 0, 0]), 1.0, 0.8, "happiness face in 4 of 4 frames")
    drawn = Evidence("drawn", scores_dict([0, 0, 0, 0, 1, 0, 0]), 1.0, 0.6, "drawn face reads sadness in 3 of 4 frames",
                     {"drawn_probability": 0.93})
    record = GifRecord("d" * 64, "/x/d.gif", emotion="sadness", source="drawn", confidence=0.6,
                       scores=drawn.scores, reason=drawn.reason, evidence=[face.to_dict(), drawn.to_dict()])
    text = describe(record)
    assert "source:   drawn: drawn face reads sadness" in text
    assert "read by the photo and the drawn-face models (P(drawn) 0.93)" in text
    record.evidence = [face.to_dict(), Evidence.abstain("drawn", "looks photographed", drawn_probability=0.1).to_dict()]
    assert "read by the photo-face model (P(drawn) 0.10)" in describe(record)
