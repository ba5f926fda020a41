"""Making FER2013 faces look like the faces the stream crops out of GIF frames.

A FER image is taken back to the size the face has in a GIF frame, degraded there as a GIF degrades it
(tone changes, blur, lossy re-encoding, a palette of few colours with or without Floyd-Steinberg dithering),
then cropped again through the stream's own alignment (`align.align_points`, the same warp and box filter) with
the jitter MediaPipe's landmarks give crops of the same face in consecutive frames. Default ranges are measured on
the stream's crops of the labelled GIFs (`measure_crops`; data/weights/README.md).
"""
from __future__ import annotations

import io
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from .align import FER_EYE_DISTANCE, FER_EYE_MID, FER_EYE_MOUTH, FER_SIZE, align_points


@dataclass(frozen=True)
class GifLikeOptions:
    # frame pixels per FER pixel (the face's size in the GIF frame relative to FER2013's framing): the 5th-95th
    # percentile of the stream's crops of photographed labelled GIFs
    face_scale: tuple[float, float] = (0.67, 2.84)
    # Crop jitter. Between crops of one face in consecutive sampled frames (1/16 of a loop apart) the stream's
    # crops differ by sd 3.5 FER px of shift, 0.042 of log scale and 0.040 rad of roll, head motion included;
    # scale and roll are taken as measured, the shift at half (the rest is the head moving).
    shift_sd: float = 1.75
    log_scale_sd: float = 0.042
    angle_sd: float = 0.040
    gamma: tuple[float, float] = (0.7, 1.5)
    contrast: tuple[float, float] = (0.6, 1.3)
    brightness: float = 0.12      # added to [0, 1] intensities, +- this
    blur_prob: float = 0.3
    blur_radius: float = 1.2      # frame pixels, at most
    jpeg_prob: float = 0.3
    jpeg_quality: tuple[int, int] = (30, 85)
    quantize_prob: float = 0.8
    # grey levels the face keeps: a GIF's 256-colour palette spans the whole frame, so a face gets a few dozen
    palette: tuple[int, int] = (8, 64)
    dither_prob: float = 0.5      # of the quantised: Floyd-Steinberg dithering (else none)


def _uniform(rng: np.random.Generator, bounds: tuple[float, float], log: bool = False) -> float:
    lo, hi = bounds
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) if log else float(rng.uniform(lo, hi))


def degrade(image: Image.Image, rng: np.random.Generator, options: GifLikeOptions) -> Image.Image:
    """Tone, blur, lossy encoding and palette changes of one grey frame-sized face ("L" image)."""
    x = np.asarray(image, dtype=np.float32) / 255
    x = np.clip(x ** _uniform(rng, options.gamma, log=True), 0, 1)
    x = np.clip((x - 0.5) * _uniform(rng, options.contrast) + 0.5 + rng.uniform(-1, 1) * options.brightness, 0, 1)
    image = Image.fromarray((x * 255 + 0.5).astype(np.uint8))
    if rng.random() < options.blur_prob:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, options.blur_radius)))
    if rng.random() < options.jpeg_prob:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=int(rng.integers(options.jpeg_quality[0], options.jpeg_quality[1] + 1)))
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    if rng.random() < options.quantize_prob:
        colours = int(round(_uniform(rng, options.palette, log=True)))
        # Pillow dithers only towards a given palette: choose the palette (median cut), then map onto it.
        rgb = image.convert("RGB")
        palette = rgb.quantize(colours, dither=Image.Dither.NONE)
        if rng.random() < options.dither_prob:
            palette = rgb.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)
        image = palette.convert("L")
    return image


def gif_like(image: np.ndarray, rng: np.random.Generator, options: GifLikeOptions = GifLikeOptions()) -> np.ndarray:
    """One 48x48 uint8 FER face as the face stream would crop it from a GIF frame: 48x48 uint8."""
    scale = _uniform(rng, options.face_scale, log=True)
    side = max(8, int(round(FER_SIZE * scale)))
    scale = side / FER_SIZE
    resample = Image.BICUBIC if side > FER_SIZE else Image.BOX
    frame = degrade(Image.fromarray(image).convert("L").resize((side, side), resample), rng, options)
    # Where the stream's landmarks would put the eyes and mouth, moved by the landmarks' own jitter.
    points = np.array([FER_EYE_MID - [FER_EYE_DISTANCE / 2, 0], FER_EYE_MID + [FER_EYE_DISTANCE / 2, 0],
                       FER_EYE_MID + [0, FER_EYE_MOUTH]]) * scale
    angle = rng.normal(0, options.angle_sd)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = FER_EYE_MID * scale
    points = (points - centre) @ rotation.T * np.exp(rng.normal(0, options.log_scale_sd)) + centre
    points += rng.normal(0, options.shift_sd, 2) * scale
    return align_points(np.asarray(frame), points[0], points[1], points[2])


def _bank_part(args) -> np.ndarray:
    images, seed, copy, start, options = args
    rng = np.random.default_rng([seed, copy, start])
    return np.stack([gif_like(image, rng, options) for image in images])


def gif_like_bank(images: np.ndarray, copies: int, seed: int, options: GifLikeOptions = GifLikeOptions(),
                  workers: int = 1, chunk: int = 2048) -> np.ndarray:
    """(copies, N, 48, 48) uint8: `copies` GIF-like versions of every image, the same for the same seed
    whatever the number of workers (each chunk has its own random stream)."""
    jobs = [(images[start:start + chunk], seed, copy, start, options)
            for copy in range(copies) for start in range(0, len(images), chunk)]
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            parts = list(pool.map(_bank_part, jobs))
    else:
        parts = [_bank_part(job) for job in jobs]
    return np.concatenate(parts).reshape(copies, *images.shape)


def measure_crops(transform: np.ndarray, gif: np.ndarray, frame: np.ndarray) -> dict:
    """How the stream's crops of GIF faces vary: the face size (frame px per FER px, percentiles) and the
    jitter between crops of one GIF's consecutive sampled frames (one face per frame, so the same face):
    standard deviations of the eye-midpoint shift (FER px, per axis), of log scale and of roll."""
    angle, scale, mid = transform[:, 0], transform[:, 1], transform[:, 2:4]
    shifts, log_scales, angles = [], [], []
    for g in np.unique(gif):
        rows = np.flatnonzero(gif == g)
        frames, counts = np.unique(frame[rows], return_counts=True)
        single = rows[np.isin(frame[rows], frames[counts == 1])]
        for a, b in zip(single[:-1], single[1:]):
            if frame[b] == frame[a] + 1:
                shifts.append((mid[b] - mid[a]) * scale[a])
                log_scales.append(np.log(scale[b] / scale[a]))
                angles.append(angle[b] - angle[a])
    # the difference of two independent jitters has sqrt(2) times their spread
    spread = lambda values: float(np.std(values) / np.sqrt(2)) if len(values) else float("nan")  # noqa: E731
    return {"faces": int(len(scale)), "pairs": len(shifts),
            "face_scale_percentiles": {str(p): float(np.percentile(1 / scale, p)) for p in (5, 25, 50, 75, 95)},
            "shift_sd": spread(np.concatenate(shifts)) if shifts else float("nan"),
            "log_scale_sd": spread(log_scales), "angle_sd": spread(angles)}
