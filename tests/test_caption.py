"""The caption stream on GIFs drawn here with Pillow (meme captions, changing captions, watermarks, no text,
run-together words, a hostile strip), with the real OCR models, and its cleaning rules on OCR lines."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from gifemo.caption.clean import caption_lines, drop_noise, is_watermark_text, tidy
from gifemo.caption.ocr import TextLine, letters, same_letters
from gifemo.caption.stream import CaptionStream
from gifemo.config import CaptionOptions, Runtime
from gifemo.evidence import Evidence
from gifemo.media import read_clip
from gifemo.streams import STREAMS

W, H = 320, 240


@pytest.fixture(scope="module")
def stream():
    stream = CaptionStream(CaptionOptions(), Runtime(threads=1))
    yield stream
    stream.close()


def scene(t: int) -> Image.Image:
    """A moving picture without words: a colour gradient and two soft discs."""
    y, x = np.mgrid[0:H, 0:W]
    rgb = np.stack([(x * 255 // W + 12 * t) % 256, (y * 255 // H), np.full_like(x, 90 + 10 * t)], -1)
    image = Image.fromarray(rgb.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40 + 8 * t, 60, 130 + 8 * t, 150), fill=(200, 120, 80))
    draw.ellipse((200, 90 - 4 * t, 280, 170 - 4 * t), fill=(60, 160, 90))
    return image


def meme_text(image: Image.Image, text: str, where: str, size: int = 30) -> None:
    """White letters with a black outline, centred at the top or the bottom, as meme generators draw them."""
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=3)
    y = 8 if where == "top" else H - (bottom - top) - 12
    draw.text(((W - (right - left)) // 2, y), text, font=font, fill="white", stroke_width=3, stroke_fill="black")


def write_gif(path, frames: list[Image.Image]) -> str:
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=120, loop=0)
    return str(path)


def analyze(stream, path) -> Evidence:
    return stream.analyze(read_clip(path, num_frames=16))


def test_top_and_bottom_meme_caption_read_in_order(stream, tmp_path):
    frames = []
    for t in range(8):
        image = scene(t)
        meme_text(image, "I AM SO ANGRY", "top")
        meme_text(image, "AT YOU", "bottom")
        frames.append(image)
    evidence = analyze(stream, write_gif(tmp_path / "meme.gif", frames))
    assert [line.upper() for line in evidence.details["lines"]] == ["I AM SO ANGRY", "AT YOU"]
    assert evidence.emotion == "anger"
    assert evidence.reason == 'caption "I AM SO ANGRY AT YOU"'
    assert 0 < evidence.confidence <= evidence.details["ocr_confidence"]
    assert evidence.coverage == pytest.approx(1.0)
    assert sum(evidence.scores.values()) == pytest.approx(1.0)
    assert Evidence.from_dict(evidence.to_dict()) == evidence


def test_ocr_does_not_spin_and_the_caption_model_leaves_torch_threads_as_they_were(stream, tmp_path):
    from rapidocr_onnxruntime.utils.infer_engine import OrtInferSession

    engine = stream.reader.engine
    for session in (engine.text_det.infer.session, engine.text_rec.session.session):
        assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    with pytest.raises(RuntimeError):   # RapidOCR's own option building is patched only while ours are made
        OrtInferSession._init_sess_opts({}).get_session_config_entry("session.intra_op.allow_spinning")
    frames = []
    for t in range(4):
        image = scene(t)
        meme_text(image, "SO HAPPY TODAY", "bottom")
        frames.append(image)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        evidence = analyze(stream, write_gif(tmp_path / "happy.gif", frames))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert evidence.details["text"].upper() == "SO HAPPY TODAY" and evidence.emotion == "happiness"


def test_caption_that_changes_mid_gif_keeps_both_in_order(stream, tmp_path):
    frames = []
    for t in range(8):
        image = scene(t)
        meme_text(image, "OH NO" if t < 4 else "I AM SO SCARED", "bottom")
        frames.append(image)
    evidence = analyze(stream, write_gif(tmp_path / "change.gif", frames))
    assert [line.upper() for line in evidence.details["lines"]] == ["OH NO", "I AM SO SCARED"]
    assert evidence.emotion == "fear"
    assert evidence.details["text"].upper() == "OH NO I AM SO SCARED"


def test_watermark_in_a_corner_is_no_caption(stream, tmp_path):
    frames = []
    for t in range(6):
        image = scene(t)
        ImageDraw.Draw(image).text((W - 100, H - 18), "imgflip.com", font=ImageFont.load_default(14), fill="white")
        frames.append(image)
    evidence = analyze(stream, write_gif(tmp_path / "watermark.gif", frames))
    assert evidence.abstained
    assert evidence.reason == "no caption"
    assert "text" not in evidence.details


def test_gif_without_text_abstains_without_ocr(stream, tmp_path):
    path = write_gif(tmp_path / "plain.gif", [scene(t) for t in range(8)])
    detected, recognised = stream.reader.frames_detected, stream.reader.lines_recognised
    evidence = analyze(stream, path)
    assert evidence.abstained and evidence.reason == "no caption"
    # The presence check turned every frame away: neither OCR model ran.
    assert (stream.reader.frames_detected, stream.reader.lines_recognised) == (detected, recognised)


def test_run_together_words_are_split(stream, tmp_path):
    frames = []
    for t in range(4):
        image = scene(t)
        meme_text(image, "THISDISPLEASESME", "bottom", size=28)
        frames.append(image)
    evidence = analyze(stream, write_gif(tmp_path / "together.gif", frames))
    assert evidence.details["text"].upper() == "THIS DISPLEASES ME"
    assert tidy("Idon'tlikeyou") == "I don't like you"
    assert tidy("Hello there, friend!") == "Hello there, friend!"


def test_hostile_wide_strip_is_bounded(stream, tmp_path):
    image = Image.new("RGB", (4000, 60), "white")
    ImageDraw.Draw(image).text((10, 8), "HELP ME " * 60, font=ImageFont.load_default(40), fill="black")
    path = tmp_path / "strip.gif"
    image.save(path)
    detected = stream.reader.frames_detected
    evidence = analyze(stream, path)
    assert isinstance(evidence, Evidence) and evidence.stream == "caption"
    assert stream.reader.frames_detected - detected <= 1       # one frame, read at most once
    assert len(evidence.details.get("lines", [])) <= 40


def test_presence_check_sees_words_and_not_a_plain_scene():
    assert letters(np.asarray(scene(0))) is None
    captioned = []
    for t, text in ((0, "WHAT IS THIS"), (5, "WHAT IS THIS"), (5, "GET OUT NOW")):
        image = scene(t)
        meme_text(image, text, "top")
        captioned.append(letters(np.asarray(image)))
    assert captioned[0] is not None
    assert same_letters(captioned[0], captioned[1])           # the same caption over a moving picture
    assert not same_letters(captioned[1], captioned[2])


def line(text: str, box, frame: int = 0, score: float = 0.95) -> TextLine:
    return TextLine(text, score, box, frame, (W, H))


def test_cleaning_drops_watermarks_and_corner_bugs_and_keeps_sound_effects():
    assert is_watermark_text("MAKE GIFS AT GIFSOUP.COM") and is_watermark_text("4GIFs.com")
    assert is_watermark_text("Hilarious Gifs. con")               # OCR's reading of a small ".com"
    assert not is_watermark_text("I'M MAD AS HELL") and not is_watermark_text("I'm done. Me too")
    lines = [line("[maniac laughter]", (60, 200, 200, 24), frame) for frame in (0, 5)]
    lines += [line("CNN", (280, 10, 30, 14), frame) for frame in (0, 5)]          # channel bug, top right
    lines += [line("*SHOOK INTENSIFIES*", (40, 10, 240, 24), 5)]
    kept = caption_lines(drop_noise(lines, frames_read=2))
    assert [entry.text for entry in kept] == ["[maniac laughter]", "*SHOOK INTENSIFIES*"]


def test_readings_of_one_line_are_merged_keeping_the_best():
    lines = [line("UNACCEPTABL", (20, 200, 280, 24), 0, 0.8), line("UNACCEPTABLE", (20, 200, 280, 24), 4, 0.99),
             line("CEPTABLE", (90, 200, 150, 24), 8, 0.9)]
    assert [entry.text for entry in caption_lines(drop_noise(lines, frames_read=3))] == ["UNACCEPTABLE"]


def test_stream_table_builds_the_caption_stream():
    entry = next(entry for entry in STREAMS if entry.name == "caption")
    built = entry.load(CaptionOptions(ocr_frames=1), Runtime(threads=1))
    assert isinstance(built, CaptionStream) and built.options.ocr_frames == 1
    built.close()
