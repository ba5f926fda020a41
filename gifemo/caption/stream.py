"""The caption stream: the words written in a GIF -> the text-emotion model -> Evidence "caption".

Few frames are read: every checked frame gets the cheap presence check, and only up to `ocr_frames` of
those that pass reach OCR, spread over the GIF so that a caption that changes mid-GIF is read in each part.
The caption text is reported even when the stream abstains on its emotion (a name, a show title): it is
still what people search GIFs by.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Optional, Sequence

import numpy as np

from ..config import CaptionOptions, Runtime
from ..emotions import top_emotion
from ..evidence import Evidence
from ..media import Clip
from .clean import CaptionLine, caption_lines, drop_noise, same_text
from .ocr import TextLine, TextReader, letters, same_letters

STREAM = "caption"


def spread(items: Sequence, count: int) -> list:
    """`count` items evenly spread over `items`, first and last included."""
    if len(items) <= count:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


def ocr_confidence(lines: Sequence[CaptionLine]) -> float:
    """OCR scores of the kept lines, weighted by their length (a long line read well outweighs a stray word)."""
    weights = np.array([len(line.text) for line in lines], dtype=float)
    return float(np.dot(weights, [line.score for line in lines]) / weights.sum())


def frame_texts_differ(lines: Sequence[TextLine], first: int, last: int) -> bool:
    def text(frame: int) -> str:
        return " ".join(line.text for line in lines if line.frame == frame)

    return first != last and not same_text(text(first), text(last))


@contextmanager
def one_torch_thread():
    """One caption is a few words: too little work to share between threads. With the runtime's 2 threads
    the hand-offs cost 30 times the work on a loaded machine (0.16 s CPU against 0.006 s per caption)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class CaptionStream:
    """OCR reader and text-emotion model loaded once; `analyze(clip)` per GIF."""

    def __init__(self, options: Optional[CaptionOptions] = None, runtime: Optional[Runtime] = None):
        self.options = options or CaptionOptions()
        self.runtime = runtime or Runtime()
        self.reader = TextReader(self.runtime.torch_threads(), self.options.min_ocr_score,
                                 quiet=self.runtime.verbose == 0)
        self._text_model = None

    def text_model(self):
        # Loaded on the first GIF with words: most GIFs have none and never pay for torch.
        if self._text_model is None:
            from ..text.model import load_model

            self._text_model = load_model(self.runtime, self.options.text_model)
        return self._text_model

    def read(self, clip: Clip) -> tuple[list[CaptionLine], int, float]:
        """The caption lines, the number of frames OCR read and the share of checked frames with kept text."""
        checked = spread(list(range(len(clip.frames))), self.options.check_frames)
        found = {i: mask for i in checked if (mask := letters(clip.frames[i])) is not None}
        candidates = list(found)
        if not candidates:
            return [], 0, 0.0
        # The first candidate; the last too unless its letters lie where the first's do (a caption that
        # stays); frames between only when those two read differently (the caption changes).
        first, last = candidates[0], candidates[-1]
        chosen = [first] if same_letters(found[first], found[last]) or self.options.ocr_frames < 2 else [first, last]
        lines = self.reader.read_frames([clip.frames[i] for i in chosen], chosen)
        if frame_texts_differ(lines, chosen[0], chosen[-1]):
            middle = [i for i in spread(candidates, self.options.ocr_frames) if i not in chosen]
            lines += self.reader.read_frames([clip.frames[i] for i in middle], middle)
            chosen += middle
        kept = drop_noise(lines, len(chosen))
        with_text = len({line.frame for line in kept})
        # Frames that failed the check hold no text; among those that passed, OCR read a sample.
        coverage = len(candidates) / len(checked) * with_text / len(chosen)
        return caption_lines(kept), len(chosen), coverage

    def analyze(self, clip: Clip) -> Evidence:
        lines, frames_read, coverage = self.read(clip)
        if not lines:
            return Evidence.abstain(STREAM, "no caption", frames_read=frames_read)
        text = " ".join(line.text for line in lines)
        ocr_score = ocr_confidence(lines)
        details = {"text": text, "lines": [line.text for line in lines], "ocr_confidence": round(ocr_score, 4),
                   "frames_read": frames_read}
        with one_torch_thread():
            scores = self.text_model().predict_one(text)
        emotion = top_emotion(scores)
        if emotion == "neutral" or scores[emotion] < self.options.min_emotion_score:
            return Evidence.abstain(STREAM, f'caption "{text}" carries no clear emotion', coverage, **details)
        # Not calibrated: the product of two model scores, each over-confident on its own (see the README).
        confidence = ocr_score * scores[emotion]
        return Evidence(STREAM, scores, coverage, confidence, f'caption "{text}"', details)

    def close(self) -> None:
        self._text_model = None

