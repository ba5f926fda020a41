"""The GIF-like degradation of FER faces: palettes, shapes, determinism, and the crop-jitter measurement."""
from dataclasses import replace

import numpy as np
from PIL import Image

from gifemo.facs.gif_augment import GifLikeOptions, degrade, gif_like, gif_like_bank, measure_crops

NOTHING = GifLikeOptions(blur_prob=0, jpeg_prob=0, quantize_prob=0, gamma=(1, 1), contrast=(1, 1), brightness=0)


def _face(seed: int = 0) -> np.ndarray:
    """A smooth 48x48 grey image with every grey level in it (a gradient plus a disc)."""
    y, x = np.mgrid[0:48, 0:48]
    image = (x * 255 / 47 * 0.7 + 60 * ((x - 24) ** 2 + (y - 26) ** 2 < 100)) + np.random.default_rng(seed).normal(0, 3, (48, 48))
    return np.clip(image, 0, 255).astype(np.uint8)


def test_quantisation_keeps_at_most_the_palette_with_and_without_dithering():
    big = Image.fromarray(_face()).resize((120, 120), Image.BICUBIC)
    assert len(np.unique(np.asarray(big))) > 100
    for dither in (0.0, 1.0):
        options = replace(NOTHING, quantize_prob=1.0, palette=(8, 8), dither_prob=dither)
        out = np.asarray(degrade(big, np.random.default_rng(1), options))
        assert out.shape == (120, 120) and len(np.unique(out)) <= 8
    plain = np.asarray(degrade(big, np.random.default_rng(1), replace(NOTHING, quantize_prob=1.0, palette=(8, 8), dither_prob=0.0)))
    dithered = np.asarray(degrade(big, np.random.default_rng(1),
                                  replace(NOTHING, quantize_prob=1.0, palette=(8, 8), dither_prob=1.0)))
    # dithering scatters the levels: many more level changes between neighbouring pixels than flat bands
    changes = lambda a: int((np.diff(a.astype(int), axis=1) != 0).sum())  # noqa: E731
    assert changes(dithered) > 2 * changes(plain)


def test_gif_like_faces_are_fer_shaped_deterministic_and_varied():
    face = _face()
    a = gif_like(face, np.random.default_rng(7))
    b = gif_like(face, np.random.default_rng(7))
    c = gif_like(face, np.random.default_rng(8))
    assert a.shape == (48, 48) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # With nothing but the round trip through the stream's alignment (no jitter, same size) the face stays put.
    still = gif_like(face, np.random.default_rng(0), replace(NOTHING, face_scale=(1, 1), shift_sd=0, log_scale_sd=0,
                                                             angle_sd=0))
    assert np.abs(still.astype(int) - face.astype(int)).mean() < 6


def test_bank_is_the_same_for_the_same_seed_whatever_the_workers():
    images = np.stack([_face(i) for i in range(6)])
    one = gif_like_bank(images, 2, seed=3, chunk=4)
    two = gif_like_bank(images, 2, seed=3, chunk=4, workers=2)
    assert one.shape == (2, 6, 48, 48) and np.array_equal(one, two)
    assert not np.array_equal(one[0], one[1])
    assert not np.array_equal(one, gif_like_bank(images, 2, seed=4, chunk=4))


def test_measure_crops_recovers_a_known_jitter():
    rng = np.random.default_rng(0)
    rows = []
    for g in range(300):
        scale = rng.uniform(0.3, 1.0)    # FER px per frame px
        for f in range(8):
            # each crop: the same face position plus independent jitter of 1.5 FER px, 0.05 log scale, 0.02 rad
            rows.append((g, f, rng.normal(0, 0.02), scale * np.exp(rng.normal(0, 0.05)),
                         100 + rng.normal(0, 1.5) / scale, 80 + rng.normal(0, 1.5) / scale))
    g, f, angle, scale, x, y = map(np.array, zip(*rows))
    measured = measure_crops(np.stack([angle, scale, x, y], 1), g, f)
    assert measured["pairs"] == 300 * 7
    assert abs(measured["shift_sd"] - 1.5) < 0.15
    assert abs(measured["log_scale_sd"] - 0.05) < 0.006 and abs(measured["angle_sd"] - 0.02) < 0.003
    assert 1.0 < measured["face_scale_percentiles"]["50"] < 3.4
