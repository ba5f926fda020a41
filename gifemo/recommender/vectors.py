"""The vector of a tagged GIF: its 7 emotion scores, then a MiniLM embedding of its tag text and caption.

The tag text is what a person would say about the GIF: the emotion, what is happening (top Kinetics
actions), what the face does (AU names) and the words of its file name, so that a message such as
"let's dance" also reaches dancing GIFs, whatever their emotion score. The caption (words written in
the GIF, when the record has one) is embedded on its own and added, so it is matched by meaning.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from ..config import SEMANTIC_DIM, Runtime
from ..corpus import GifRecord
from ..decision import routed
from ..emotions import EMOTIONS, scores_vector
from ..evidence import Evidence
from ..facs.aus import au_names

DIM = len(EMOTIONS) + SEMANTIC_DIM

# How the tag text says each emotion: the adjective people type in messages, then the noun.
EMOTION_WORDS = {
    "anger": "angry, anger", "disgust": "disgusted, disgust", "fear": "scared, fear",
    "happiness": "happy, joy", "sadness": "sad, sadness", "surprise": "surprised, shock",
    "neutral": "calm, neutral",
}

MIN_ACTION_PROB = 0.1   # below this, I3D's top class on a reaction clip is mostly noise
MAX_ACTIONS = 3
MAX_AUS = 4
# File-name words that say nothing about the content.
NAME_STOPWORDS = {"gif", "gifs", "giphy", "tenor", "img", "image", "video", "clip", "copy", "final", "new",
                  "downsized", "large", "small", "medium", "original", "preview", "the", "and", "of"}


def name_words(path: str) -> list[str]:
    """Words of the file name (not its folders): split on separators and camelCase, hashes and numbers dropped."""
    stem = Path(path).stem
    words = []
    for token in re.split(r"[^A-Za-z0-9]+", stem):
        if not token or any(c.isdigit() for c in token):
            continue  # ids, hashes, sizes, dates
        for word in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", token):
            word = word.lower()
            if len(word) > 1 and word not in NAME_STOPWORDS:
                words.append(word)
    return words


def au_name(name: str) -> str:
    """'AU12' -> 'lip corner puller'; 'AU12 lip_corner_puller' -> 'lip corner puller'; other names cleaned."""
    text = str(name).replace("_", " ").strip()
    match = re.match(r"^AU\s*0*(\d+)\b[\s:-]*(.*)$", text, flags=re.IGNORECASE)
    if match:  # a bare code is named by the project's action-unit table
        text = match.group(2).strip() or au_names().get(f"AU{int(match.group(1))}", "")
    # Blendshape-style names ("mouthSmileLeft") read better as words.
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text).lower().strip()


def tag_terms(record: GifRecord) -> list[str]:
    """The short phrases that describe a GIF; each is also embedded on its own to explain a match."""
    terms: list[str] = []
    if record.emotion:
        terms.append(EMOTION_WORDS.get(record.emotion, record.emotion))
    for action, prob in record.top_actions[:MAX_ACTIONS]:
        if prob >= MIN_ACTION_PROB:
            terms.append(str(action))
    for name, _ in record.top_aus[:MAX_AUS]:
        phrase = au_name(name)
        if phrase:
            terms.append(phrase)
    words = name_words(record.path)
    if words:
        terms.append(" ".join(words))
    return list(dict.fromkeys(terms))


def tag_text(terms: Sequence[str]) -> str:
    return "; ".join(terms)


EMOTION_ADJECTIVES = {emotion: words.split(",")[0] for emotion, words in EMOTION_WORDS.items()}


def emotion_part(record: GifRecord) -> np.ndarray:
    """The GIF's emotion distribution; all zeros when nothing was decided, so it matches no message emotion.
    (Replacing it by a belief calibrated with the tag's confidence lowered P@5 on GoEmotions dev from 0.379
    to 0.361: bench/bench_suggest_quality.py.)"""
    if record.source == "none" or not record.scores:
        return np.zeros(len(EMOTIONS), dtype=np.float32)
    return scores_vector(record.scores)


def caption(record: GifRecord) -> str:
    """Text written in the GIF, on one line ("" when the caption stream read none)."""
    return " ".join((record.caption or "").split())


def reasons(record: GifRecord) -> list[str]:
    """What the streams saw, in words, most confident first: the reasons of the Evidence that the decision
    read and that did not abstain; for a record without Evidence, its one-line reason."""
    read = routed([Evidence.from_dict(e) for e in record.evidence])  # not a photo-face reading of a drawing
    evidence = [e for e in read if e.scores and e.reason]
    if evidence:
        return [e.reason for e in sorted(evidence, key=lambda e: -e.confidence)]
    return [record.reason] if record.reason else []


def encode(texts: Sequence[str], runtime: Runtime, batch_size: int = 128, progress: bool = False) -> np.ndarray:
    """(N, 384) float32 unit-length MiniLM embeddings, with the encoder the text model also uses."""
    from ..text.encoder import load_sentence_encoder

    if not texts:
        return np.zeros((0, SEMANTIC_DIM), dtype=np.float32)
    encoder = load_sentence_encoder(runtime)
    return encoder.encode(list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                          show_progress_bar=progress).astype(np.float32)
