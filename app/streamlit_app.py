"""gifemo in the browser: suggest GIFs for a message or for your face (camera), tag GIFs, browse a tagged
corpus, read an evaluation.

Started by `gifemo app [--db CORPUS.db] [--report REPORT.json]`, which passes those as GIFEMO_DB and
GIFEMO_REPORT; both can also be changed in the sidebar. Without a corpus named, the app opens the one last
used (after `make demo`, the demo's). Every read and write of the corpus goes through gifemo.corpus.Corpus.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from gifemo.config import DEFAULT_TEXT_MODEL, MAX_UPLOAD_MB, TEXT_MODELS, Runtime
from gifemo.streams import SOURCES
from gifemo.emotions import CONFIDENCE_MEANS, EMOJI, EMOTIONS, SCORES_MEAN
from gifemo.models import MissingModelError

BADGE_COLORS = {"anger": "red", "disgust": "green", "fear": "violet", "happiness": "orange",
                "sadness": "blue", "surprise": "yellow", "neutral": "gray"}
PAGES = ("Suggest", "Camera", "Tag", "Browse", "Evaluation")
GRID_COLUMNS = 4
# The app is an edge: its settings come from the environment `gifemo app` (or the user) set.
RUNTIME = Runtime.from_env()


# ---------------------------------------------------------------- cached resources
@st.cache_resource(show_spinner="Loading the text model and the corpus index...")
def load_recommender(db: str, text_model: str):
    from gifemo.recommender.suggest import Recommender

    return Recommender(db, RUNTIME, text_model=text_model)


@st.cache_resource(show_spinner="Loading the face models...")
def load_face_stream():
    """The face stream, and a lock: one MediaPipe graph serves every session, one photo at a time. One torch
    thread unless told otherwise: for the few faces of one photo a second thread only waits on a busy CPU
    (bench/bench_camera.py)."""
    from gifemo.facs import FaceStream

    stream = FaceStream(runtime=replace(RUNTIME, threads=RUNTIME.threads or 1))
    stream.landmarker(video=False)  # built now, under the spinner, not on the first photo
    return stream, threading.Lock()


@st.cache_resource(show_spinner="Loading the face and action models...")
def load_tagger():
    from gifemo.tagger import Tagger

    return Tagger(runtime=RUNTIME)


def current_recommender(db: str, text_model: str):
    """The recommender, up to date with the corpus; None after saying which model file is missing."""
    try:
        recommender = load_recommender(db, text_model)
    except MissingModelError as exc:
        st.error(str(exc))
        return None
    if recommender.index.corpus_changed_at != corpus_changed_at(db):
        recommender.refresh()
    return recommender


def corpus_changed_at(db: str) -> float:
    from gifemo.corpus import Corpus

    with Corpus(db, readonly=True) as corpus:
        return corpus.changed_at()


@st.cache_data(show_spinner=False)
def corpus_table(db: str, changed_at: float) -> pd.DataFrame:
    """Light columns of every tagged GIF (not the timelines), refreshed when the corpus changes."""
    from gifemo.corpus import Corpus

    columns = ["path", "emotion", "confidence", "source", "caption", "frames", "duration", "error"]
    with Corpus(db, readonly=True) as corpus:
        table = pd.DataFrame([{c: getattr(r, c) for c in columns} for r in corpus.records()], columns=columns)
    table["emotion"] = table["emotion"].fillna("none")
    return table


# ---------------------------------------------------------------- small views
def emotion_badge(emotion: str | None) -> None:
    if emotion:
        st.badge(f"{EMOJI[emotion]} {emotion}", color=BADGE_COLORS[emotion])
    else:
        st.badge("no emotion", color="gray")


def show_gif(path: str, caption: str | None = None) -> None:
    if Path(path).is_file():
        st.image(path, caption=caption, width="stretch")  # a GIF file is sent as is, so it stays animated
    else:
        st.warning(f"missing file: {path}")


def need_corpus(db: str) -> bool:
    if db and Path(db).is_file():
        return True
    st.info("Choose a tagged corpus (a `.db` written by `gifemo tag`) in the sidebar.")
    return False


# ---------------------------------------------------------------- pages
def page_suggest(db: str) -> None:
    st.header("Suggest GIFs for a message")
    if not need_corpus(db):
        return
    text_model = st.sidebar.selectbox("Text model", TEXT_MODELS, index=TEXT_MODELS.index(DEFAULT_TEXT_MODEL))
    # No form: the suggestions follow the message each time it changes (Enter or leaving the box).
    message = st.text_input("Message", placeholder="let's dance!")
    k = st.slider("How many GIFs", 1, 24, 8)
    with st.expander("Filters"):
        emotions = st.multiselect("GIF emotion", EMOTIONS)
        sources = st.multiselect("Decided by", SOURCES)
        min_confidence = min_confidence_slider()
    if not message.strip():
        st.caption("Type a message: the GIFs update when it changes.")
        return
    from gifemo.recommender.ranking import Filters

    recommender = current_recommender(db, text_model)
    if recommender is None:
        return
    results = recommender.suggest(message, k=k, filters=Filters(emotions, min_confidence, sources))
    scores = results.reading
    st.write("Message reads as: " + ", ".join(f"{EMOJI[e]} {e} {scores[e]:.2f}"
                                              for e in sorted(scores, key=lambda e: -scores[e])[:3]))
    show_suggestions(results, recommender, message)


def show_suggestions(results, recommender, message: str | None = None) -> None:
    """The suggested GIFs in a grid, each with its emotion, why and a copy button; 👍/👎 votes for a message."""
    if results.note:
        st.info(results.note)
    for row_start in range(0, len(results), GRID_COLUMNS):
        for column, result in zip(st.columns(GRID_COLUMNS), results[row_start:row_start + GRID_COLUMNS]):
            with column:
                show_gif(result.path)
                emotion_badge(result.emotion)
                st.caption(result.why)
                st.code(result.path, language=None)  # Streamlit's code block has a copy button
                if message is None:
                    continue
                vote = st.feedback("thumbs", key=f"vote-{result.sha256}-{message}")
                if vote is not None and st.session_state.get(f"voted-{result.sha256}-{message}") != vote:
                    st.session_state[f"voted-{result.sha256}-{message}"] = vote
                    recommender.vote(result.sha256, message, 1 if vote == 1 else -1)


def page_camera(db: str) -> None:
    st.header("Your face: emotion and GIFs")
    st.caption("Take a photo: every face gets its emotion. The photo stays in this browser session; nothing is "
               "stored unless you download it.")
    photo = st.camera_input("Take a photo")
    if photo is None:
        return
    reading = photo_reading(photo.file_id, photo.getvalue())
    if isinstance(reading, str):
        st.error(reading)
        return
    st.image(reading.picture, caption="your photo, read", width=min(reading.picture.width, 800))
    found = f"{len(reading.faces)} face{'s' if len(reading.faces) != 1 else ''}"
    st.caption(f"{found} read in {reading.seconds:.2f} s")
    png = io.BytesIO()
    reading.picture.save(png, format="PNG")
    st.download_button("Download the annotated photo", png.getvalue(), file_name="gifemo-faces.png", mime="image/png")
    if not reading.faces:
        st.info("No face found: face the camera, in good light, closer.")
        return
    for number, face in enumerate(reading.faces, 1):
        thumbnail, verdict, bars = st.columns([1, 2, 3], vertical_alignment="center")
        thumbnail.image(reading.crop(face), caption=f"face {number}")
        verdict.subheader(f"{EMOJI[face.emotion]} {face.emotion}")
        verdict.caption(f"face {number}: {face.scores[face.emotion]:.0%} sure")
        if verdict.button("Suggest GIFs for this face", key=f"suggest-face-{number}"):
            st.session_state["camera-face"] = (photo.file_id, number)
        bars.bar_chart(pd.DataFrame({"score": [face.scores[e] for e in EMOTIONS]}, index=list(EMOTIONS)),
                       horizontal=True, height=220, x_label="score", y_label="")
    chosen = st.session_state.get("camera-face")
    if chosen and chosen[0] == photo.file_id and chosen[1] <= len(reading.faces):
        face = reading.faces[chosen[1] - 1]
        st.subheader(f"GIFs for face {chosen[1]}: {EMOJI[face.emotion]} {face.emotion}")
        suggest_for_face(db, face)


def photo_reading(file_id: str, data: bytes):
    """The photo's faces (or why it cannot be read), kept in this session only, so that a click on the page
    does not read the same photo again; a new photo replaces it."""
    from gifemo.camera import read_photo
    from gifemo.media import MediaError

    kept = st.session_state.get("camera-reading")
    if kept and kept[0] == file_id:
        return kept[1]
    try:
        face_stream, lock = load_face_stream()
        with lock:
            reading = read_photo(data, face_stream)
    except (MediaError, MissingModelError) as exc:
        reading = str(exc)
    st.session_state["camera-reading"] = (file_id, reading)
    return reading


def suggest_for_face(db: str, face) -> None:
    """GIFs of the face's emotion, ranked by how well their emotions match the face's scores."""
    if not need_corpus(db):
        return
    from gifemo.recommender.ranking import Filters

    recommender = current_recommender(db, DEFAULT_TEXT_MODEL)
    if recommender is None:
        return
    show_suggestions(recommender.suggest_for_face(face.scores, k=8, filters=Filters([face.emotion])), recommender)


def page_tag(db: str) -> None:
    st.header("Tag GIFs")
    if not db:
        st.info("Choose a corpus (`.db`) in the sidebar: uploads are tagged into it. A new name makes a new corpus.")
        return
    uploads = st.file_uploader(f"Upload GIFs (at most {MAX_UPLOAD_MB} MB each); they are added to the corpus",
                               type=["gif"], accept_multiple_files=True)
    shown: list[tuple[str, object]] = []  # (name, record)
    for upload in uploads or []:
        if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
            st.error(f"{upload.name} is larger than {MAX_UPLOAD_MB} MB")
            continue
        record = add_to_corpus(db, upload.name, upload.getvalue())
        if record is not None:
            shown.append((upload.name, record))
    if Path(db).is_file():
        table = corpus_table(db, corpus_changed_at(db))
        picked = st.multiselect("...or pick GIFs of the corpus", table["path"].tolist())
        if picked:
            from gifemo.corpus import Corpus

            with Corpus(db, readonly=True) as corpus:
                by_path = {r.path: r for r in corpus.records()}
            shown += [(Path(p).name, by_path[p]) for p in picked if p in by_path]
    for name, record in shown:
        st.subheader(name)
        show_record(record)


def add_to_corpus(db: str, name: str, data: bytes):
    """The upload tagged into the corpus (kept beside it by content), or None after saying what went wrong."""
    from gifemo.recommender.uploads import UploadError, add_upload

    try:
        record = add_upload(db, name, data, load_tagger())
    except (MissingModelError, UploadError) as exc:
        st.error(str(exc))
        return None
    if record.error:
        st.error(record.error)
        return None
    return record


def min_confidence_slider() -> float:
    return st.slider("Minimum confidence", 0.0, 1.0, 0.0, 0.05, help=f"A tag's confidence is {CONFIDENCE_MEANS}.")


def show_record(record) -> None:
    from gifemo.recommender.vectors import au_name
    from gifemo.show import counted_streams

    path = record.path
    left, right = st.columns(2)
    with left:
        show_gif(path, caption="original")
        emotion_badge(record.emotion)
        st.write(f"decided by **{record.source}**, confidence {record.confidence:.2f} ({CONFIDENCE_MEANS}) · "
                 f"{record.frames} frames · {record.duration:.1f} s · {record.width}x{record.height}")
        st.write(record.reason)
        if record.caption:
            st.write(f"Words in the GIF: **{record.caption}**")
        st.dataframe(pd.DataFrame({"emotion": list(record.scores), "score": list(record.scores.values())}),
                     hide_index=True)
        st.caption(f"Scores: {SCORES_MEAN}.")
        counted = counted_streams(record)
        st.dataframe(pd.DataFrame([{"stream": e["stream"], "answer": e.get("emotion") or "-",
                                    "confidence": round(e["confidence"], 2), "saw": f"{e['coverage']:.0%}",
                                    "counted": e["stream"] in counted, "why": e["reason"]} for e in record.evidence]),
                     hide_index=True)
        if record.top_aus:
            st.write("Action units: " + ", ".join(f"{n} ({au_name(n)}) {v:.2f}" for n, v in record.top_aus))
        if record.top_actions:
            st.write("Actions: " + ", ".join(f"{n} {p:.2f}" for n, p in record.top_actions))
    with right:
        annotated = annotated_gif(record.sha256, path)
        if isinstance(annotated, bytes):
            st.image(annotated, caption="annotated", width="stretch")
        else:
            st.warning(annotated)
    if any(point.get("scores") for point in record.timeline):
        st.write("Emotion per frame (gaps: no face in that frame)")
        timeline = pd.DataFrame([{"time (s)": point["time"], **(point.get("scores") or {})}
                                 for point in record.timeline], columns=["time (s)", *EMOTIONS])
        st.line_chart(timeline.set_index("time (s)"))
    else:
        st.caption("No face found, so there is no per-frame timeline.")


@st.cache_data(show_spinner="Drawing the faces...", max_entries=64)
def annotated_gif(sha256: str, _path: str) -> bytes | str:
    """The annotated GIF's bytes, or why it could not be drawn; keyed by content (arguments starting with
    "_" are not hashed), so a rerun of the page does not draw the same GIF again."""
    from gifemo.annotate import annotate_gif

    with tempfile.TemporaryDirectory(prefix="gifemo-annotated-") as folder:
        out = Path(folder) / "annotated.gif"
        try:
            annotate_gif(_path, out, face_stream=dict((e.name, s) for e, s in load_tagger().streams)["face"])
        except Exception as exc:  # the tags above are still worth seeing
            return f"could not annotate: {exc}"
        return out.read_bytes()


def page_browse(db: str) -> None:
    st.header("Browse the corpus")
    if not need_corpus(db):
        return
    table = corpus_table(db, corpus_changed_at(db))
    failed = int(table["error"].notna().sum())
    table = table[table["error"].isna()]
    emotions = st.multiselect("Emotion", [*EMOTIONS, "none"])
    sources = st.multiselect("Decided by", SOURCES)
    min_confidence = min_confidence_slider()
    shown = table[table["confidence"].fillna(0) >= min_confidence]
    if emotions:
        shown = shown[shown["emotion"].isin(emotions)]
    if sources:
        shown = shown[shown["source"].isin(sources)]
    st.write(f"**{len(shown)}** of {len(table)} tagged GIFs ({failed} failed files not shown)")
    counts = pd.DataFrame({"emotion": shown["emotion"].value_counts(),
                           "all": table["emotion"].value_counts()}).fillna(0).astype(int)
    left, right = st.columns(2)
    left.dataframe(counts.rename(columns={"emotion": "shown"}))
    right.dataframe(shown["source"].value_counts().rename("shown").to_frame())
    per_page = GRID_COLUMNS * 4
    pages = max(1, -(-len(shown) // per_page))
    page = st.number_input("Page", 1, pages, 1) if pages > 1 else 1
    rows = shown.iloc[(page - 1) * per_page: page * per_page]
    for start in range(0, len(rows), GRID_COLUMNS):
        for column, (_, row) in zip(st.columns(GRID_COLUMNS), rows.iloc[start:start + GRID_COLUMNS].iterrows()):
            with column:
                show_gif(row["path"])
                emotion_badge(None if row["emotion"] == "none" else row["emotion"])
                words = f" · “{row['caption']}”" if row["caption"] else ""
                st.caption(f"{row['source']}, confidence {row['confidence']:.2f} · {Path(row['path']).name}{words}")


def page_evaluation(report_path: str) -> None:
    st.header("Evaluation")
    st.caption("A report written by `gifemo evaluate DATASET --json REPORT.json`.")
    upload = st.file_uploader("...or upload a report", type=["json"])
    if upload is not None:
        report = json.loads(upload.getvalue())
    elif report_path and Path(report_path).is_file():
        report = json.loads(Path(report_path).read_text())
    else:
        st.info("Choose a report JSON in the sidebar or upload one.")
        return
    labels = report["labels"]
    baseline = report.get("baseline_majority")
    a, b, c, d, e = st.columns(5)
    a.metric("Accuracy", f"{report['accuracy']:.3f}")
    b.metric("Macro-F1", f"{report['macro_f1']:.3f}")
    c.metric("Files", report.get("n", sum(map(sum, report["confusion_matrix"]))))
    if "coverage" in report:
        d.metric("Coverage", f"{report['coverage']:.3f}", help="share of files given an emotion (the rest abstained)")
    if baseline:
        e.metric(f"Always '{baseline['emotion']}'", f"{baseline['accuracy']:.3f}",
                 help="accuracy of answering the most common label every time")
    coverage = report.get("coverage_by_source")
    if isinstance(coverage, dict):
        st.write("Decided by: " + ", ".join(f"{k} {v}" for k, v in coverage.items()))
    if "abstained" in report:
        from gifemo.evaluate import format_report

        with st.expander("The report as `gifemo evaluate` prints it", expanded=False):
            st.code(format_report(report), language=None)
    st.subheader("Per class")
    st.dataframe(pd.DataFrame(report["per_class"]).T)
    if report.get("ablation"):
        st.subheader("Each stream alone, and each way of deciding")
        st.dataframe(pd.DataFrame({name: {k: v for k, v in m.items() if not isinstance(v, (dict, list))}
                                   for name, m in report["ablation"].items()}).T)
    st.subheader("Confusion matrix (rows: true emotion)")
    from gifemo.plots import plot_confusion

    with tempfile.TemporaryDirectory(prefix="gifemo-report-") as folder:
        png = Path(folder) / "confusion.png"
        plot_confusion(report["confusion_matrix"], labels, png)
        st.image(png.read_bytes())
    confusion = pd.DataFrame(report["confusion_matrix"], index=labels,
                             columns=labels[:len(report["confusion_matrix"][0])])
    if "abstained" in report:
        confusion["abstained"] = [report["abstained"].get(label, 0) for label in labels]
    st.dataframe(confusion)


def main() -> None:
    st.set_page_config(page_title="gifemo", page_icon=EMOJI["happiness"], layout="wide")
    st.sidebar.title("gifemo")
    page = st.sidebar.radio("Page", PAGES)
    from gifemo.recommender.recent import last_corpus, remember_corpus

    db = st.sidebar.text_input("Corpus (.db)", os.environ.get("GIFEMO_DB") or str(last_corpus(RUNTIME) or ""))
    if db and Path(db).is_file():
        remember_corpus(db, RUNTIME)
    if page == "Suggest":
        page_suggest(db)
    elif page == "Camera":
        page_camera(db)
    elif page == "Tag":
        page_tag(db)
    elif page == "Browse":
        page_browse(db)
    else:
        page_evaluation(st.sidebar.text_input("Evaluation report (.json)", os.environ.get("GIFEMO_REPORT", "")))


main()
