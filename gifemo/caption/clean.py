"""From the OCR lines of several frames to the caption a person reads.

Watermarks go (URLs, site names, channel bugs sitting in a corner on every frame), lines read in several
frames are kept once in the order they first appear, and words that OCR ran together are split again.
Sound-effect captions ("[maniac laughter]", "*SHOOK INTENSIFIES*") are kept: their brackets are no watermark.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from .ocr import TextLine, box_iou

# Hosts of GIF makers and sites that stamp their name on GIFs; domains in general are caught by DOMAIN.
WATERMARK_WORDS = ("gifsoup", "imgflip", "giphy", "tenor", "gfycat", "tumblr", "reactiongif", "4gifs", "9gag",
                   "makeagif", "gifbin", "imgur", "reddit", "memegenerator", "make gifs at")
# A space around the dot is allowed only before the long endings ("Gifs. con": OCR reading a small ".com"),
# so that "I'm done. Me too" stays a caption.
DOMAIN = re.compile(r"https?://|www\.|\b[a-z0-9-]{2,}\.(tv|co|io|me|ly|us|uk|de|fr|gifs?)\b"
                    r"|\b[a-z0-9-]{2,}\s?\.\s?(com|con|corn|net|org)\b", re.IGNORECASE)
# A channel bug: a small line in a corner of the frame.
CORNER_X = 0.3                 # centre within this share of the width from the left or right edge
CORNER_Y = 0.22                # ... and from the top or bottom edge
BUG_MAX_HEIGHT = 0.15          # of the frame height
BUG_SAME_PLACE_IOU = 0.3       # OCR reads a logo differently from frame to frame: its place says it is one
SAME_LINE_RATIO = 0.75         # two readings whose letters match this much are one line
MIN_LETTERS = 2
RUN_TOGETHER_MIN = 5           # letters in a token before it is worth splitting


@dataclass(frozen=True)
class CaptionLine:
    text: str
    score: float               # OCR confidence of the best reading
    frame: int                 # first frame it was read in


def is_watermark_text(text: str) -> bool:
    lowered = text.lower()
    return bool(DOMAIN.search(text)) or any(word in lowered for word in WATERMARK_WORDS)


def in_corner(line: TextLine) -> bool:
    x, y, w, h = line.box
    width, height = line.frame_size
    cx, cy = (x + w / 2) / width, (y + h / 2) / height
    return (h <= BUG_MAX_HEIGHT * height and min(cx, 1 - cx) <= CORNER_X and min(cy, 1 - cy) <= CORNER_Y)


def _letters(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def same_text(a: str, b: str) -> bool:
    a, b = _letters(a), _letters(b)
    return a == b or SequenceMatcher(None, a, b).ratio() >= SAME_LINE_RATIO


def drop_corner_bugs(lines: list[TextLine], frames_read: int) -> list[TextLine]:
    """Lines that sit small in a corner in every frame that was read (a logo does not move; a caption
    that happens to be small and in a corner in one frame of several stays)."""
    bugs = set()
    for i, line in enumerate(lines):
        if not in_corner(line):
            continue
        frames = {other.frame for other in lines if in_corner(other)
                  and (same_text(other.text, line.text) or box_iou(other.box, line.box) >= BUG_SAME_PLACE_IOU)}
        if len(frames) >= frames_read:
            bugs.add(i)
    return [line for i, line in enumerate(lines) if i not in bugs]


def contained(part: str, whole: str) -> bool:
    """`part` is, but for a letter or two, a stretch of `whole` (a fragment or partial reading of it)."""
    part, whole = _letters(part), _letters(whole)
    if not part:
        return True
    longest = SequenceMatcher(None, part, whole, autojunk=False).find_longest_match(0, len(part), 0, len(whole))
    return longest.size >= SAME_LINE_RATIO * len(part) and len(part) <= len(whole)


def merge_lines(lines: list[TextLine]) -> list[CaptionLine]:
    """One entry per distinct line, in reading order (frame, then top to bottom). Of two readings of one
    line the better-scored is kept; a fragment of a kept line is dropped, and a fuller reading replaces it."""
    merged: list[CaptionLine] = []
    for line in sorted(lines, key=lambda l: (l.frame, l.box[1], l.box[0])):
        for i, kept in enumerate(merged):
            if same_text(kept.text, line.text):
                if line.score > kept.score:
                    merged[i] = CaptionLine(line.text, line.score, kept.frame)
                break
            if contained(line.text, kept.text):
                break
            if contained(kept.text, line.text):
                merged[i] = CaptionLine(line.text, line.score, kept.frame)
                break
        else:
            merged.append(CaptionLine(line.text, line.score, line.frame))
    return merged


@lru_cache(maxsize=1)
def _segmenter():
    import wordsegment

    wordsegment.load()  # reads its word counts once per process (~0.5 s)
    return wordsegment


def split_run_together(token: str) -> str:
    """'Idon'tlikeyou' -> "I don't like you"; case and punctuation kept, known words left alone."""
    letters = re.sub(r"[^A-Za-z]", "", token)
    if len(letters) < RUN_TOGETHER_MIN or re.search(r"([A-Za-z])\1\1", letters):
        return token  # short, or drawn out ("LIAAAAR!"): not words run together
    segmenter = _segmenter()
    if letters.lower() in segmenter.UNIGRAMS:
        return token
    words = segmenter.segment(letters)
    if len(words) < 2 or any(word not in segmenter.UNIGRAMS for word in words):
        return token
    ends, total = set(), 0
    for word in words[:-1]:
        total += len(word)
        ends.add(total)
    out, seen = [], 0
    for char in token:
        if char.isascii() and char.isalpha():
            if seen in ends:
                out.append(" ")
            seen += 1
        out.append(char)
    return "".join(out)


def tidy(text: str) -> str:
    return " ".join(split_run_together(token) for token in text.split())


def drop_noise(lines: list[TextLine], frames_read: int) -> list[TextLine]:
    """Lines without words, watermarks and corner bugs removed."""
    kept = [line for line in lines
            if len(re.findall(r"[A-Za-z]", line.text)) >= MIN_LETTERS and not is_watermark_text(line.text)]
    return drop_corner_bugs(kept, frames_read)


def caption_lines(kept: list[TextLine]) -> list[CaptionLine]:
    """The caption's lines (from `drop_noise`), each once, in reading order, run-together words split."""
    return [CaptionLine(tidy(line.text), line.score, line.frame) for line in merge_lines(kept)]
