"""Write a GIF with every face boxed and labelled with its emotion and a drawn emoji, frame by frame."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .media import DecodeLimits, probe, stream_frames
from .plots import COLOURS


def draw_emoji(draw: ImageDraw.ImageDraw, x: int, y: int, size: int, emotion: str) -> None:
    """A small face drawn with primitives (no emoji font needed): brows, eyes and mouth per emotion."""
    s = size
    draw.ellipse([x, y, x + s, y + s], fill="#ffd23f", outline="black", width=max(1, s // 16))
    eye_y = y + int(0.4 * s)
    eye_h = int(0.16 * s) if emotion in ("surprise", "fear") else int(0.1 * s)
    for ex in (x + int(0.3 * s), x + int(0.62 * s)):
        draw.ellipse([ex, eye_y - eye_h // 2, ex + int(0.1 * s), eye_y + eye_h // 2], fill="black")
    brow_y = y + int(0.25 * s)
    if emotion == "anger":       # brows down towards the nose
        draw.line([x + int(0.25 * s), brow_y - 2, x + int(0.45 * s), brow_y + 3], fill="black", width=2)
        draw.line([x + int(0.75 * s), brow_y - 2, x + int(0.55 * s), brow_y + 3], fill="black", width=2)
    elif emotion in ("sadness", "fear"):  # brows raised in the middle
        draw.line([x + int(0.25 * s), brow_y + 3, x + int(0.45 * s), brow_y - 2], fill="black", width=2)
        draw.line([x + int(0.75 * s), brow_y + 3, x + int(0.55 * s), brow_y - 2], fill="black", width=2)
    mouth = [x + int(0.28 * s), y + int(0.58 * s), x + int(0.72 * s), y + int(0.85 * s)]
    if emotion == "happiness":
        draw.chord(mouth, 0, 180, fill="black")
    elif emotion == "sadness":
        draw.arc([mouth[0], mouth[1] + int(0.12 * s), mouth[2], mouth[3] + int(0.12 * s)], 200, 340, fill="black", width=2)
    elif emotion in ("surprise", "fear"):
        draw.ellipse([x + int(0.42 * s), y + int(0.6 * s), x + int(0.58 * s), y + int(0.82 * s)], fill="black")
    elif emotion == "disgust":
        draw.line([mouth[0], mouth[1] + int(0.12 * s), mouth[2], mouth[1] + int(0.05 * s)], fill="black", width=2)
        draw.line([x + int(0.22 * s), y + int(0.36 * s), x + int(0.4 * s), y + int(0.4 * s)], fill="black", width=1)
    elif emotion == "anger":
        draw.arc([mouth[0], mouth[1] + int(0.12 * s), mouth[2], mouth[3] + int(0.1 * s)], 200, 340, fill="black", width=3)
    else:  # neutral
        draw.line([mouth[0], mouth[1] + int(0.1 * s), mouth[2], mouth[1] + int(0.1 * s)], fill="black", width=2)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def draw_faces(frame: np.ndarray, observations) -> Image.Image:
    image = Image.fromarray(frame).convert("RGB")
    draw = ImageDraw.Draw(image)
    scale = max(image.size) / 400
    font = _font(max(10, int(12 * scale)))
    for obs in observations:
        x, y, w, h = obs.box
        colour = COLOURS.get(obs.emotion, "white")
        draw.rectangle([x, y, x + w, y + h], outline=colour, width=max(2, int(2 * scale)))
        label = f"{obs.emotion} {obs.scores[obs.emotion]:.2f}"
        icon = max(14, int(18 * scale))
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        ty = max(0, y - icon - 4)
        draw.rectangle([x, ty, x + icon + 6 + right - left + 4, ty + icon + 2], fill=colour)
        draw_emoji(draw, x + 2, ty + 1, icon, obs.emotion)
        draw.text((x + icon + 6, ty + (icon - (bottom - top)) // 2 - top + 1), label, fill="black", font=font)
    return image


# Frames are analysed in runs of this many (face tracking restarts at each run): memory holds one run.
CHUNK_FRAMES = 32


def annotate_gif(src: str | Path, dst: str | Path, face_stream=None, max_frames: int = 300, max_side: int = 512,
                 runtime=None, limits: Optional[DecodeLimits] = None) -> Path:
    """Annotate every frame (up to `max_frames`, evenly in time for longer GIFs) and write a GIF.

    Frames are decoded, analysed and drawn a run at a time, and kept only as the palette images that
    are written (frames larger than `max_side` are shrunk), so memory does not grow with the canvas
    times the frames of the input.
    """
    from .facs import FaceStream

    if face_stream is None:
        with FaceStream(runtime=runtime) as own_stream:
            return annotate_gif(src, dst, own_stream, max_frames, max_side, limits=limits)
    limits = limits or DecodeLimits()
    info = probe(src, limits)
    if info.frame_count > max_frames:
        info, frames = stream_frames(src, num_frames=max_frames, max_side=max_side, limits=limits)
        durations = [info.duration / max_frames * 1000] * max_frames
    else:
        info, frames = stream_frames(src, max_side=max_side, limits=limits)
        durations = [d * 1000 for d in info.durations]
    images: list[Image.Image] = []
    for run in _runs(frames, CHUNK_FRAMES):
        times, pixels = zip(*run)
        per_frame = face_stream.analyze_frames(pixels, times)
        images += [draw_faces(frame, obs).convert("P", palette=Image.Palette.ADAPTIVE)
                   for frame, obs in zip(pixels, per_frame)]
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(dst, save_all=True, append_images=images[1:], duration=[round(d) for d in durations[:len(images)]],
                   loop=0, disposal=1, optimize=False)
    return dst


def _runs(items: Iterator, size: int) -> Iterator[list]:
    run = []
    for item in items:
        run.append(item)
        if len(run) == size:
            yield run
            run = []
    if run:
        yield run
