"""Build GIF files byte by byte for tests, so frame position, delay, disposal, transparency and
interlacing are exactly what each test says (Pillow's writer would merge and optimise frames)."""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Optional

import numpy as np
from PIL import Image

# index -> RGB; 0 white, 1 red, 2 blue, 3 green, 4 black
PALETTE = [(255, 255, 255), (255, 0, 0), (0, 0, 255), (0, 255, 0), (0, 0, 0)] + [(128, 128, 128)] * 3


@dataclass
class Frame:
    indices: np.ndarray            # HxW palette indices
    x: int = 0
    y: int = 0
    delay_cs: int = 10             # centiseconds
    disposal: int = 1
    transparent: Optional[int] = None
    interlace: bool = False


def _lzw_blocks(indices: np.ndarray, interlace: bool) -> bytes:
    """Image data (min code size + sub-blocks) for `indices`, encoded by Pillow with our palette."""
    image = Image.fromarray(indices.astype(np.uint8), mode="P")
    image.putpalette([c for rgb in PALETTE for c in rgb])
    buffer = io.BytesIO()
    image.save(buffer, format="GIF", optimize=False, interlace=interlace)
    data = buffer.getvalue()
    pos = data.index(b"\x2c", 13 + 3 * len(PALETTE))  # image descriptor after header + colour table
    flags = data[pos + 9]
    pos += 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    return data[pos:-1]  # everything up to (not including) the trailer


def make_gif(frames: list[Frame], width: int, height: int, loop: Optional[int] = 0, background: int = 0) -> bytes:
    out = bytearray(b"GIF89a")
    out += struct.pack("<HHBBB", width, height, 0x80 | 0x70 | 2, background, 0)  # 8-entry global table
    for rgb in PALETTE:
        out += bytes(rgb)
    if loop is not None:
        out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", loop) + b"\x00"
    for frame in frames:
        packed = (frame.disposal << 2) | (1 if frame.transparent is not None else 0)
        out += b"\x21\xf9\x04" + struct.pack("<BHB", packed, frame.delay_cs, frame.transparent or 0) + b"\x00"
        h, w = frame.indices.shape
        out += b"\x2c" + struct.pack("<HHHHB", frame.x, frame.y, w, h, 0x40 if frame.interlace else 0)
        out += _lzw_blocks(frame.indices, frame.interlace)
    out += b"\x3b"
    return bytes(out)


def solid(h: int, w: int, index: int) -> np.ndarray:
    return np.full((h, w), index, dtype=np.uint8)
