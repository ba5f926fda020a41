"""Face alignment to FER2013 framing (eyes level, FER size and place)."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gifemo.config import Runtime
from gifemo.facs.align import FER_EYE_MID, align_face, align_points, face_transform, to_grey

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="module")
def landmarker():
    if not SHARED.exists():
        pytest.skip("../shared is absent")
    from gifemo.facs.landmarks import FaceLandmarker

    with FaceLandmarker(max_faces=1, min_detection_confidence=0.3, runtime=Runtime(models_dir=SHARED / "models")) as lm:
        yield lm


def _fer_face(name="happy", index=3):
    path = sorted((SHARED / "data/fer2013/val" / name).iterdir())[index]
    return np.asarray(Image.open(path).convert("L"))


def test_transform_of_a_tilted_face():
    angle, scale, mid = face_transform(np.array([0.0, 0.0]), np.array([30.0, 30.0]), np.array([-5.0, 40.0]))
    assert angle == pytest.approx(np.pi / 4)
    assert mid == pytest.approx([15, 15])
    assert scale > 0


def test_aligning_undoes_a_rotation_and_zoom(landmarker):
    face = _fer_face()
    big = np.asarray(Image.fromarray(face).resize((192, 192), Image.BICUBIC))
    tilted = np.asarray(Image.fromarray(big).rotate(25, resample=Image.BICUBIC, expand=True, fillcolor=128))
    rgb = np.repeat(tilted[..., None], 3, axis=2)
    faces = landmarker.detect(rgb)
    assert len(faces) == 1
    eye_a, eye_b = faces[0].eye_centres
    assert abs(np.degrees(np.arctan2(*(eye_b - eye_a)[::-1]))) > 15  # the input really is tilted
    crop = align_face(rgb, faces[0])
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    # The crop is level again: the landmarker finds the eyes horizontal and where FER2013 has them.
    again = landmarker.detect(np.repeat(crop[..., None], 3, axis=2))
    assert len(again) == 1
    eye_a, eye_b = again[0].eye_centres
    assert abs(np.degrees(np.arctan2(*(eye_b - eye_a)[::-1]))) < 5
    assert np.abs((eye_a + eye_b) / 2 - FER_EYE_MID).max() < 4
    # ... and it looks like the original FER2013 image.
    assert np.corrcoef(crop.ravel().astype(float), face.ravel().astype(float))[0, 1] > 0.8


def test_scale_follows_the_face_size():
    frame = np.zeros((400, 400, 3), dtype=np.uint8)
    frame[100:300, 100:300] = 255  # a bright square standing in for a face
    small = align_points(frame, (180, 180), (220, 180), (200, 222))
    large = align_points(frame, (150, 180), (250, 180), (200, 285))
    assert large.mean() < small.mean()  # a wider-set pair of eyes means a larger face: the square fills less


def test_to_grey_accepts_any_image():
    for image in (np.zeros((10, 7), np.uint8), np.zeros((100, 80, 3), np.uint8), np.zeros((48, 48, 4), np.uint8),
                  Image.new("P", (30, 30))):
        out = to_grey(image)
        assert out.shape == (48, 48) and out.dtype == np.uint8
