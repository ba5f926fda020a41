"""Every page of the Streamlit app, run in-process by Streamlit's AppTest on a real tagged corpus."""
import json
from pathlib import Path

import pytest
import torch

from app_corpus import build_app_corpus
from gifemo.corpus import Corpus
from gifemo.recommender import vectors

APP = str(Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py")
TIMEOUT = 240  # the first run loads the text model, MiniLM and the face models


@pytest.fixture(scope="module")
def corpus(gifs_dev, runtime, tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # single GIFs and messages: one thread is fastest on a shared CPU
    yield build_app_corpus(gifs_dev, runtime, tmp_path_factory.getbasetemp() / "app_corpus")
    torch.set_num_threads(threads)


@pytest.fixture
def app(corpus, models_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest

    db, report = corpus
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


def test_suggest_page_shows_gifs_with_badges_and_why(app, corpus):
    with Corpus(corpus[0]) as c:  # GIFs with an emotion or tag words; the others match no message
        tagged = {r.path: r for r in c.records(include_errors=False) if r.emotion or vectors.tag_terms(r)}
    open_page(app, "Suggest")
    app.text_input[0].input("I'm so happy today, let's dance!")
    app.slider[0].set_value(4)
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert len(gif_urls(app)) == min(4, len(tagged))
    whys = [c.value for c in app.caption if "text match" in c.value]
    assert len(whys) == len(gif_urls(app))
    assert len(badges(app)) == len(whys)
    assert any(m.value.startswith("Message reads as") for m in app.markdown)

    # An emotion filter leaves only GIFs tagged with that emotion.
    emotion = next(r.emotion for r in tagged.values() if r.emotion)
    app.multiselect[0].set_value([emotion])
    app.button[0].click().run()
    expected = sum(r.emotion == emotion for r in tagged.values())
    assert len(gif_urls(app)) == min(4, expected)
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
    assert len(gif_urls(app)) == 2  # the original and the annotated GIF
    assert [i.captions for i in app.get("image")] == [["original"], ["annotated"]]
    assert app.get("arrow_line_chart") or app.get("vega_lite_chart")  # the per-frame timeline
    assert f"decided by **{with_face.source}**, confidence" in " ".join(m.value for m in app.markdown)


def test_tag_page_tags_an_upload_and_refuses_bad_ones(app, gifs_dev):
    open_page(app, "Tag")
    gif = next((gifs_dev / "Surprise").glob("*.gif"))
    uploader = app.get("file_uploader")[0]
    uploader.upload(gif.name, gif.read_bytes(), "image/gif")
    uploader.upload("not-a-gif.gif", b"GIF89a this is not an image", "image/gif")
    uploader.upload("huge.gif", b"GIF89a" + bytes(11 * 1024 * 1024), "image/gif")
    app.run()
    assert not app.exception, app.exception
    assert [s.value for s in app.subheader] == [gif.name, "not-a-gif.gif"]
    errors = [e.value for e in app.error]
    assert any("huge.gif is larger than 10 MB" in e for e in errors)
    assert any("not-a-gif.gif" in e for e in errors)
    assert not any("gifemo-upload-" in e for e in errors)   # no server temporary path in what the user reads
    assert len(badges(app)) == 1 and gif_urls(app)


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
    confusion = app.dataframe[-1].value
    assert confusion.values.tolist() == report["confusion_matrix"]


def test_tag_page_does_not_tag_the_same_upload_again_on_a_rerun(app, gifs_dev, monkeypatch):
    from gifemo.tagger import Tagger

    calls = []
    real = Tagger.tag_file
    monkeypatch.setattr(Tagger, "tag_file", lambda self, path, sha256=None: calls.append(path) or real(self, path, sha256))
    open_page(app, "Tag")
    gif = sorted((gifs_dev / "Happiness").glob("*.gif"))[-1]
    app.get("file_uploader")[0].upload(gif.name, gif.read_bytes(), "image/gif")
    app.run()
    app.run()   # any click reruns the page: the upload comes again, under another temporary path
    assert not app.exception, app.exception
    assert len(calls) == 1 and len(badges(app)) == 1
