"""Every page of the Streamlit app, run in-process by Streamlit's AppTest on a real tagged corpus."""
import hashlib
import json
from pathlib import Path

import pytest
import torch

from app_corpus import build_app_corpus
from gifemo.corpus import Corpus
from gifemo.emotions import CONFIDENCE_MEANS, EMOJI, SCORES_MEAN
from gifemo.recommender.uploads import uploads_dir

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")
TIMEOUT = 240  # the first run loads the text model, MiniLM and the face models


@pytest.fixture(scope="module")
def corpus(gifs_dev, runtime, tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # single GIFs and messages: one thread is fastest on a shared CPU
    yield build_app_corpus(gifs_dev, runtime, tmp_path_factory.getbasetemp() / "app_corpus")
    torch.set_num_threads(threads)


@pytest.fixture
def app(corpus, models_dir, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    db, report = corpus
    monkeypatch.setenv("GIFEMO_CACHE_DIR", str(tmp_path / "cache"))  # the app remembers its corpus there
    monkeypatch.setenv("GIFEMO_DB", str(db))
    monkeypatch.setenv("GIFEMO_REPORT", str(report))
    monkeypatch.setenv("GIFEMO_MODELS_DIR", str(models_dir))
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def open_page(app, name: str):
    app.run()
    app.sidebar.radio[0].set_value(name).run()
    assert not app.exception, app.exception
    return app


def gif_urls(app) -> list[str]:
    return [url for image in app.get("image") for url in image.value]


def badges(app) -> list[str]:
    return [m.value for m in app.markdown if "-badge[" in m.value]  # st.badge renders as markdown


SAID = {"anger": "I am so angry at them", "disgust": "ew, that is disgusting", "fear": "that was terrifying",
        "happiness": "I'm so happy today, let's dance!", "sadness": "I miss her so much, so sad",
        "surprise": "wow, I'm shocked", "neutral": "the meeting is at 3pm"}


def own_corpus(corpus, tmp_path, monkeypatch) -> Path:
    """A copy of the shared corpus for a test that writes to it (votes, uploads)."""
    db = tmp_path / "corpus.db"
    db.write_bytes(Path(corpus[0]).read_bytes())
    monkeypatch.setenv("GIFEMO_DB", str(db))
    return db


def test_suggest_page_shows_gifs_with_badges_why_copy_and_votes(app, corpus, tmp_path, monkeypatch):
    db = own_corpus(corpus, tmp_path, monkeypatch)
    open_page(app, "Suggest")
    app.slider[0].set_value(4)
    app.text_input[0].input(SAID["happiness"]).run()  # no button: the message change reruns the page
    assert not app.exception, app.exception
    shown = len(gif_urls(app))
    assert 1 <= shown <= 4
    whys = [c.value for c in app.caption if "your message" in c.value or "found by its words" in c.value]
    assert len(whys) == shown and len(badges(app)) == shown
    assert any(m.value.startswith("Message reads as") for m in app.markdown)
    # a copy button per GIF (Streamlit's code block) holding the GIF's path, and a 👍/👎 per GIF
    with Corpus(db) as c:
        paths = {r.path: r.sha256 for r in c.records()}
    assert len(app.code) == shown and all(code.value in paths for code in app.code)
    assert len(app.feedback) == shown
    app.feedback[0].set_value(1).run()  # 👍 (index 1 of the thumbs)
    with Corpus(db) as c:
        assert c.feedback_votes() == {paths[app.code[0].value]: {"happiness": 1}}

    # An emotion filter leaves only GIFs tagged with that emotion.
    with Corpus(db) as c:
        emotion = next(r.emotion for r in c.records(include_errors=False) if r.emotion)
    app.multiselect[0].set_value([emotion])
    app.text_input[0].input(SAID[emotion]).run()
    assert badges(app) and all(emotion in badge for badge in badges(app))


def test_suggest_page_without_a_corpus_says_what_to_do(app, monkeypatch):
    monkeypatch.setenv("GIFEMO_DB", "")
    open_page(app, "Suggest")
    assert "Choose a tagged corpus" in app.info[0].value and not gif_urls(app)


def test_tag_page_picks_a_corpus_gif_and_shows_tags_timeline_and_annotated_gif(app, corpus):
    with Corpus(corpus[0]) as c:
        with_face = next(r for r in c.records(include_errors=False)
                         if r.source == "face" and any(p["scores"] for p in r.timeline))
    open_page(app, "Tag")
    app.multiselect[0].set_value([with_face.path]).run()
    assert not app.exception, app.exception
    assert app.subheader[0].value == Path(with_face.path).name
    assert not app.warning, [w.value for w in app.warning]
    assert len(gif_urls(app)) == 2  # the original and the annotated GIF
    assert [i.captions for i in app.get("image")] == [["original"], ["annotated"]]
    assert app.get("arrow_line_chart") or app.get("vega_lite_chart")  # the per-frame timeline
    assert f"decided by **{with_face.source}**, confidence {with_face.confidence:.2f} ({CONFIDENCE_MEANS})" in \
        " ".join(m.value for m in app.markdown)
    assert f"Scores: {SCORES_MEAN}." in [c.value for c in app.caption]
    assert with_face.reason in [m.value for m in app.markdown]
    evidence = next(d.value for d in app.dataframe if "stream" in d.value.columns)   # every stream's say
    assert list(evidence["stream"]) == [e["stream"] for e in with_face.evidence]
    assert list(evidence["why"]) == [e["reason"] for e in with_face.evidence]


def test_tag_page_adds_an_upload_to_the_corpus_and_refuses_bad_ones(app, corpus, gifs_dev, tmp_path, monkeypatch):
    db = own_corpus(corpus, tmp_path, monkeypatch)
    with Corpus(db) as c:
        known = {r.sha256 for r in c.records()}
    gif = next(p for p in sorted((gifs_dev / "Surprise").glob("*.gif"))
               if hashlib.sha256(p.read_bytes()).hexdigest() not in known)
    open_page(app, "Tag")
    uploader = app.get("file_uploader")[0]
    uploader.upload(gif.name, gif.read_bytes(), "image/gif")
    uploader.upload("not-a-gif.gif", b"GIF89a this is not an image", "image/gif")
    uploader.upload("huge.gif", b"GIF89a" + bytes(11 * 1024 * 1024), "image/gif")
    app.run()
    assert not app.exception, app.exception
    assert [s.value for s in app.subheader] == [gif.name]
    errors = [e.value for e in app.error]
    assert any("huge.gif is larger than 10 MB" in e for e in errors)
    assert any(e.count("not-a-gif.gif") == 1 for e in errors)   # named once, as the CLI does
    assert not any("gifemo-upload-" in e for e in errors)   # no server temporary path in what the user reads
    assert len(badges(app)) == 1 and gif_urls(app)
    # the upload is in the corpus, stored beside it; the bad ones are not
    with Corpus(db) as c:
        record = c.get(hashlib.sha256(gif.read_bytes()).hexdigest())
        assert record is not None and Path(record.path).read_bytes() == gif.read_bytes()
        assert len(c) == len(known) + 1
    assert sorted(p.name for p in uploads_dir(db).iterdir()) == [Path(record.path).name]


def test_browse_page_counts_and_filters(app, corpus):
    with Corpus(corpus[0]) as c:
        counts = c.counts()
    total = sum(counts["emotion"].values())
    open_page(app, "Browse")
    assert app.markdown[0].value.startswith(f"**{total}** of {total} tagged GIFs")
    assert len(gif_urls(app)) == min(total, 16)
    emotion, n = max(((e, n) for e, n in counts["emotion"].items() if e != "None"), key=lambda en: en[1])
    app.multiselect[0].set_value([emotion]).run()
    assert app.markdown[0].value.startswith(f"**{n}** of {total} tagged GIFs")
    assert len(gif_urls(app)) == min(n, 16)
    app.slider[0].set_value(1.0).run()  # nothing is tagged with confidence 1
    assert app.markdown[0].value.startswith("**0** of")


def test_evaluation_page_shows_the_report_and_its_confusion_matrix(app, corpus):
    report = json.loads(corpus[1].read_text())
    open_page(app, "Evaluation")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Accuracy"] == f"{report['accuracy']:.3f}"
    assert metrics["Macro-F1"] == f"{report['macro_f1']:.3f}"
    assert len(gif_urls(app)) == 1  # the confusion-matrix PNG
    assert metrics["Coverage"] == f"{report['coverage']:.3f}"
    majority = report["baseline_majority"]
    assert metrics[f"Always '{majority['emotion']}'"] == f"{majority['accuracy']:.3f}"
    confusion = app.dataframe[-1].value
    assert confusion.drop(columns="abstained").values.tolist() == report["confusion_matrix"]
    assert confusion["abstained"].tolist() == [report["abstained"][e] for e in report["labels"]]
    # the text `gifemo evaluate` prints, abstentions included
    assert any("no answer" in code.value and f"always '{majority['emotion']}'" in code.value for code in app.code)


def test_the_app_opens_the_last_corpus_used(app, corpus, tmp_path, monkeypatch):
    from gifemo.config import Runtime
    from gifemo.recommender.recent import remember_corpus

    remember_corpus(corpus[0], Runtime.from_env())  # the fixture's GIFEMO_CACHE_DIR
    monkeypatch.delenv("GIFEMO_DB")
    open_page(app, "Browse")
    assert app.sidebar.text_input[0].value == str(Path(corpus[0]).resolve())
    assert gif_urls(app)


def test_tag_page_does_not_tag_the_same_upload_again_on_a_rerun(app, corpus, gifs_dev, tmp_path, monkeypatch):
    from gifemo.tagger import Tagger

    db = own_corpus(corpus, tmp_path, monkeypatch)
    with Corpus(db) as c:
        known = {r.sha256 for r in c.records()}
    calls = []
    real = Tagger.tag_file
    monkeypatch.setattr(Tagger, "tag_file", lambda self, path, sha256=None: calls.append(path) or real(self, path, sha256))
    open_page(app, "Tag")
    gif = next(p for p in sorted((gifs_dev / "Happiness").glob("*.gif"), reverse=True)
               if hashlib.sha256(p.read_bytes()).hexdigest() not in known)
    app.get("file_uploader")[0].upload(gif.name, gif.read_bytes(), "image/gif")
    app.run()
    app.run()   # any click reruns the page: the upload comes again; it is in the corpus by then
    assert not app.exception, app.exception
    assert len(calls) == 1 and len(badges(app)) == 1


def jpeg(pixels) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_camera_page_reads_every_face_and_suggests_gifs_for_one_without_storing_anything(app, corpus, gifs_dev,
                                                                                          tmp_path, monkeypatch):
    from face_media import face_photo

    db = own_corpus(corpus, tmp_path, monkeypatch)
    before = db.read_bytes()
    open_page(app, "Camera")
    assert not app.get("image")          # no photo yet, nothing shown
    app.camera_input[0].set_value(("photo.jpg", jpeg(face_photo(gifs_dev)), "image/jpeg")).run()
    assert not app.exception, app.exception
    verdicts = [s.value for s in app.subheader]
    # the laughing face on the left, the sad one on the right: each boxed, read, given its bars
    assert verdicts == [f"{EMOJI['happiness']} happiness", f"{EMOJI['sadness']} sadness"], verdicts
    assert len(app.get("arrow_bar_chart") or app.get("vega_lite_chart")) == 2
    assert [c.value for c in app.caption if c.value.startswith("2 faces read in ")]
    assert [b.label for b in app.button] == ["Suggest GIFs for this face"] * 2
    app.button[0].click().run()          # the laughing face
    assert not app.exception, app.exception
    assert app.subheader[-1].value == f"GIFs for face 1: {EMOJI['happiness']} happiness"
    with Corpus(db, readonly=True) as c:
        happy = c.counts()["emotion"].get("happiness", 0)
    whys = [c.value for c in app.caption if "your face reads happy" in c.value]
    assert 1 <= len(whys) <= min(happy, 8) and len(badges(app)) == len(whys)
    assert all("happiness" in badge for badge in badges(app))
    assert len([url for url in gif_urls(app) if url.endswith(".gif")]) == len(whys)
    # nothing was stored: the corpus is byte for byte the same, no upload folder, no picture anywhere
    assert db.read_bytes() == before and not uploads_dir(db).exists()
    assert not [p for p in tmp_path.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".gif")]


def test_camera_page_says_what_is_wrong_with_a_bad_photo(app):
    open_page(app, "Camera")
    app.camera_input[0].set_value(("photo.jpg", b"\xff\xd8\xff\xe0 not really a JPEG", "image/jpeg")).run()
    assert not app.exception, app.exception
    assert app.error[0].value.startswith("camera photo: not a readable picture")
    assert not app.subheader
