"""The camera page's photo decoding: limits checked before pixels are decoded, big photos shrunk, bad bytes
refused in one line (the faces themselves: tests/test_app_pages.py and tests/test_camera_browser.py)."""
import io
import zlib

import numpy as np
import pytest
from PIL import Image

from gifemo.camera import decode_photo
from gifemo.config import DecodeLimits
from gifemo.media import MediaError


def encoded(width: int, height: int, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def test_a_photo_over_the_canvas_limit_is_refused_before_decoding():
    with pytest.raises(MediaError, match=r"^camera photo: the photo is 640x480, over the limit of 100000 pixels$"):
        decode_photo(encoded(640, 480), DecodeLimits(max_canvas_pixels=100_000))


def test_a_png_claiming_a_huge_canvas_is_refused_without_allocating_it():
    png = bytearray(encoded(8, 8, "PNG"))
    png[16:24] = (60_000).to_bytes(4, "big") * 2            # IHDR width and height...
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")   # ...and the chunk's CRC to match
    with pytest.raises(MediaError, match=r"^camera photo: the photo is over the limit of \d+ pixels$"):
        decode_photo(bytes(png))


def test_a_big_photo_is_decoded_shrunk_to_the_kept_side():
    photo = decode_photo(encoded(2000, 1000), DecodeLimits(max_kept_side=640))
    assert photo.shape == (320, 640, 3) and photo.dtype == np.uint8


@pytest.mark.parametrize("data, problem", [(b"", "the photo is empty"),
                                           (b"\xff\xd8\xff not a JPEG", "not a readable picture"),
                                           (bytes(2048), "not a readable picture")])
def test_bad_bytes_get_one_line(data, problem):
    with pytest.raises(MediaError) as caught:
        decode_photo(data)
    assert str(caught.value).startswith(f"camera photo: {problem}") and "\n" not in str(caught.value)


def test_a_photo_over_the_byte_limit_is_refused():
    with pytest.raises(MediaError, match="over the limit of 1000 bytes"):
        decode_photo(encoded(640, 480, "PNG") + bytes(1000), DecodeLimits(max_bytes=1000))
