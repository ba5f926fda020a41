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


# ------------------------------------------------------------------ hostile files
def many_tiny_frames_gif(canvas: int = 1000, frames: int = 1500) -> bytes:
    """A big canvas drawn one pixel per frame: tiny on disk, canvas x frames pixels when decoded."""
    dot = _lzw_blocks(solid(1, 1, 1), False)
    out = bytearray(make_gif([], canvas, canvas)[:-1])
    for k in range(frames):
        out += _frame_bytes(k % canvas, (k * 7) % canvas, 1, 2, dot)
    return bytes(out + b"\x3b")


def _frame_bytes(x: int, y: int, side: int, delay_cs: int, blocks: bytes) -> bytes:
    """Graphic control extension (disposal 1) and image descriptor of a square frame, then its data."""
    return (b"\x21\xf9\x04" + struct.pack("<BHB", 1 << 2, delay_cs, 0) + b"\x00"
            + b"\x2c" + struct.pack("<HHHHB", x, y, side, side, 0) + blocks)


def big_frames_gif(side: int, frames: int) -> bytes:
    """`frames` full frames of side x side: small on disk, side^2 x frames pixels to decode."""
    blocks = [_lzw_blocks(solid(side, side, 1 + k), False) for k in range(3)]  # encoded once per colour
    out = bytearray(make_gif([], side, side)[:-1])
    for k in range(frames):
        out += _frame_bytes(0, 0, side, 10, blocks[k % 3])
    return bytes(out + b"\x3b")


def lzw_damaged_gif(good_frames: int = 2, side: int = 8) -> bytes:
    """`good_frames` frames, then one whose block structure is intact but whose LZW codes are garbage."""
    frames = [Frame(solid(side, side, 1 + k % 3)) for k in range(good_frames + 1)]
    data = bytearray(make_gif(frames, side, side))
    last = data.rindex(b"\x2c")                       # the last image descriptor
    code_size, first_block = last + 10, last + 11     # LZW minimum code size, then the first sub-block
    size = data[first_block]
    data[code_size] = 2
    data[first_block + 1:first_block + 1 + size] = b"\xff" * size  # codes past the table: undecodable
    return bytes(data)


def write_avi(path, side: int, frames: int, fps: int = 10):
    """An MJPEG AVI of `frames` grey frames of side x side (PyAV)."""
    import av

    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mjpeg", rate=fps)
        stream.width = stream.height = side
        stream.pix_fmt = "yuvj420p"
        for k in range(frames):
            image = np.full((side, side, 3), 40 * (k % 6), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def lie_in_avi_header(path, frames: int) -> None:
    """Rewrite an AVI's header to claim `frames` frames (the data stay as they are)."""
    data = bytearray(open(path, "rb").read())
    struct.pack_into("<I", data, data.index(b"avih") + 8 + 16, frames)  # dwTotalFrames
    struct.pack_into("<I", data, data.index(b"strh") + 8 + 32, frames)  # dwLength
    open(path, "wb").write(bytes(data))


def write_growing_avi(path, small: int, big: int, frames: int):
    """An MJPEG AVI whose header and first frame say small x small, and whose later frames are big x big
    (JPEG frames carry their own size; demuxers believe the first)."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width = stream.height = small
        stream.pix_fmt = "yuvj420p"
        large = av.CodecContext.create("mjpeg", "w")
        large.width = large.height = big
        large.pix_fmt, large.time_base = "yuvj420p", Fraction(1, 10)
        for k in range(frames):
            side, encoder = (small, stream) if k == 0 else (big, large)
            frame = av.VideoFrame.from_ndarray(np.full((side, side, 3), 60, np.uint8), format="rgb24")
            frame.pts = k
            for packet in encoder.encode(frame.reformat(format="yuvj420p")):
                packet.stream, packet.pts, packet.dts = stream, k, k
                container.mux(packet)
    return path
