"""Ranking, filters, diversity and the index beside the corpus, on corpora of records whose scores the
test sets (the tagger is tested elsewhere); tag texts are embedded by the real MiniLM."""
import numpy as np
import pytest
import torch

from gifemo.corpus import Corpus, GifRecord
from gifemo.emotions import EMOTIONS, scores_dict
from gifemo.recommender import index as index_mod
from gifemo.recommender import vectors
from gifemo.config import SEMANTIC_DIM, IndexOptions, RankingOptions, Runtime
from gifemo.recommender.index import GifIndex, build_index, index_dir, open_index
from gifemo.recommender.ranking import FORBIDDEN, Filters, rank
from gifemo.recommender.vectors import EMOTION_ADJECTIVES


def peaked(emotion: str, strength: float = 0.8) -> dict:
    rest = (1 - strength) / (len(EMOTIONS) - 1)
    return scores_dict([strength if e == emotion else rest for e in EMOTIONS])


def record(name: str, emotion, strength=0.8, source="face", frames=10, width=200, height=150, duration=1.0,
           error=None, actions=(), aus=()) -> GifRecord:
    # What the streams saw goes in their Evidence details, where the tagger puts it.
    evidence = [{"stream": "face", "scores": {}, "details": {"top_aus": [list(a) for a in aus]}},
                {"stream": "action", "scores": {}, "details": {"top_actions": [list(a) for a in actions]}}]
    return GifRecord(sha256=name, path=f"/gifs/{name}.gif", frames=frames, width=width, height=height,
                     duration=duration, emotion=None if source == "none" else emotion, confidence=strength,
                     source=source, scores={} if source == "none" else peaked(emotion, strength),
                     evidence=evidence, error=error)


@pytest.fixture(scope="module")
def md(runtime) -> Runtime:
    # One thread: MiniLM on a few short texts is fastest so, and other jobs may share the CPU.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield runtime
    torch.set_num_threads(threads)


def message(text: str, md: Runtime, emotion=None, strength=0.82):  # the rest 0.03 each: below forbid_from
    scores = peaked(emotion, strength) if emotion else scores_dict([1] * len(EMOTIONS))
    return scores, vectors.encode([text], md)[0]


def test_name_words_and_au_names():
    assert vectors.name_words("/x/Happiness/funnyCatDance_2019-final.gif") == ["funny", "cat", "dance"]
    assert vectors.name_words("/x/59048b06e7b1.gif") == []
    assert vectors.au_name("AU12") == "lip corner puller"
    assert vectors.au_name("AU06_cheek_raiser") == "cheek raiser"
    assert vectors.au_name("mouthSmileLeft") == "mouth smile left"
    terms = vectors.tag_terms(record("tap_dance", "happiness", actions=[("tap dancing", 0.6), ("noise", 0.01)],
                                     aus=[("AU12", 0.9)]))
    assert terms == ["happy, joy", "tap dancing", "lip corner puller", "tap dance"]


def test_message_emotion_ranks_gifs_of_that_emotion_first(md):
    records = [record(f"g{e}{i}", e, 0.6 + 0.1 * i, frames=10 + i) for e in EMOTIONS for i in range(3)]
    index = build_index(records, md)
    for emotion in ("sadness", "anger", "surprise"):
        results = rank(index, *message("some words", md, emotion), k=3)
        assert [r.emotion for r in results] == [emotion] * 3
        # the most confidently tagged GIF of that emotion comes first
        assert results[0].path == f"/gifs/g{emotion}2.gif"
        assert results[0].score >= results[1].score >= results[2].score
        assert f"tagged {EMOTION_ADJECTIVES[emotion]} (80% sure)" in results[0].why


def test_words_of_the_message_find_gifs_whose_tags_say_them(md):
    records = [record(name, "happiness", 0.8, frames=10 + i)
               for i, name in enumerate(["birthday_cake", "cat_sleeping", "office_meeting", "waving_hello"])]
    records.append(record("party", "happiness", 0.8, frames=30, actions=[("dancing ballet", 0.5)]))
    records.append(record("sad_dance", "sadness", 0.8, frames=31, actions=[("tap dancing", 0.7)]))
    index = build_index(records, md)
    results = rank(index, *message("let's dance all night", md, "happiness"), k=3)
    assert results[0].path == "/gifs/party.gif"
    assert "dancing ballet" in results[0].matched_terms and "'dancing ballet'" in results[0].why
    # with a neutral message reading, the dance GIFs outrank all others
    top2 = {r.path for r in rank(index, *message("let's dance all night", md, "neutral"), k=2)}
    assert top2 == {"/gifs/party.gif", "/gifs/sad_dance.gif"}
    # a GIF no stream could read is still found by the words of its name
    index = build_index(records + [record("dancing_cat", None, source="none", frames=32)], md)
    found = rank(index, *message("a cat dancing", md), k=1)[0]
    assert found.path == "/gifs/dancing_cat.gif" and "found by its words" in found.why


def test_filters(md):
    records = [record(f"f{i}", e, s, source=src, frames=i)
               for i, (e, s, src) in enumerate([("happiness", 0.9, "face"), ("happiness", 0.4, "face"),
                                                 ("happiness", 0.7, "action"), ("sadness", 0.9, "face"),
                                                 (None, 0.0, "none")])]
    index = build_index(records, md)
    query = message("great news", md, "happiness")
    assert {r.emotion for r in rank(index, *message("so sad", md, "sadness"), k=5,
                                    filters=Filters(emotions=["sadness"]))} == {"sadness"}
    # a filter that leaves only GIFs that do not fit the message: nothing, and a note that says so
    misfit = rank(index, *query, k=5, filters=Filters(emotions=["sadness"]))
    assert misfit == [] and misfit.note == "no GIF in the corpus fits this message"
    # (the confident sad GIF passes the filter but does not fit a happy message)
    assert [r.path for r in rank(index, *query, k=5, filters=Filters(min_confidence=0.8))] == ["/gifs/f0.gif"]
    assert [r.path for r in rank(index, *query, k=5, filters=Filters(sources=["action"]))] == ["/gifs/f2.gif"]
    assert rank(index, *query, k=5, filters=Filters(emotions=["fear"])) == []
    # no filter: the happy GIFs; not the sad one (no fit) nor the undecided one (nothing to match)
    assert len(rank(index, *query, k=5)) == 3 and index.rows["emotion"][4] is None and not index.matchable[4]


def test_failed_files_are_never_suggested(md, tmp_path):
    with Corpus(tmp_path / "c.db") as corpus:
        corpus.put(record("ok", "happiness"))
        corpus.put(record("broken", "happiness", 0.99, error="MediaError: truncated file"))
    index = open_index(tmp_path / "c.db", md)
    assert index.rows["path"] == ["/gifs/ok.gif"]


def test_near_duplicates_are_dropped_and_streams_mixed(md):
    original = record("clip", "happiness", 0.9, frames=24, width=400, height=300, duration=2.4)
    resized = record("clip_small", "happiness", 0.88, frames=24, width=200, height=150, duration=2.4)
    others = [record(f"h{i}", "happiness", 0.85 - 0.01 * i, frames=40 + i) for i in range(4)]
    by_action = record("jump", "happiness", 0.8, source="action", frames=80)
    index = build_index([original, resized, *others, by_action], md)
    results = rank(index, *message("yay", md, "happiness"), k=4)
    paths = [r.path for r in results]
    assert not {"/gifs/clip.gif", "/gifs/clip_small.gif"} <= set(paths)
    assert len(paths) == len(set(paths)) == 4
    assert "/gifs/jump.gif" in paths and {r.source for r in results} == {"face", "action"}
    # without diversity, the four best are face-tagged; the action GIF, nearly as good, takes the last place
    plain = rank(index, *message("yay", md, "happiness"), k=4, options=RankingOptions(diversity=0.0))
    assert plain[-1].path == "/gifs/jump.gif" and {r.source for r in plain} == {"face", "action"}
    # if the other stream's GIF is far worse, it does not get in
    strict = rank(index, *message("yay", md, "happiness"), k=4,
                  options=RankingOptions(diversity=0.0, mix_sources_within=1.01))
    assert "/gifs/jump.gif" not in [r.path for r in strict]


def test_index_lives_beside_the_corpus_and_follows_its_changes(md, tmp_path, monkeypatch):
    db = tmp_path / "corpus.db"
    with Corpus(db) as corpus:
        for i, e in enumerate(EMOTIONS[:4]):
            corpus.put(record(f"r{i}", e, frames=i))
    first = open_index(db, md)
    assert index_dir(db).is_dir() and len(first) == 4 and first.kind == "exact"

    embedded: list[str] = []
    real_encode = vectors.encode
    monkeypatch.setattr(vectors, "encode", lambda texts, *args, **kw: embedded.extend(texts) or real_encode(texts, *args, **kw))
    again = open_index(db, md)  # unchanged corpus: loaded, nothing embedded
    assert embedded == [] and np.array_equal(again.vectors, first.vectors)

    with Corpus(db) as corpus:
        corpus.put(record("night_dancer", "fear", frames=99))
    updated = open_index(db, md)
    assert len(updated) == 5 and "/gifs/night_dancer.gif" in updated.rows["path"]
    assert sorted(embedded) == ["night dancer", "scared, fear; night dancer"]  # only texts and terms not seen before
    assert rank(updated, *message("dancing in fear", md, "fear"), k=1)[0].path == "/gifs/night_dancer.gif"


def test_an_index_saved_with_an_ivf_gets_its_graph_without_re_embedding(md, tmp_path, monkeypatch):
    """An older version saved an IVF index beside the corpus: its vectors are kept, the graph is built from
    them once and saved, and the IVF file goes."""
    import faiss
    import json

    db = tmp_path / "corpus.db"
    with Corpus(db) as corpus:
        for i, e in enumerate(EMOTIONS):
            corpus.put(record(f"r{i}", e, frames=i))
    options = IndexOptions(approximate_from=5)
    first = open_index(db, md, options)
    folder = index_dir(db)
    quantizer = faiss.IndexFlatIP(first.vectors.shape[1])
    ivf = faiss.IndexIVFFlat(quantizer, first.vectors.shape[1], 2, faiss.METRIC_INNER_PRODUCT)
    ivf.train(first.vectors)
    ivf.add(first.vectors)
    faiss.write_index(ivf, str(folder / "ivf.faiss"))
    (folder / "hnsw.faiss").unlink()
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "kind": "ivf"}))

    happy_message = message("what a wonderful day", md, "happiness")
    monkeypatch.setattr(vectors, "encode", lambda *args, **kw: pytest.fail("nothing is to be embedded again"))
    upgraded = open_index(db, md, options)
    assert upgraded.kind == "hnsw" and np.array_equal(upgraded.vectors, first.vectors)
    assert (folder / "hnsw.faiss").is_file() and not (folder / "ivf.faiss").exists()
    assert GifIndex.load(folder, options).saved_kind == "hnsw"
    assert rank(upgraded, *happy_message, k=1)[0].path == "/gifs/r3.gif"


@pytest.mark.parametrize("kind, options", [("hnsw", IndexOptions(approximate_from=1000)),
                                           ("ivf", IndexOptions(approximate_from=1000, graph_up_to=2000))])
def test_approximate_index_agrees_with_exact_search(md, tmp_path, monkeypatch, kind, options):
    """Both approximate kinds, each chosen by the corpus's size: search, filtered search, save and load."""
    rng = np.random.default_rng(1)
    n = 3000
    vecs = np.zeros((n, vectors.DIM), np.float32)
    vecs[:, :7] = rng.dirichlet([0.3] * 7, n)
    sem = rng.normal(size=(n, SEMANTIC_DIM)).astype(np.float32)
    vecs[:, 7:] = sem / np.linalg.norm(sem, axis=1, keepdims=True)
    rows = {"emotion": [EMOTIONS[int(np.argmax(v[:7]))] for v in vecs], "source": ["face"] * n,
            "confidence": vecs[:, :7].max(1).tolist(), "path": [f"{i}.gif" for i in range(n)]}
    exact = GifIndex(vecs, rows, options=IndexOptions(approximate_from=10 ** 9))
    approx = GifIndex(vecs, rows, options=options)
    assert exact.kind == "exact" and approx.kind == kind
    hits = 0
    for q in vecs[:50] * np.r_[np.ones(7), np.full(384, 0.4)].astype(np.float32):
        hits += approx.search(q, 1)[1][0] == exact.search(q, 1)[1][0]
    assert hits >= 40
    # filtered search through faiss's selector (more rows than the exact-subset path takes)
    monkeypatch.setattr(index_mod, "EXACT_SUBSET_MAX", 10)
    allowed = np.array([e == "anger" for e in rows["emotion"]])
    _, ids = approx.search(vecs[0], 20, allowed)
    assert len(ids) > 0 and all(rows["emotion"][i] == "anger" for i in ids)
    # and the saved graph loads back as it was
    approx.rows.update({k: [0] * n for k in ("frames", "width", "height", "duration")})
    approx.save(tmp_path / "ix")
    loaded = GifIndex.load(tmp_path / "ix", options)
    assert loaded.kind == kind and loaded.saved_kind == kind
    assert np.array_equal(loaded.search(vecs[5], 20)[1], approx.search(vecs[5], 20)[1])
    # loaded with options under which this size gets the other kind: that kind is built from the saved vectors
    other = IndexOptions(approximate_from=1000, graph_up_to=2000 if kind == "hnsw" else 10 ** 9)
    rebuilt = GifIndex.load(tmp_path / "ix", other)
    assert rebuilt.kind != kind and rebuilt.saved_kind == kind and np.array_equal(rebuilt.vectors, approx.vectors)


def test_empty_corpus_and_nothing_asked(md, tmp_path):
    index = open_index(tmp_path / "empty.db", md)
    assert len(index) == 0 and rank(index, *message("hello", md, "happiness"), k=8) == []
    one = build_index([record("a", "anger")], md)
    assert rank(one, *message("so angry", md, "anger"), k=0) == []
    assert len(rank(one, *message("so angry", md, "anger"), k=8)) == 1


def test_fewer_results_rather_than_filler(md):
    records = [record("s1", "sadness", 0.8, frames=11), record("s2", "sadness", 0.7, frames=12),
               record("h1", "surprise", 0.9, frames=13), record("n1", "neutral", 0.9, frames=14)]
    index = build_index(records, md)
    results = rank(index, *message("I miss her so much", md, "sadness"), k=5)
    assert [r.path for r in results] == ["/gifs/s1.gif", "/gifs/s2.gif"]
    assert results.note == "only 2 GIFs fit this message"
    full = rank(index, *message("I miss her so much", md, "sadness"), k=2)
    assert len(full) == 2 and full.note == ""


@pytest.mark.parametrize("feeling", sorted(FORBIDDEN))
def test_no_gif_of_the_opposite_feeling(md, feeling):
    # laughing GIFs, better fits by their words, and a message that reads mostly neutral but partly grieving,
    # angry or frightened: they must not be shown
    words = {"sadness": "grandmother passed away", "anger": "so angry right now", "fear": "terrified of the dark"}
    records = [record(f"{words[feeling]} {i}".replace(" ", "_"), "happiness", 0.95, frames=20 + i) for i in range(3)]
    records.append(record("quiet", "neutral", 0.6, frames=40))
    index = build_index(records, md)
    scores = scores_dict([0.35 if e == "neutral" else 0.2 if e == feeling else 0.09 for e in EMOTIONS])
    results = rank(index, scores, vectors.encode([words[feeling]], md)[0], k=5)
    assert all(r.emotion not in FORBIDDEN[feeling] for r in results) and [r.path for r in results] == ["/gifs/quiet.gif"]
    assert f"left out 3 happy GIFs for a {EMOTION_ADJECTIVES[feeling]} message" in results.note
    # the same GIFs are fine for a happy message
    assert len(rank(index, *message("best day ever", md, "happiness"), k=5)) == 3


def test_a_low_confidence_tag_never_leads(md):
    records = [record("unsure", "fear", 0.05, frames=10), record("sure", "fear", 0.5, frames=11)]
    records[0].scores = peaked("fear", 0.95)  # sharp scores, but the tag is rarely right at this confidence
    index = build_index(records, md)
    results = rank(index, *message("I am scared", md, "fear"), k=2)
    assert [r.path for r in results] == ["/gifs/sure.gif", "/gifs/unsure.gif"]
    alone = rank(build_index(records[:1], md), *message("I am scared", md, "fear"), k=2)
    assert alone == [] and "too uncertainly" in alone.note


def test_cuts_of_one_clip_do_not_fill_the_list(md):
    # five cuts of one clip (same name words, same caption), a bit better scored than three other GIFs
    cuts = [record(f"homer_backs_into_hedge_part{i}", "surprise", 0.9 - 0.001 * i, frames=30 + i, duration=1 + i)
            for i in range(5)]
    for cut in cuts:
        cut.caption = "nope"
    others = [record(name, "surprise", 0.85, frames=60 + i) for i, name in enumerate(["cat_jump", "owl_stare", "kid_gasp"])]
    index = build_index(cuts + others, md)
    results = rank(index, *message("wait what", md, "surprise"), k=5)
    assert sum("homer" in r.path for r in results) <= 2
    plain = rank(index, *message("wait what", md, "surprise"), k=5, options=RankingOptions(diversity=0.0))
    assert sum("homer" in r.path for r in plain) == 5


def test_why_says_what_the_streams_saw_and_the_caption(md):
    old = record("old", "sadness", 0.6, frames=16)  # no Evidence reasons: its one-line reason is used
    old.reason = "sad face in 12 of 16 frames"
    new = record("new", "sadness", 0.7, frames=17)
    new.caption = "I have failed you"
    new.evidence = [
        {"stream": "face", "scores": peaked("sadness"), "confidence": 0.6, "reason": "sad face in 9 of 16 frames"},
        {"stream": "caption", "scores": peaked("sadness"), "confidence": 0.7, "reason": 'caption "I have failed you"'},
        {"stream": "action", "scores": {}, "confidence": 0.0, "reason": "no action recognised"}]
    index = build_index([old, new], md)
    why = {r.path: r.why for r in rank(index, *message("I let everyone down, I failed", md, "sadness"), k=2)}
    assert why["/gifs/old.gif"].startswith("sad face in 12 of 16 frames; tagged sad (60% sure)")
    assert why["/gifs/new.gif"].startswith("sad face in 9 of 16 frames; caption 'I have failed you'; tagged sad")
    assert why["/gifs/new.gif"].count("I have failed you") == 1   # the caption stream's reason quotes it too
    assert "no action" not in why["/gifs/new.gif"]  # an abstaining stream is not a reason


def test_why_leaves_out_the_photo_face_reading_of_a_drawing():
    sticker = record("sticker", "sadness", 0.76)
    face = {"stream": "face", "scores": peaked("fear"), "confidence": 0.9, "reason": "fear face in 16 of 16 frames"}
    sticker.evidence = [face, {"stream": "drawn", "scores": peaked("sadness"), "confidence": 0.7,
                               "reason": "drawn face reads sadness in 6 of 6 frames",
                               "details": {"drawn_probability": 1.0}}]
    # The decision read only the drawn-face model here (gifemo.decision.routed): the why says only what it read.
    assert vectors.reasons(sticker) == ["drawn face reads sadness in 6 of 6 frames"]
    sticker.evidence[1]["details"]["drawn_probability"] = 0.3   # a photograph: both readings count
    assert vectors.reasons(sticker) == ["fear face in 16 of 16 frames", "drawn face reads sadness in 6 of 6 frames"]


def test_a_caption_is_matched_by_meaning(md):
    records = [record(f"c{i}", "neutral", 0.5, frames=10 + i) for i in range(4)]
    records[2].caption = "see you on monday, weekend is here"
    index = build_index(records, md)
    top = rank(index, *message("finally friday, no work for two days", md), k=1)[0]
    assert top.path == "/gifs/c2.gif" and top.caption == records[2].caption


def test_votes_nudge_the_ranking_for_messages_of_that_emotion(md, tmp_path):
    records = [record(f"j{i}", "happiness", 0.8 - 0.01 * i, frames=10 + i) for i in range(4)]
    index = build_index(records, md)
    query = message("yay", md, "happiness")
    assert rank(index, *query, k=1)[0].path == "/gifs/j0.gif"
    liked = {"j3": np.array([0, 0, 0, 2, 0, 0, 0], np.float32)}  # two 👍 on happy messages
    assert rank(index, *query, k=1, feedback=liked)[0].path == "/gifs/j3.gif"
    # votes given on happy messages do not move a sad message's list... which these GIFs do not fit anyway;
    # and a 👎 pushes a GIF down
    disliked = {"j0": np.array([0, 0, 0, -3, 0, 0, 0], np.float32)}
    assert rank(index, *query, k=4, feedback=disliked)[-1].path == "/gifs/j0.gif"
    with Corpus(tmp_path / "c.db") as corpus:
        corpus.add_feedback("j3", "yay", "happiness", 1)
        corpus.add_feedback("j3", "so fun", "happiness", 1)
        corpus.add_feedback("j3", "ugh", "anger", -1)
        assert corpus.feedback_votes() == {"j3": {"happiness": 2, "anger": -1}}
        # the votes table leaves the gifs table's columns alone
        columns = {row["name"] for row in corpus.conn.execute("PRAGMA table_info(gifs)")}
        assert not columns & {"message", "vote", "voted_at"}
        with pytest.raises(ValueError):
            corpus.add_feedback("j3", "yay", "happiness", 5)


def test_word_matches_of_many_gifs_are_each_gifs_own():
    """The rules ask for the best word match of a search's candidates at once; each must be bit for bit what
    the GIF's own product gives (the `why` computes it per GIF), with the emotion words left out."""
    rng = np.random.default_rng(3)
    terms = list(vectors.EMOTION_WORDS.values()) + [f"term {i}" for i in range(40)]
    term_vectors = rng.normal(size=(len(terms), SEMANTIC_DIM)).astype(np.float32)
    term_vectors /= np.linalg.norm(term_vectors, axis=1, keepdims=True)
    n = 70
    term_ids = [rng.choice(len(terms), size=i % 8, replace=False).tolist() for i in range(n)]
    rows = {"emotion": ["happiness"] * n, "source": ["face"] * n, "confidence": [0.5] * n, "term_ids": term_ids}
    index = GifIndex(np.eye(n, vectors.DIM, dtype=np.float32), rows, terms, term_vectors)
    embedding = term_vectors[20] + term_vectors[30]
    ids = rng.permutation(n)[:50]
    emotion_words = set(vectors.EMOTION_WORDS.values())
    for i, best in zip(ids.tolist(), index.best_word_match(ids, embedding)):
        words = [t for t in term_ids[i] if terms[t] not in emotion_words]
        assert index.words_of(i).tolist() == words
        assert best == ((term_vectors[words] @ embedding).max() if words else -np.inf)


def test_huge_pages_leave_the_graph_search_as_it_was():
    rng = np.random.default_rng(4)
    vecs = rng.normal(size=(3000, vectors.DIM)).astype(np.float32)
    graph = index_mod.build_faiss_index(vecs, IndexOptions(approximate_from=1000))
    before = graph.search(vecs[:30], 20)
    index_mod._on_huge_pages(graph)
    after = graph.search(vecs[:30], 20)
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])
