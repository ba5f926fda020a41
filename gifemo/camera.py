"""A photo from the camera -> every face boxed, with its emotion and scores: the app's camera page, without
the page. The same face pipeline and models as tagging (FaceStream), in still-image mode."""
from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
from PIL import Image

from .annotate import draw_faces
from .config import DecodeLimits
from .media import MediaError

PHOTO_NAME = "camera photo"   # how errors name the photo: it has no file name


@dataclass
class PhotoReading:
    photo: np.ndarray               # HxWx3 uint8 RGB, as analysed
    faces: list                     # FaceObservation of each face, left to right
    picture: Image.Image            # the photo with every face boxed, labelled and given its emoji
    seconds: float                  # from the photo's bytes to the faces read and drawn

    def crop(self, face, margin: float = 0.25) -> np.ndarray:
        """The face with a margin around its box, to show beside its scores."""
        x, y, w, h = face.box
        dx, dy = int(w * margin), int(h * margin)
        return self.photo[max(0, y - dy): y + h + dy, max(0, x - dx): x + w + dx]


def decode_photo(data: bytes, limits: Optional[DecodeLimits] = None) -> np.ndarray:
    """RGB pixels of a JPEG/PNG photo; its size is checked before a pixel is decoded, and large photos are
    decoded shrunk (JPEG draft mode) to `limits.max_kept_side`."""
    limits = limits or DecodeLimits()
    if not data:
        raise MediaError(PHOTO_NAME, "the photo is empty")
    if len(data) > limits.max_bytes:
        raise MediaError(PHOTO_NAME, f"the photo is {len(data)} bytes, over the limit of {limits.max_bytes} bytes")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > limits.max_canvas_pixels:
                raise MediaError(PHOTO_NAME, f"the photo is {width}x{height}, over the limit of "
                                             f"{limits.max_canvas_pixels} pixels")
            image.draft("RGB", (limits.max_kept_side, limits.max_kept_side))
            image = image.convert("RGB")
    except MediaError:
        raise
    except Image.DecompressionBombError:  # Pillow's own guard, at open, for sizes far over any sane limit
        raise MediaError(PHOTO_NAME, f"the photo is over the limit of {limits.max_canvas_pixels} pixels") from None
    except Exception as exc:  # Pillow raises many types for damaged or foreign data
        raise MediaError(PHOTO_NAME, f"not a readable picture ({exc})") from None
    image.thumbnail((limits.max_kept_side, limits.max_kept_side))
    return np.asarray(image)


def read_photo(data: bytes, face_stream, limits: Optional[DecodeLimits] = None) -> PhotoReading:
    """Every face of the photo with its emotion, and the photo drawn over. Nothing is kept or written."""
    start = time.perf_counter()
    photo = decode_photo(data, limits)
    faces = sorted(face_stream.analyze_frames([photo], [0.0], video=False)[0], key=lambda face: face.box[0])
    picture = draw_faces(photo, faces)
    return PhotoReading(photo, faces, picture, time.perf_counter() - start)
