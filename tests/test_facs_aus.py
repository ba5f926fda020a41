"""The blendshape -> action-unit table (data/action_units.csv)."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gifemo.config import Runtime
from gifemo.facs.aus import action_units, au_names, load_action_units

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REQUIRED = [1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26, 28, 45]


def test_table_covers_required_aus_with_names():
    names = au_names()
    for n in REQUIRED:
        assert f"AU{n}" in names and len(names[f"AU{n}"]) > 3


def test_intensities_stay_in_unit_interval_for_hostile_inputs():
    shapes = {shape for unit in load_action_units() for shape, _ in unit.terms}
    for value in (-5.0, 0.0, 0.5, 1.0, 7.0, float("inf")):
        aus = action_units({shape: value for shape in shapes})
        assert all(0.0 <= v <= 1.0 for v in aus.values()), (value, aus)
    assert set(action_units({})) == set(au_names())  # missing blendshapes count as 0
    assert all(v == 0.0 for v in action_units({}).values())


def test_a_smile_moves_the_smile_units_only():
    aus = action_units({"mouthSmileLeft": 0.9, "mouthSmileRight": 0.7, "cheekSquintLeft": 0.6, "cheekSquintRight": 0.6})
    assert aus["AU12"] == pytest.approx(0.8)
    assert aus["AU6"] == pytest.approx(0.6)
    assert all(v == 0.0 for au, v in aus.items() if au not in ("AU6", "AU12"))


def test_one_sided_action_counts_half():
    assert action_units({"browDownLeft": 1.0})["AU4"] == pytest.approx(0.5)


def test_lips_part_is_cancelled_by_closed_lips():
    assert action_units({"jawOpen": 0.4})["AU25"] > 0.5
    assert action_units({"jawOpen": 0.4, "mouthClose": 0.4})["AU25"] == 0.0


def test_every_blendshape_in_the_table_is_one_mediapipe_produces():
    models_dir = SHARED / "models"
    if not SHARED.exists():
        pytest.skip("../shared is absent")
    from gifemo.facs.landmarks import FaceLandmarker

    image = next(iter(sorted((SHARED / "data/fer2013/val/happy").iterdir())))
    rgb = np.asarray(Image.open(image).convert("RGB"))
    with FaceLandmarker(max_faces=1, min_detection_confidence=0.3, runtime=Runtime(models_dir=models_dir)) as landmarker:
        faces = landmarker.detect(rgb)
    assert len(faces) == 1
    produced = set(faces[0].blendshapes)
    assert len(produced) == 52
    for unit in load_action_units():
        for shape, _ in unit.terms:
            assert shape in produced, f"{unit.au} uses {shape!r}, which MediaPipe does not output"
