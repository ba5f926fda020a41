"""A new fitted decision re-decides the stored Evidence instead of running the streams again: the record equals a
fresh tag's, in bulk runs, uploads, evaluate's corpus and corpora written before the tag key was split."""
import shutil
import sqlite3
from dataclasses import asdict, replace

import numpy as np
import pytest

import gifemo.models
import gifemo.tagger
from gifemo.corpus import Corpus, GifRecord
from gifemo.decision import FittedDecision, load_decision
from gifemo.emotions import EMOTIONS, scores_dict
from gifemo.evaluate import LabelledGif, labelled_records
from gifemo.evidence import Evidence
from gifemo.models import sha256_of
from gifemo.paths import WEIGHTS_DIR
from gifemo.recommender.uploads import add_upload
from gifemo.show import show
from gifemo.tagger import Tagger, TagOptions, pre_split_version, tag_paths

GIF = "Happiness/f178bf0e170d.gif"


def fast_options():
    return TagOptions(num_frames=4, run={"action": "off"})


@pytest.fixture
def weights(tmp_path, monkeypatch):
    """The package's weights folder with a decision.json of the test's own (the shipped one to begin with)."""
    folder = tmp_path / "weights"
    folder.mkdir()
    for path in WEIGHTS_DIR.iterdir():
        if path.name != "decision.json":
            (folder / path.name).symlink_to(path)
    shutil.copy(WEIGHTS_DIR / "decision.json", folder / "decision.json")
    monkeypatch.setattr(gifemo.models, "WEIGHTS_DIR", folder)
    return folder


@pytest.fixture
def decodes(monkeypatch):
    """Every file decoded from here on (none, when only decisions are made again)."""
    seen = []
    read_clip = gifemo.tagger.read_clip
    monkeypatch.setattr(gifemo.tagger, "read_clip", lambda path, **kw: seen.append(path) or read_clip(path, **kw))
    return seen


def only_record(db):
    with Corpus(db) as corpus:
        (record,) = corpus.records()
    return record


def same(a: GifRecord, b: GifRecord) -> bool:
    return asdict(replace(a, tagged_at=0.0)) == asdict(replace(b, tagged_at=0.0))


def refit_against(record: GifRecord, weights) -> None:
    """Another fitted decision, whose answer for this GIF is not the record's."""
    shipped = FittedDecision.from_file(weights / "decision.json")
    against = np.eye(len(EMOTIONS))[EMOTIONS.index(record.emotion)]
    replace(shipped, bias=shipped.bias - 20 * against).save(weights / "decision.json")


def test_a_new_decision_redecides_stored_evidence_as_a_fresh_tag_would(gifs_dev, tmp_path, runtime, weights, decodes):
    (tmp_path / "in").mkdir()
    gif = shutil.copy(gifs_dev / GIF, tmp_path / "in" / "laugh.gif")
    tag_paths([gif], tmp_path / "kept.db", options=fast_options(), runtime=runtime, progress=False)
    first = only_record(tmp_path / "kept.db")
    assert first.emotion and first.decision_version == sha256_of(weights / "decision.json")

    refit_against(first, weights)
    tag_paths([gif], tmp_path / "fresh.db", options=fast_options(), runtime=runtime, progress=False)
    fresh = only_record(tmp_path / "fresh.db")
    assert fresh.emotion != first.emotion and fresh.decision_version != first.decision_version
    decoded = len(decodes)

    # `show --db` answers as the new decision would, from the stored evidence, leaving the corpus as it was.
    text, shown = show(gif, db=tmp_path / "kept.db", options=fast_options(), runtime=runtime)
    assert same(shown, fresh) and fresh.emotion in text and len(decodes) == decoded
    assert same(only_record(tmp_path / "kept.db"), first)

    rerun = tag_paths([gif], tmp_path / "kept.db", options=fast_options(), runtime=runtime, progress=False)
    assert (rerun.redecided, rerun.tagged, rerun.skipped) == (1, 0, 0)
    assert "1 re-decided" in rerun.text()
    assert len(decodes) == decoded                      # no file decoded, so no stream ran
    assert same(only_record(tmp_path / "kept.db"), fresh)
    again = tag_paths([gif], tmp_path / "kept.db", options=fast_options(), runtime=runtime, progress=False)
    assert (again.redecided, again.skipped) == (0, 1)

    # An upload of the same GIF after the decision changed back: re-decided in the corpus, not tagged again.
    shutil.copy(WEIGHTS_DIR / "decision.json", weights / "decision.json")
    with Tagger(fast_options(), runtime) as tagger:
        uploaded = add_upload(tmp_path / "kept.db", "laugh.gif", gif.read_bytes(), tagger)
    assert len(decodes) == decoded
    assert same(uploaded, first) and same(only_record(tmp_path / "kept.db"), first)

    # A corpus from before the key was split, tagged with these options and the shipped decision: kept, re-decided.
    with sqlite3.connect(tmp_path / "kept.db") as conn:
        conn.execute("ALTER TABLE gifs DROP COLUMN decision_version")
        conn.execute("ALTER TABLE gifs RENAME COLUMN streams_version TO model_version")
        conn.execute("UPDATE gifs SET model_version = ?", (pre_split_version(fast_options(), runtime),))
    refit_against(first, weights)
    migrated = tag_paths([gif], tmp_path / "kept.db", options=fast_options(), runtime=runtime, progress=False)
    assert (migrated.redecided, migrated.tagged) == (1, 0) and len(decodes) == decoded
    assert same(only_record(tmp_path / "kept.db"), fresh)


def test_evaluate_without_tagging_redecides_the_corpus_evidence(tmp_path):
    face = Evidence("face", scores_dict([0.05, 0.05, 0.05, 0.1, 0.6, 0.1, 0.05]), 1.0, 0.6, "sad face in 4 of 4 frames")
    gif = tmp_path / "sad.gif"
    gif.write_bytes(b"GIF89a stands in for a GIF tagged earlier")
    with Corpus(tmp_path / "c.db") as corpus:   # decided by some other decision, its streams by other options
        corpus.put(GifRecord(sha256_of(gif), str(gif), emotion="anger", confidence=0.99, source="face",
                             evidence=[face.to_dict()], streams_version="other options", decision_version="old"))
    (record,) = labelled_records([LabelledGif(gif, "sadness")], tmp_path / "c.db", tag=False)
    decided = load_decision().decide([face])
    assert (record.emotion, record.confidence, record.source) == (decided.emotion, decided.confidence, decided.source)
    assert record.decision_version == sha256_of(WEIGHTS_DIR / "decision.json")
    assert record.streams_version == "other options"        # the evidence is still the other options'
    with Corpus(tmp_path / "c.db") as corpus:
        assert same(corpus.get(record.sha256), record)      # written back: the next run has nothing to decide
