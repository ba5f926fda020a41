"""Text preprocessing for the emotion models: normalise, tokenise (NLTK TweetTokenizer), map to ids.

Everything here works without NLTK data files: TweetTokenizer and PorterStemmer need none. Only
the optional stop-word removal reads `corpora/stopwords` from $NLTK_DATA (off by default: it did
not help on the validation splits, see data/weights/README.md).
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from nltk import redos
from nltk.stem import PorterStemmer
from nltk.tokenize import TweetTokenizer, casual

URL_TOKEN = "<url>"
USER_TOKEN = "<user>"
PAD, UNK = "<pad>", "<unk>"

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
# GoEmotions replaces names with [NAME] and religions with [RELIGION]; keep them one word.
_PLACEHOLDER = re.compile(r"\[(NAME|RELIGION)\]")

# Emoticons mean the same as the emoji they imitate; map both to the same words.
EMOTICONS: dict[str, str] = {
    ":)": "smiling face happy", ":-)": "smiling face happy", "(:": "smiling face happy", ":]": "smiling face happy",
    "=)": "smiling face happy", ":d": "grinning face laughing", ":-d": "grinning face laughing",
    "xd": "grinning face laughing", "x-d": "grinning face laughing", ";)": "winking face", ";-)": "winking face",
    ":p": "face with tongue", ":-p": "face with tongue", ":(": "frowning face sad", ":-(": "frowning face sad",
    "):": "frowning face sad", ":[": "frowning face sad", "=(": "frowning face sad", ":'(": "crying face sad",
    ":o": "face with open mouth surprised", ":-o": "face with open mouth surprised", ":/": "confused face",
    ":-/": "confused face", ":|": "neutral face", ":-|": "neutral face", ">:(": "angry face angry",
    "d:": "anguished face scared", "<3": "heart love", "</3": "broken heart sad",
}

# Unicode names of emoji ("pouting face") rarely occur in the training text; the most common
# emotional emoji also get the plain word the corpora use for that feeling.
EMOJI_FEELINGS: dict[str, str] = {
    **dict.fromkeys("😀😁😃😄😆😊🙂☺🥳🎉👍😎", "happy"),
    **dict.fromkeys("😂🤣😹", "laughing"),
    **dict.fromkeys("❤♥💕💖💗💘💞😍🥰😘😻", "love"),
    **dict.fromkeys("😢😞😔☹🙁💔😿😥😓😩😫", "sad"),
    **dict.fromkeys("😭", "crying"),
    **dict.fromkeys("😡😠🤬👿💢😤", "angry"),
    **dict.fromkeys("😱😨😰😧🙀", "scared"),
    **dict.fromkeys("😮😲😯🤯😳", "shocked"),
    **dict.fromkeys("🤢🤮", "disgusted"),
    **dict.fromkeys("🙄😒", "annoyed"),
}

# Interjections of disgust are common in chat and rare in the training corpora (22 GoEmotions train rows, half
# labelled disgust), so the BiLSTM never learnt them: like the emoji above, they also get the plain word.
INTERJECTION_FEELINGS: dict[str, str] = dict.fromkeys(("ew", "eww", "ewww", "yuck", "yuk", "ick", "icky", "blech"),
                                                       "disgusting")

# Negations carry the meaning of "not happy"; these contractions become "<stem> not".
_NEGATED = {"can't": "can", "cant": "can", "won't": "will", "wont": "will", "ain't": "is", "aint": "is",
            "dont": "do", "didnt": "did", "doesnt": "does", "isnt": "is", "wasnt": "was", "arent": "are",
            "werent": "were", "couldnt": "could", "wouldnt": "would", "shouldnt": "should", "havent": "have",
            "hasnt": "has", "hadnt": "had", "mustnt": "must", "neednt": "need"}
NEGATIONS = frozenset({"not", "no", "never", "nor", "nothing", "nobody", "none", "neither", "nowhere", "without"})


@dataclass(frozen=True)
class PreprocessOptions:
    lowercase: bool = True
    reduce_elongation: bool = True  # "soooooo" -> "sooo" (TweetTokenizer reduce_len)
    emoji_to_words: bool = True
    split_negations: bool = True
    remove_stopwords: bool = False  # never removes negations
    stem: bool = False
    max_tokens: int = 256  # longer texts are cut: the rest rarely changes the emotion and costs time


def emoji_words(char: str) -> str | None:
    """'😂' -> 'face with tears of joy laughing'; None for characters that are not pictographs."""
    if unicodedata.category(char) != "So" or ord(char) < 0x2190:
        return None
    name = unicodedata.name(char, "").lower()
    return " ".join(filter(None, [name, EMOJI_FEELINGS.get(char)])) or None


def _is_emoji_glue(char: str) -> bool:
    # Zero-width joiner, variation selectors and skin-tone modifiers add nothing to the meaning.
    return char in "\u200d\ufe0e\ufe0f" or 0x1F3FB <= ord(char) <= 0x1F3FF


@lru_cache(maxsize=1024)
def normalize(text: str, options: PreprocessOptions = PreprocessOptions()) -> str:
    """Unicode-normalised text with URLs/handles replaced and emoji spelled out as words. Cached: a message
    being answered is normalised for each text model and for its embedding."""
    text = unicodedata.normalize("NFC", text).replace("\u2019", "'").replace("\u2018", "'")
    text = _URL.sub(f" {URL_TOKEN} ", text)
    text = _HANDLE.sub(f" {USER_TOKEN} ", text)
    text = _PLACEHOLDER.sub(lambda m: f" <{m.group(1).lower()}> ", text)
    if options.emoji_to_words and not text.isascii():  # emoji and their glue are never ASCII
        pieces = []
        for char in text:
            if _is_emoji_glue(char):
                continue
            words = emoji_words(char)
            pieces.append(f" {words} " if words else char)
        text = "".join(pieces)
    return text


# NLTK's TweetTokenizer.tokenize (strip_handles off, phone numbers on) step for step, on its own compiled
# patterns, without three costs that were most of a message's tokenising: its reduce_lengthening compiles the
# pattern on every call, lower-casing looks every word up in the emoticon pattern (to keep ":D" from becoming
# ":d"), and every match runs under a time limit whose clock checks make the matching 1.4-1.8 times slower. The
# limit guards against the word pattern's quadratic time on long runs of digits, so texts long enough to need it
# keep it (5,000 digits take under 0.1 s).
_WORDS = TweetTokenizer().PHONE_WORD_RE
_LENGTHENING = re.compile(r"(.)\1{2,}")  # reduce_lengthening's pattern
_UNTIMED_CHARS = 5000


def tweet_words(text: str, lowercase: bool, reduce_len: bool) -> list[str]:
    """The words of TweetTokenizer(preserve_case=not lowercase, reduce_len=reduce_len).tokenize(text)."""
    if "&" in text:  # HTML entities
        text = casual._replace_html_entities(text)
    if reduce_len:
        text = _LENGTHENING.sub(r"\1\1\1", text)
    timeout = None if len(text) <= _UNTIMED_CHARS else redos.DEFAULT_TIMEOUT
    words = _WORDS.findall(casual.HANG_RE.sub(r"\1\1\1", text, timeout=timeout), timeout=timeout)
    if lowercase:
        # Only a word that lower-casing changes needs the emoticon check.
        words = [w if (low := w.lower()) == w or casual.EMOTICON_RE.search(w) else low for w in words]
    return words


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from nltk.corpus import stopwords

    try:
        words = stopwords.words("english")
    except LookupError as exc:
        raise LookupError("stop-word removal needs the NLTK 'stopwords' corpus; set NLTK_DATA to a folder "
                          "that has corpora/stopwords (e.g. ../shared/data/nltk_data)") from exc
    return frozenset(words) - NEGATIONS - {"nor", "against"}


_stemmer = PorterStemmer()


def tokenize(text: str, options: PreprocessOptions = PreprocessOptions()) -> list[str]:
    """Words, emoticons (as words), hashtag words, <url>/<user> markers and negations of one message."""
    tokens: list[str] = []
    for token in tweet_words(normalize(text, options), options.lowercase, options.reduce_elongation):
        key = token.lower()
        if key in EMOTICONS:
            tokens.extend(EMOTICONS[key].split())
        elif key in INTERJECTION_FEELINGS:
            tokens.extend([token, INTERJECTION_FEELINGS[key]])
        elif token.startswith("#") and len(token) > 1:
            tokens.append(token[1:])  # "#blessed" means "blessed"
        elif options.split_negations and (key in _NEGATED or key.endswith("n't")):
            tokens.extend([_NEGATED.get(key, key[:-3]), "not"])
        else:
            tokens.append(token)
    if options.remove_stopwords:
        stop = _stopwords()
        tokens = [t for t in tokens if t not in stop]
    if options.stem:
        tokens = [t if t.startswith("<") else _stemmer.stem(t) for t in tokens]
    return tokens[: options.max_tokens]


class Vocabulary:
    """Token <-> id map; id 0 is padding, id 1 stands for every unknown token."""

    def __init__(self, tokens: Sequence[str]):
        self.tokens = list(tokens)
        if self.tokens[:2] != [PAD, UNK]:
            raise ValueError("a vocabulary starts with the padding and unknown tokens")
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, tokenized: Iterable[Sequence[str]], max_size: int, min_count: int = 2) -> "Vocabulary":
        counts = Counter(token for tokens in tokenized for token in tokens)
        frequent = [t for t, c in counts.most_common(max_size - 2) if c >= min_count]
        return cls([PAD, UNK, *frequent])

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.index.get(token, 1) for token in tokens]
