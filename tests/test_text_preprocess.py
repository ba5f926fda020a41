"""Tokenisation edge cases: emoji, emoticons, handles, URLs, negations, empty, very long, non-English."""
import random
import time
from pathlib import Path

import nltk
import pytest
from nltk.tokenize import TweetTokenizer

from gifemo.text import data
from gifemo.text.preprocess import (PAD, UNK, URL_TOKEN, USER_TOKEN, PreprocessOptions, Vocabulary, normalize,
                                    tokenize, tweet_words)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def test_emoji_become_words_and_modifiers_vanish():
    tokens = tokenize("best day ever 😂😂 👍🏽 ❤️")
    assert tokens[:3] == ["best", "day", "ever"]
    assert tokens.count("joy") == 2 and tokens.count("tears") == 2
    assert tokens.count("laughing") == 2  # the plain word the corpora use for this emoji
    assert "thumbs" in tokens and "heart" in tokens
    # Skin-tone modifier, variation selector and ZWJ carry no emotion and leave no token.
    assert not any("\U0001F3FD" in t or "\ufe0f" in t or "\u200d" in t for t in tokens)
    assert "fitzpatrick" not in " ".join(tokens)


def test_emoticons_mean_the_same_as_emoji():
    assert tokenize("ok :)") == ["ok", "smiling", "face", "happy"]
    assert tokenize("ok :(")[-3:] == ["frowning", "face", "sad"]
    assert tokenize("<3")[-1] == tokenize("❤️")[-1] == "love"
    assert tokenize(":'(")[-1] == "sad" and tokenize("😭")[-1] == "crying"


def test_disgust_interjections_also_get_the_plain_word():
    assert tokenize("Ew, moldy sandwich") == ["ew", "disgusting", ",", "moldy", "sandwich"]
    assert tokenize("ewwwwww")[-1] == tokenize("YUCK!")[-2] == "disgusting"  # elongated and shouted too
    assert "disgusting" not in tokenize("a new view")  # only the interjection itself, not letters inside words


def test_urls_handles_hashtags_and_elongation():
    tokens = tokenize("@Bob42 look at https://example.com/a?b=1 #Blessed soooooo HAPPYYYYY!!!")
    assert tokens[0] == USER_TOKEN and URL_TOKEN in tokens
    assert "blessed" in tokens and "#blessed" not in tokens
    assert "sooo" in tokens and "happyyy" in tokens
    assert "example" not in " ".join(tokens)
    # An e-mail address is not a handle.
    assert USER_TOKEN not in tokenize("write to me@example.com")


def test_negations_are_kept_and_split():
    assert tokenize("I didn't like it") == ["i", "did", "not", "like", "it"]
    assert tokenize("i dont feel good") == ["i", "do", "not", "feel", "good"]
    assert tokenize("can’t stop") == ["can", "not", "stop"]  # curly apostrophe


def test_empty_and_whitespace_give_no_tokens():
    for text in ["", "   ", "\n\t", "\u200d\ufe0f"]:
        assert tokenize(text) == []
        assert normalize(text).strip() == ""


def test_very_long_text_is_cut_and_fast():
    text = "so happy " * 50_000
    started = time.perf_counter()
    tokens = tokenize(text)
    assert len(tokens) == PreprocessOptions().max_tokens
    assert time.perf_counter() - started < 10


def test_non_english_text_keeps_its_words():
    tokens = tokenize("C'est GÉNIAL! Привет мир 日本語が好き مرحبا")
    assert "génial" in tokens and "привет" in tokens and "мир" in tokens
    assert any("日本語" in t for t in tokens) and "مرحبا" in tokens


def test_stopwords_from_nltk_data_keep_negations(monkeypatch):
    nltk_data = SHARED / "data" / "nltk_data"
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    monkeypatch.setattr(nltk.data, "path", [str(nltk_data), *nltk.data.path])
    tokens = tokenize("I am not at all happy with the result", PreprocessOptions(remove_stopwords=True))
    assert tokens == ["not", "happy", "result"]


def test_stemming_leaves_markers_alone():
    assert tokenize("@ann loving puppies", PreprocessOptions(stem=True)) == [USER_TOKEN, "love", "puppi"]


def test_vocabulary_maps_unknown_words_to_one():
    vocab = Vocabulary.build([["a", "b", "a"], ["a", "c", "b"]], max_size=10, min_count=2)
    assert vocab.tokens == [PAD, UNK, "a", "b"]
    assert vocab.encode(["b", "zzz", "a"]) == [3, 1, 2]
    with pytest.raises(ValueError):
        Vocabulary(["a", "b"])


# What TweetTokenizer treats specially: emoticons in both cases, elongations, HTML entities (named, numeric, the
# cp1252 range, unknown), runs of punctuation, phone numbers, URLs, handles, hashtags, emoji, other scripts.
PIECES = [*"abcXYZ019 .,!?'\"-_:;()[]<>/\\&#@*=+^|~$%\n\t", ":)", ":D", ":-P", "XD", ":'(", "D:", "<3", "&amp;",
          "&#39;", "&lt;", "&#150;", "&bogus;", "&#x1F602;", "😂", "👍🏽", "\u200d", "é", "Ü", "ß", "Я", "中", "Ǆ",
          "http://a.b/C", "www.x.co", "@Ann", "#Tag", "n't", "SOOOO", "Hmmmm", "ewww", "[NAME]", "...", "!!!!!",
          "555-123-4567", "\u2019", "🇫🇷"]
HOSTILE = ["", " ", "\n\t", "😂😂😂", "👩\u200d👩\u200d👧", "a" * 5000, "!" * 5000, "😂" * 3000, "ha " * 2000,
           "1" * 600, "Привет мир こんにちは مرحبا hello", "I LOVE IT :D :-P XD </3 >:(", "&amp;&lt;3&#99999999;&#xZZ;",
           "\x00\x01 control \u202e", "ＦＵＬＬＷＩＤＴＨ"]


@pytest.fixture(scope="module")
def tokenizer_texts() -> list[str]:
    """Generated and hostile strings, and (where ../shared is beside the checkout) real messages of both corpora."""
    rng = random.Random(0)
    generated = ["".join(rng.choices(PIECES, k=rng.randint(1, 40))) for _ in range(300)]
    texts = [*generated, *map(normalize, generated), *HOSTILE]
    if SHARED.is_dir():
        for corpus in data.CORPORA:
            texts += rng.sample(data.read_split(SHARED / "data", corpus, "val").texts, 400)
    return texts


@pytest.mark.parametrize("lowercase,reduce_len", [(True, True), (True, False), (False, True), (False, False)])
def test_tweet_words_are_nltks_tweet_tokenizer(tokenizer_texts, lowercase, reduce_len):
    nltk_tokenizer = TweetTokenizer(preserve_case=not lowercase, reduce_len=reduce_len, strip_handles=False)
    for text in tokenizer_texts:
        assert tweet_words(text, lowercase, reduce_len) == nltk_tokenizer.tokenize(text), text
