"""The cheap "can the text models read this?" check, on real messages."""
import json

import pytest

from gifemo.text import language as language_module
from gifemo.text.language import UNREAD_TRUST, hedge, unsupported_language


@pytest.fixture(autouse=True)
def nltk_data(shared_dir, monkeypatch):
    import nltk

    monkeypatch.setattr(nltk.data, "path", [str(shared_dir / "data" / "nltk_data"), *nltk.data.path])
    language_module._stopwords.cache_clear()


@pytest.mark.parametrize("text, language", [
    ("no puedo creer que se haya ido, estoy muy triste", "spanish"),
    ("lo siento mucho, qué pena", "spanish"),
    ("je suis très content de te voir", "french"),
    ("ich bin so wütend auf dich", "german"),
    ("я так рад тебя видеть", "non-Latin script"),
    ("my grandmother passed away last night", None),
    ("meeting moved to 3pm", None),
    ("I love la vida loca", None),       # a borrowed phrase in an English message
    ("lol", None),
])
def test_unsupported_language(text, language):
    assert unsupported_language(text) == language


def test_english_validation_messages_pass(shared_dir):
    tweets = [line.rsplit(";", 1)[0] for line in
              (shared_dir / "data" / "tweet_emotion" / "val.txt").read_text().splitlines()]
    reddit = [line.split("\t")[0] for line in
              (shared_dir / "data" / "goemotions_ekman" / "dev.tsv").read_text(encoding="utf-8").splitlines()]
    assert sum(map(bool, map(unsupported_language, tweets))) <= 0.002 * len(tweets)
    assert sum(map(bool, map(unsupported_language, reddit))) <= 0.002 * len(reddit)


def test_hedged_scores_stay_a_distribution_near_chance():
    scores = hedge({"anger": 0.0, "disgust": 0.0, "fear": 0.0, "happiness": 0.0, "sadness": 0.0, "surprise": 0.0,
                    "neutral": 1.0})
    assert abs(sum(scores.values()) - 1) < 1e-9
    assert scores["neutral"] == pytest.approx(UNREAD_TRUST + (1 - UNREAD_TRUST) / 7)


def test_emotion_command_hedges_and_notes_a_message_it_cannot_read(tmp_path, capsys):
    from gifemo.cli import main

    spanish = "no puedo creer que se haya ido, estoy muy triste"
    assert main(["emotion", spanish, "--text-model", "bilstm"]) == 0
    lines = capsys.readouterr().out.splitlines()
    top = float(lines[1].split()[1])  # "  neutral    0.314": the highest score comes first
    assert top <= UNREAD_TRUST + (1 - UNREAD_TRUST) / 7 + 1e-3  # near chance: an honest "don't know"
    assert lines[-1].startswith("note: language not supported (this looks spanish")
    source = tmp_path / "messages.txt"
    source.write_text(f"so angry right now\n{spanish}\nя так рад тебя видеть\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["emotion", "--input", str(source), "--jsonl", str(out), "--text-model", "bilstm"]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records[0]["note"] == "" and records[0]["emotion"] == "anger" and max(records[0]["scores"].values()) > 0.5
    assert "spanish" in records[1]["note"] and "non-Latin script" in records[2]["note"]
    assert all(max(r["scores"].values()) < 0.35 for r in records[1:])
