"""Turn a face sprite into what a sticker frame looks like: squashed, rotated, recoloured, outlined, on a
background, partly hidden, cut to a GIF palette (with or without dithering) or to pixel art."""
from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .model import INPUT_SIZE

CANVAS = 2 * INPUT_SIZE   # drawn at twice the network size, then downsampled (antialiasing, as GIF makers do)


def sticker_frame(sprite: Image.Image, rng: random.Random) -> np.ndarray:
    """One INPUT_SIZE x INPUT_SIZE x 3 uint8 training image from an RGBA sprite."""
    face = _recolour(sprite, rng)
    if rng.random() < 0.35:
        face = _sticker_outline(face, rng)
    face = _squash_rotate(face, rng)
    face = face.crop(face.getbbox() or (0, 0, face.width, face.height))
    canvas = _background(rng)
    # The face fills most of the crop, as in the stream's crops around an object (its box plus 8 %); smaller
    # in landmark and whole-frame crops; sometimes cut by the frame's edge.
    side = int(CANVAS * rng.uniform(0.6, 1.0))
    face = face.resize((max(1, int(side * face.width / max(face.size))), max(1, int(side * face.height / max(face.size)))),
                       Image.BICUBIC)
    x = (CANVAS - face.width) // 2 + int(rng.uniform(-0.12, 0.12) * CANVAS)
    y = (CANVAS - face.height) // 2 + int(rng.uniform(-0.12, 0.12) * CANVAS)
    canvas.paste(face, (x, y), face)
    if rng.random() < 0.25:
        _occlude(canvas, rng)
    frame = canvas.resize((INPUT_SIZE, INPUT_SIZE), Image.BICUBIC if rng.random() < 0.7 else Image.BILINEAR)
    frame = _gif_look(frame, rng)
    return np.asarray(frame.convert("RGB"), dtype=np.uint8)


def _recolour(sprite: Image.Image, rng: random.Random) -> Image.Image:
    if rng.random() < 0.5:
        return sprite
    hsv = np.asarray(sprite.convert("RGB").convert("HSV")).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + rng.randint(0, 255)) % 256 if rng.random() < 0.5 else hsv[..., 0]
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.5, 1.3), 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(0.75, 1.15), 0, 255)
    rgb = Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")
    rgb.putalpha(sprite.getchannel("A"))
    return rgb


def _sticker_outline(face: Image.Image, rng: random.Random) -> Image.Image:
    """A white (or dark) border around the shape, as on chat stickers."""
    pad = max(3, face.width // 14)
    big = Image.new("RGBA", (face.width + 2 * pad, face.height + 2 * pad), (0, 0, 0, 0))
    big.paste(face, (pad, pad), face)
    grown = big.getchannel("A").filter(ImageFilter.MaxFilter(2 * (pad // 2) + 1))
    colour = (255, 255, 255, 255) if rng.random() < 0.7 else (30, 30, 30, 255)
    border = Image.new("RGBA", big.size, (0, 0, 0, 0))
    border.paste(colour, mask=grown)
    border.alpha_composite(big)
    return border


def _squash_rotate(face: Image.Image, rng: random.Random) -> Image.Image:
    stretch = rng.uniform(0.75, 1.3)   # squash-and-stretch keeps the area
    face = face.resize((max(1, int(face.width * stretch)), max(1, int(face.height / stretch))), Image.BICUBIC)
    return face.rotate(rng.uniform(-25, 25), resample=Image.BICUBIC, expand=True)


def _random_rgb(rng: random.Random) -> tuple[int, int, int]:
    return tuple(rng.randint(0, 255) for _ in range(3))


def _background(rng: random.Random) -> Image.Image:
    kind = rng.random()
    if kind < 0.35:
        return Image.new("RGBA", (CANVAS, CANVAS), (255, 255, 255, 255))
    if kind < 0.6:
        return Image.new("RGBA", (CANVAS, CANVAS), _random_rgb(rng) + (255,))
    if kind < 0.75:   # vertical gradient
        a, b = np.array(_random_rgb(rng)), np.array(_random_rgb(rng))
        t = np.linspace(0, 1, CANVAS)[:, None, None]
        rows = (a * (1 - t) + b * t).astype(np.uint8).repeat(CANVAS, axis=1)
        return Image.fromarray(rows, "RGB").convert("RGBA")
    # a busy cartoon scene: flat blobs of colour
    canvas = Image.new("RGBA", (CANVAS, CANVAS), _random_rgb(rng) + (255,))
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.randint(3, 12)):
        x, y = rng.uniform(-0.2, 1) * CANVAS, rng.uniform(-0.2, 1) * CANVAS
        w, h = rng.uniform(0.1, 0.6) * CANVAS, rng.uniform(0.1, 0.6) * CANVAS
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x, y, x + w, y + h], fill=_random_rgb(rng))
    return canvas


def _occlude(canvas: Image.Image, rng: random.Random) -> None:
    """A hand, a prop or a caption bar over at most a quarter of the face, mostly from an edge."""
    draw = ImageDraw.Draw(canvas)
    w, h = rng.uniform(0.15, 0.45) * CANVAS, rng.uniform(0.1, 0.3) * CANVAS
    x = rng.uniform(0, CANVAS - w)
    y = rng.choice([rng.uniform(0.7, 0.9) * CANVAS, rng.uniform(0, CANVAS - h)])
    colour = rng.choice([(255, 205, 160), (250, 220, 80), _random_rgb(rng), (255, 255, 255)])
    (draw.ellipse if rng.random() < 0.6 else draw.rectangle)([x, y, x + w, y + h], fill=colour,
                                                              outline=(0, 0, 0) if rng.random() < 0.5 else None)


def _gif_look(frame: Image.Image, rng: random.Random) -> Image.Image:
    kind = rng.random()
    if kind < 0.15:   # pixel art
        small = rng.randint(18, 32)
        return frame.resize((small, small), Image.BILINEAR).resize(frame.size, Image.NEAREST)
    if kind < 0.6:    # a GIF palette
        dither = Image.Dither.FLOYDSTEINBERG if rng.random() < 0.5 else Image.Dither.NONE
        return frame.convert("RGB").quantize(colors=rng.choice([8, 16, 32, 64, 128]), dither=dither)
    if kind < 0.7:
        return frame.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.2)))
    return frame
