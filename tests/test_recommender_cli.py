"""`gifemo suggest` on a real tagged corpus (a few gifs_dev files, tagged by the real pipeline)."""
import json
import os
import shutil
import subprocess

import pytest
import torch

from app_corpus import build_app_corpus
from gifemo.cli import main
from gifemo.corpus import Corpus
from gifemo.recommender import vectors
from gifemo.recommender.index import index_dir


@pytest.fixture(scope="module")
def db(gifs_dev, models_dir, runtime, tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("GIFEMO_MODELS_DIR", str(models_dir))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield build_app_corpus(gifs_dev, runtime, tmp_path_factory.getbasetemp() / "app_corpus")[0]
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def suggest(capsys, *args) -> list[dict]:
    assert main(["suggest", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_suggest_json(db, capsys):
    with Corpus(db) as corpus:  # failed files and GIFs with neither emotion nor tag words are never suggested
        good = {r.path: r for r in corpus.records(include_errors=False) if r.emotion or vectors.tag_terms(r)}
    results = suggest(capsys, "I'm so happy today, let's dance!", "--db", str(db), "-k", "5")
    assert 1 <= len(results) <= min(5, len(good))  # fewer when fewer fit
    assert all(set(r) == {"path", "sha256", "score", "emotion", "confidence", "source", "caption", "why"}
               for r in results)
    assert all(r["path"] in good and r["emotion"] == good[r["path"]].emotion for r in results)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert len({r["path"] for r in results}) == len(results)
    assert index_dir(db).is_dir()  # the index now lives beside the corpus


def test_suggest_text_names_its_numbers(db, capsys):
    assert main(["suggest", "I'm so happy today, let's dance!", "--db", str(db), "-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("message reads: happiness ")
    first = next(i for i, line in enumerate(lines) if line.startswith(" 1."))   # after a note, if any
    assert lines[first].startswith(" 1. match 0.") and "% sure)" in lines[first + 1]


def test_suggest_filters_and_text_models(db, capsys):
    with Corpus(db) as corpus:
        records = list(corpus.records(include_errors=False))
    emotion = next(r.emotion for r in records if r.emotion)
    said = {"anger": "I am so angry at them", "disgust": "ew, that is disgusting", "fear": "that was terrifying",
            "happiness": "I'm so happy today", "sadness": "I miss her so much, so sad", "surprise": "wow, I'm shocked",
            "neutral": "the meeting is at 3pm"}[emotion]
    for model in ("bilstm", "minilm"):
        results = suggest(capsys, said, "--db", str(db), "--emotion", emotion, "--text-model", model)
        assert results and {r["emotion"] for r in results} == {emotion}
    assert suggest(capsys, "hello", "--db", str(db), "--min-confidence", "1.01") == []


def test_suggest_refuses_what_it_cannot_answer(db, tmp_path, capsys):
    assert main(["suggest", "hi", "--db", str(tmp_path / "nothing.db")]) == 1
    assert "no corpus at" in capsys.readouterr().err
    assert not (tmp_path / "nothing.db").exists()
    assert main(["suggest", " \n ", "--db", str(db)]) == 2
    assert "the message is empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["suggest", "hi", "--db", str(db), "-k", "0"])
    # a huge message is still answered (the text models truncate it), and one that is not valid UTF-8
    assert 1 <= len(suggest(capsys, "so angry!!! " * 5000, "--db", str(db), "-k", "2")) <= 2
    assert 1 <= len(suggest(capsys, os.fsdecode(b"\xff happy"), "--db", str(db), "-k", "2")) <= 2


def test_suggest_input_file_gives_one_json_line_per_message(db, tmp_path, capsys):
    messages = tmp_path / "messages.txt"
    messages.write_text("so angry right now\n\nmy grandmother passed away last night\nbest day ever!\n"
                        "no puedo creer que se haya ido, estoy muy triste\n")
    assert main(["suggest", "--input", str(messages), "--db", str(db), "-k", "3"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["message"] for line in lines] == ["so angry right now", "my grandmother passed away last night",
                                                   "best day ever!", "no puedo creer que se haya ido, estoy muy triste"]
    assert lines[3]["note"].startswith("language not supported (this looks spanish")
    assert not any("language" in line["note"] for line in lines[:3])
    assert all(len(line["suggestions"]) <= 3 and isinstance(line["note"], str) for line in lines)
    assert all(s["emotion"] != "happiness" for s in lines[1]["suggestions"])  # never laughter for grief
    assert main(["suggest", "--input", str(tmp_path / "missing.txt"), "--db", str(db)]) == 1
    assert "no message file" in capsys.readouterr().err
    assert main(["suggest", "hi", "--input", str(messages), "--db", str(db)]) == 2


def test_suggest_reads_a_corpus_on_a_read_only_disk(db, tmpfs, capsys):
    shutil.copy(db, tmpfs / "corpus.db")   # without its index: suggest builds it in memory
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    assert 1 <= len(suggest(capsys, "I'm so happy today", "--db", str(tmpfs / "corpus.db"), "-k", "2")) <= 2
    assert not index_dir(tmpfs / "corpus.db").exists()
