"""Face emoji rendered from installed fonts, as RGBA sprites labelled with the emotion of data/drawn_emoji.csv.

Training only: the fonts come from Debian packages (`fonts-noto-color-emoji`, `fonts-symbola`) and are never
needed to run the stream or its tests.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..emotions import normalize_label
from ..paths import DATA_DIR

EMOJI_TABLE = DATA_DIR / "drawn_emoji.csv"
# (path, size, colour bitmap?): NotoColorEmoji holds bitmaps at one size only (109 px).
FONTS = (("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf", 109, True),
         ("/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf", 100, False))
NOT_A_CHARACTER = "\U0010FFFF"   # renders as the font's "missing glyph" box


@dataclass(frozen=True)
class Sprite:
    image: Image.Image     # RGBA, transparent around the face
    emotion: str
    source: str            # "U+1F620 NotoColorEmoji" or "procedural"


def read_emoji_table(path: Path = EMOJI_TABLE) -> list[tuple[str, str, str]]:
    """(character, name, emotion) rows of the table."""
    with open(path, newline="", encoding="utf-8") as f:
        return [(chr(int(row["codepoint"][2:], 16)), row["name"], normalize_label(row["emotion"]))
                for row in csv.DictReader(f)]


def _render(char: str, font: ImageFont.FreeTypeFont, colour: bool) -> Image.Image:
    canvas = Image.new("RGBA", (192, 192), (0, 0, 0, 0))
    # Outline glyphs are drawn black on a yellow-free canvas; augmentation later fills and recolours them.
    ImageDraw.Draw(canvas).text((96, 96), char, font=font, anchor="mm", embedded_color=colour, fill=(0, 0, 0, 255))
    return canvas


def render_emoji(table_path: Path = EMOJI_TABLE) -> list[Sprite]:
    """Every table emoji in every installed font that has a glyph for it (cropped to the glyph)."""
    sprites = []
    for font_path, size, colour in FONTS:
        if not Path(font_path).exists():
            continue
        font = ImageFont.truetype(font_path, size)
        missing = np.asarray(_render(NOT_A_CHARACTER, font, colour))
        for char, _name, emotion in read_emoji_table(table_path):
            image = _render(char, font, colour)
            if np.array_equal(np.asarray(image), missing) or image.getbbox() is None:
                continue
            if not colour:
                image = _fill_outline(image)
            sprites.append(Sprite(image.crop(image.getbbox()), emotion, f"U+{ord(char):04X} {Path(font_path).stem}"))
    if not sprites:
        raise FileNotFoundError("no emoji font found; install them with "
                                "`apt-get install -y fonts-noto-color-emoji fonts-symbola`")
    return sprites


def _fill_outline(image: Image.Image) -> Image.Image:
    """An outline glyph (black strokes) with the inside of its head filled white, like a line-art sticker."""
    alpha = image.getchannel("A")
    inside = Image.new("L", image.size, 0)
    box = alpha.getbbox()
    ImageDraw.Draw(inside).ellipse(box, fill=255)
    filled = Image.new("RGBA", image.size, (0, 0, 0, 0))
    filled.paste((255, 255, 255, 255), mask=inside)
    filled.alpha_composite(image)
    return filled
