"""Reading text in frames: a cheap OpenCV text-presence check, then PP-OCR (RapidOCR on ONNX Runtime).

The presence check costs about a millisecond per frame, so a GIF without words never reaches the OCR
models. OCR runs detection on a frame, then recognition only on the boxes it has not read already: a caption
that stays on screen while the picture moves under it is recognised once.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

# Frames are shrunk to this side before anything else: reaction GIFs are small, and it bounds the cost of a
# hostile frame (a 4000 px strip).
MAX_SIDE = 640
# The presence check looks for letters: thin strokes much brighter (white captions) or darker (black text on a
# bar) than their surroundings, of letter height and shape, at least MIN_LETTERS of them side by side on a line.
# Tuned on gifs_train for recall (34 of its 35 captioned GIFs pass); it lets through about half of the GIFs
# without words, which the OCR detector then rejects.
CHECK_SIDE = 320
STROKE_CONTRAST = 70            # grey levels above/below the local background
MIN_LETTER_HEIGHT = 0.035       # of the frame height
MAX_LETTER_HEIGHT = 0.5
MIN_LETTERS = 3
# Letter pixels of two frames overlapping this much (intersection over union) are the same caption.
SAME_LETTERS_IOU = 0.5
# Boxes of two frames are the same text when they overlap this much and their pixels barely differ.
SAME_BOX_IOU = 0.6
SAME_BOX_DIFF = 18.0            # mean absolute grey difference on a 16x64 thumbnail
THUMB = (64, 16)


@dataclass(frozen=True)
class TextLine:
    """One recognised line: `box` is x, y, w, h in pixels of the frame it was read in."""
    text: str
    score: float
    box: tuple[int, int, int, int]
    frame: int                   # index among the clip's frames
    frame_size: tuple[int, int]  # width, height of that frame


def shrink(frame: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    h, w = frame.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return frame
    return cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def letter_pixels(grey: np.ndarray) -> tuple[list[tuple[int, int, int, int]], np.ndarray]:
    """Boxes (x, y, w, h) and pixel mask of blobs shaped like letters in strokes of strong local contrast."""
    h = grey.shape[0]
    side = max(5, h // 8)  # wider than a stroke, so the top-hat keeps strokes and drops flat areas
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
    boxes, mask = [], np.zeros(grey.shape, dtype=bool)
    for operation in (cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT):
        strokes = (cv2.morphologyEx(grey, operation, kernel) > STROKE_CONTRAST).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(strokes, connectivity=8)
        keep = np.zeros(count, dtype=bool)
        for k, (x, y, bw, bh, area) in enumerate(stats[1:count], start=1):
            if MIN_LETTER_HEIGHT * h <= bh <= MAX_LETTER_HEIGHT * h and bw <= 1.5 * bh and area >= 0.15 * bw * bh:
                boxes.append((int(x), int(y), int(bw), int(bh)))
                keep[k] = True
        mask |= keep[labels]
    return boxes, mask


def longest_letter_row(boxes: list[tuple[int, int, int, int]]) -> int:
    """The most letter boxes chained left to right at one height with word-like gaps."""
    boxes = sorted(boxes)
    best = 0
    for i, (x, y, w, h) in enumerate(boxes):
        centre, right, count = y + h / 2, x + w, 1
        for x2, y2, w2, h2 in boxes[i + 1:]:
            if x2 < right - 0.3 * h:
                continue
            if x2 - right > 1.2 * h:
                break
            if abs(y2 + h2 / 2 - centre) < 0.3 * h and 0.6 * h <= h2 <= 1.6 * h:
                count, right = count + 1, x2 + w2
        best = max(best, count)
    return best


def letters(frame: np.ndarray) -> Optional[np.ndarray]:
    """The frame's letter pixels (at the check's size) when text is likely there, else None."""
    grey = cv2.cvtColor(shrink(frame, CHECK_SIDE), cv2.COLOR_RGB2GRAY)
    if min(grey.shape) < 8:
        return None
    boxes, mask = letter_pixels(grey)
    return mask if longest_letter_row(boxes) >= MIN_LETTERS else None


def same_letters(a: np.ndarray, b: np.ndarray) -> bool:
    """Two frames show the same words in the same place (a caption that stays while the picture moves)."""
    if a.shape != b.shape:
        return False
    union = np.count_nonzero(a | b)
    return union > 0 and np.count_nonzero(a & b) >= SAME_LETTERS_IOU * union


def box_iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / float(aw * ah + bw * bh - inter or 1)


def _thumb(crop: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)


def _silence_rapidocr() -> None:
    # RapidOCR attaches DEBUG stream handlers to its loggers; ONNX Runtime logs through its own default logger.
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)
    for name in ("RapidOCR", "OrtInferSession"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextmanager
def _sessions_without_spinning():
    """ONNX Runtime sessions made inside this block do not busy-wait between operators. By default its idle
    threads spin, which on a shared machine (or beside the other streams' threads) tripled the CPU time and
    the wall time of a detection (0.28 -> 0.10 s CPU per frame, 2 threads, load 10). RapidOCR builds its
    sessions without a way to pass the setting, so it is added where it builds their options."""
    from rapidocr_onnxruntime.utils.infer_engine import OrtInferSession

    build_options = OrtInferSession.__dict__["_init_sess_opts"]

    def without_spinning(config):
        options = build_options.__func__(config)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return options

    OrtInferSession._init_sess_opts = staticmethod(without_spinning)
    try:
        yield
    finally:
        OrtInferSession._init_sess_opts = build_options


class TextReader:
    """PP-OCR detection + recognition (no angle classifier: captions are upright), on `threads` CPU threads.

    `frames_detected` and `lines_recognised` count the model calls, so callers (and tests) can see
    how much OCR a clip cost.
    """

    def __init__(self, threads: int, min_score: float, quiet: bool = True):
        from rapidocr_onnxruntime import RapidOCR

        if quiet:
            _silence_rapidocr()
        # The detector finds small GIF letters only on an enlarged frame: short side brought to 320 px. At the
        # frame's own size it missed whole captions of gifs_train; 480 px cost 45 % more and read no better.
        with _sessions_without_spinning():
            self.engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1, text_score=min_score,
                                   det_limit_side_len=320.0, det_limit_type="min")
        if quiet:
            _silence_rapidocr()
        self.min_score = min_score
        self.frames_detected = 0
        self.lines_recognised = 0

    def detect(self, frame: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Axis-aligned boxes of the text the detector finds, top to bottom, left to right."""
        self.frames_detected += 1
        polygons, _ = self.engine(frame, use_cls=False, use_rec=False)
        boxes = []
        for polygon in polygons or []:
            points = np.asarray(polygon, dtype=np.float32)
            x0, y0 = np.floor(points.min(0)).astype(int)
            x1, y1 = np.ceil(points.max(0)).astype(int)
            if x1 - x0 >= 4 and y1 - y0 >= 4:
                boxes.append((int(x0), int(y0), int(x1 - x0), int(y1 - y0)))
        return boxes

    def recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        self.lines_recognised += len(crops)
        results, _ = self.engine.text_rec(crops)
        return [(str(text).strip(), float(score)) for text, score in results]

    def read_frames(self, frames: list[np.ndarray], indices: list[int]) -> list[TextLine]:
        """Lines of every frame, in frame order. A box already seen (same place, same pixels) is not read
        again, and the new boxes of all frames are recognised in one batch."""
        crops: list[np.ndarray] = []                 # distinct boxes to recognise
        seen: list[tuple[tuple[int, int, int, int], np.ndarray]] = []
        placed: list[tuple[int, tuple[int, int, int, int], tuple[int, int], int]] = []  # frame, box, size, crop
        for index, frame in zip(indices, frames):
            frame = shrink(frame)
            size = (frame.shape[1], frame.shape[0])
            for x, y, w, h in self.detect(frame):
                crop = frame[y:y + h, x:x + w]
                thumb = _thumb(crop)
                match = next((k for k, (box, other) in enumerate(seen) if box_iou((x, y, w, h), box) >= SAME_BOX_IOU
                              and float(np.abs(thumb - other).mean()) <= SAME_BOX_DIFF), None)
                if match is None:
                    match = len(crops)
                    crops.append(crop)
                    seen.append(((x, y, w, h), thumb))
                placed.append((index, (x, y, w, h), size, match))
        readings = self.recognise(crops) if crops else []
        return [TextLine(readings[k][0], readings[k][1], box, index, size) for index, box, size, k in placed
                if readings[k][0] and readings[k][1] >= self.min_score]
