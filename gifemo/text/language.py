"""Can the text models read this message? A cheap check: the text models were trained on English only.

A message counts as another language when more of its words are stop words of one of NLTK's other
languages (and not English ones) than English stop words (at least two of them), or when most of its
letters are not Latin. It is a
check, not a language identifier: short or mixed messages pass as English.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Optional

# Languages whose stop-word lists are checked against English's (Latin-script languages: other scripts
# are caught by the letter check).
OTHER_LANGUAGES = ("spanish", "portuguese", "french", "italian", "german", "dutch", "indonesian", "turkish",
                   "romanian", "swedish", "danish", "norwegian", "finnish", "hungarian", "catalan", "slovene")
MIN_FOREIGN_HITS = 2
# What is left of the model's reading of a message it cannot read: the rest is spread evenly (an honest
# "don't know"), so its top emotion stays near chance.
UNREAD_TRUST = 0.2
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _stopwords() -> dict[str, frozenset[str]]:
    from nltk.corpus import stopwords

    out = {}
    for language in ("english", *OTHER_LANGUAGES):
        try:
            out[language] = frozenset(stopwords.words(language))
        except (LookupError, OSError):
            continue  # a smaller NLTK data folder: check the languages it has
    # Words that are also English stop words ("in", "he", "has") say nothing about the language.
    english = out.get("english", frozenset())
    return {language: words if language == "english" else words - english for language, words in out.items()}


def unsupported_language(text: str) -> Optional[str]:
    """The language the message seems to be in when it is not English ("spanish", "non-Latin script"), else None."""
    letters = [] if text.isascii() else [c for c in text if c.isalpha()]  # ASCII letters are Latin
    if letters and sum("LATIN" in unicodedata.name(c, "") for c in letters) < 0.5 * len(letters):
        return "non-Latin script"
    words = {w.lower() for w in WORD.findall(text)}  # distinct: "[NAME] [NAME]" is one word
    lists = _stopwords()
    if "english" not in lists or len(words) < 2:
        return None
    english = len(words & lists["english"])
    hits = {language: len(words & lists[language]) for language in OTHER_LANGUAGES if language in lists}
    language, best = max(hits.items(), key=lambda kv: kv[1], default=(None, 0))
    return language if best >= MIN_FOREIGN_HITS and best > english else None


def hedge(scores: dict[str, float]) -> dict[str, float]:
    """The scores of a message in an unsupported language: mostly even, keeping UNREAD_TRUST of the reading."""
    even = 1.0 / len(scores)
    return {e: UNREAD_TRUST * v + (1 - UNREAD_TRUST) * even for e, v in scores.items()}


def unsupported_note(language: str) -> str:
    """What a person is told about a message in `language` (from `unsupported_language`)."""
    return f"language not supported (this looks {language}; the text models read English): its emotion is a guess"


def honest_reading(text: str, scores: dict[str, float]) -> tuple[dict[str, float], str]:
    """A model's `scores` for `text`, hedged and with a note when the text is in a language it cannot read."""
    language = unsupported_language(text)
    return (hedge(scores), unsupported_note(language)) if language else (scores, "")
