"""gifemo in the browser: suggest GIFs for a message, tag GIFs, browse a tagged corpus, read an evaluation.

Started by `gifemo app [--db CORPUS.db] [--report REPORT.json]`, which passes those as GIFEMO_DB and
GIFEMO_REPORT; both can also be changed in the sidebar.
"""
from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from gifemo.emotions import EMOJI, EMOTIONS
from gifemo.models import MissingModelError

MAX_UPLOAD_MB = 10
SOURCES = ("face", "action", "none")
BADGE_COLORS = {"anger": "red", "disgust": "green", "fear": "violet", "happiness": "orange",
                "sadness": "blue", "surprise": "yellow", "neutral": "gray"}
PAGES = ("Suggest", "Tag", "Browse", "Evaluation")
GRID_COLUMNS = 4
MODELS_DIR = os.environ.get("GIFEMO_MODELS_DIR") or None


# ---------------------------------------------------------------- cached resources
@st.cache_resource(show_spinner="Loading the text model and the corpus index...")
def load_recommender(db: str, text_model: str):
    from gifemo.recommender.suggest import Recommender

    return Recommender(db, text_model=text_model, models_dir=MODELS_DIR)


@st.cache_resource(show_spinner="Loading the face and action models...")
def load_tagger():
    from gifemo.tagger import Tagger

    from gifemo.config import Runtime

    return Tagger(runtime=Runtime(models_dir=MODELS_DIR))


def corpus_changed_at(db: str) -> float:
    from gifemo.corpus import Corpus

    with Corpus(db) as corpus:
        return corpus.changed_at()


@st.cache_data(show_spinner=False)
def corpus_table(db: str, changed_at: float) -> pd.DataFrame:
    """Light columns of every tagged GIF (not the timelines), refreshed when the corpus changes."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        table = pd.read_sql_query("SELECT path, emotion, confidence, source, frames, duration, error FROM gifs "
                                  "ORDER BY path", conn)
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
    text_model = st.sidebar.selectbox("Text model", ["bilstm", "minilm"])
    with st.form("suggest"):
        message = st.text_input("Message", placeholder="let's dance!")
        k = st.slider("How many GIFs", 1, 24, 8)
        with st.expander("Filters"):
            emotions = st.multiselect("GIF emotion", EMOTIONS)
            sources = st.multiselect("Decided by", SOURCES)
            min_confidence = st.slider("Minimum confidence", 0.0, 1.0, 0.0, 0.05)
        submitted = st.form_submit_button("Suggest")
    if not (submitted or message):
        return
    if not message.strip():
        st.warning("Type a message first.")
        return
    from gifemo.recommender.ranking import Filters

    try:
        recommender = load_recommender(db, text_model)
    except MissingModelError as exc:
        st.error(str(exc))
        return
    if recommender.index.corpus_changed_at != corpus_changed_at(db):
        recommender.refresh()
    scores = recommender.message_scores(message)
    st.write("Message reads as: " + ", ".join(f"{EMOJI[e]} {e} {scores[e]:.2f}"
                                              for e in sorted(scores, key=lambda e: -scores[e])[:3]))
    results = recommender.suggest(message, k=k, filters=Filters(emotions, min_confidence, sources))
    if not results:
        st.warning("No GIF in the corpus passes these filters.")
        return
    for row_start in range(0, len(results), GRID_COLUMNS):
        for column, result in zip(st.columns(GRID_COLUMNS), results[row_start:row_start + GRID_COLUMNS]):
            with column:
                show_gif(result.path)
                emotion_badge(result.emotion)
                st.caption(f"score {result.score:.3f} · {Path(result.path).name}")
                st.caption(result.why)


def page_tag(db: str) -> None:
    st.header("Tag GIFs")
    chosen: list[tuple[str, str]] = []  # (name, path on disk)
    uploads = st.file_uploader(f"Upload GIFs (at most {MAX_UPLOAD_MB} MB each)", type=["gif"],
                               accept_multiple_files=True)
    for upload in uploads or []:
        if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
            st.error(f"{upload.name} is larger than {MAX_UPLOAD_MB} MB")
            continue
        folder = Path(tempfile.mkdtemp(prefix="gifemo-upload-"))
        path = folder / Path(upload.name).name
        path.write_bytes(upload.getvalue())
        chosen.append((upload.name, str(path)))
    if db and Path(db).is_file():
        table = corpus_table(db, corpus_changed_at(db))
        picked = st.multiselect("...or pick GIFs of the corpus", table["path"].tolist())
        chosen += [(Path(p).name, p) for p in picked]
    for name, path in chosen:
        st.subheader(name)
        tag_one(path)


def tag_one(path: str) -> None:
    from gifemo.recommender.vectors import au_name

    try:
        record = load_tagger().tag_file(path)
    except MissingModelError as exc:
        st.error(str(exc))
        return
    if record.error:
        st.error(record.error)
        return
    left, right = st.columns(2)
    with left:
        show_gif(path, caption="original")
        emotion_badge(record.emotion)
        st.write(f"decided by **{record.source}**, confidence {record.confidence:.2f} · {record.frames} frames · "
                 f"{record.duration:.1f} s · {record.width}x{record.height}")
        st.dataframe(pd.DataFrame({"emotion": list(record.scores), "score": list(record.scores.values())}),
                     hide_index=True)
        if record.top_aus:
            st.write("Action units: " + ", ".join(f"{n} ({au_name(n)}) {v:.2f}" for n, v in record.top_aus))
        if record.top_actions:
            st.write("Actions: " + ", ".join(f"{n} {p:.2f}" for n, p in record.top_actions))
    with right:
        annotated = annotated_gif(path)
        if annotated:
            show_gif(annotated, caption="annotated")
    if any(point.get("scores") for point in record.timeline):
        st.write("Emotion per frame (gaps: no face in that frame)")
        timeline = pd.DataFrame([{"time (s)": point["time"], **(point.get("scores") or {})}
                                 for point in record.timeline], columns=["time (s)", *EMOTIONS])
        st.line_chart(timeline.set_index("time (s)"))
    else:
        st.caption("No face found, so there is no per-frame timeline.")


def annotated_gif(path: str) -> str | None:
    from gifemo.annotate import annotate_gif

    out = Path(tempfile.mkdtemp(prefix="gifemo-annotated-")) / (Path(path).stem + "-annotated.gif")
    try:
        return str(annotate_gif(path, out, face_stream=load_tagger().face, models_dir=MODELS_DIR))
    except Exception as exc:  # the tags above are still worth seeing
        st.warning(f"could not annotate: {exc}")
        return None


def page_browse(db: str) -> None:
    st.header("Browse the corpus")
    if not need_corpus(db):
        return
    table = corpus_table(db, corpus_changed_at(db))
    failed = int(table["error"].notna().sum())
    table = table[table["error"].isna()]
    emotions = st.multiselect("Emotion", [*EMOTIONS, "none"])
    sources = st.multiselect("Decided by", SOURCES)
    min_confidence = st.slider("Minimum confidence", 0.0, 1.0, 0.0, 0.05)
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
                st.caption(f"{row['source']}, confidence {row['confidence']:.2f} · {Path(row['path']).name}")


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
    a, b, c = st.columns(3)
    a.metric("Accuracy", f"{report['accuracy']:.3f}")
    b.metric("Macro-F1", f"{report['macro_f1']:.3f}")
    c.metric("Files", report.get("n", sum(map(sum, report["confusion_matrix"]))))
    coverage = report.get("coverage_by_source") or report.get("coverage")
    if isinstance(coverage, dict):
        st.write("Decided by: " + ", ".join(f"{k} {v}" for k, v in coverage.items()))
    st.subheader("Per class")
    st.dataframe(pd.DataFrame(report["per_class"]).T)
    if report.get("ablation"):
        st.subheader("Each stream alone, and each way of deciding")
        st.dataframe(pd.DataFrame({name: {k: v for k, v in m.items() if not isinstance(v, (dict, list))}
                                   for name, m in report["ablation"].items()}).T)
    st.subheader("Confusion matrix (rows: true emotion)")
    from gifemo.plots import plot_confusion

    png = Path(tempfile.mkdtemp(prefix="gifemo-report-")) / "confusion.png"
    plot_confusion(report["confusion_matrix"], labels, png)
    st.image(str(png))
    st.dataframe(pd.DataFrame(report["confusion_matrix"], index=labels,
                              columns=labels[:len(report["confusion_matrix"][0])]))


def main() -> None:
    st.set_page_config(page_title="gifemo", page_icon=EMOJI["happiness"], layout="wide")
    st.sidebar.title("gifemo")
    page = st.sidebar.radio("Page", PAGES)
    db = st.sidebar.text_input("Corpus (.db)", os.environ.get("GIFEMO_DB", ""))
    if page == "Suggest":
        page_suggest(db)
    elif page == "Tag":
        page_tag(db)
    elif page == "Browse":
        page_browse(db)
    else:
        page_evaluation(st.sidebar.text_input("Evaluation report (.json)", os.environ.get("GIFEMO_REPORT", "")))


main()
