"""The drawn-face stream on drawings the project generates (no fonts needed) and on real GIFs from ../shared."""
from __future__ import annotations

import csv
import random

import numpy as np
import pytest
from PIL import Image

from gifemo.config import DrawnOptions, Runtime
from gifemo.demo import make_demo_gifs
from gifemo.drawn.crops import choose_crop, cut
from gifemo.drawn.model import INPUT_SIZE, DrawnNet, average_drawn, load_drawn, predict_proba, save_drawn
from gifemo.drawn.procedural import demo_face, draw_face
from gifemo.drawn.style import StyleModel, clip_features
from gifemo.emotions import EMOTIONS
from gifemo.media import read_clip
from gifemo.models import MissingModelError
from gifemo.paths import WEIGHTS_DIR

from conftest import SHARED

MODELS = SHARED / "models"


@pytest.fixture(scope="module")
def stream():
    from gifemo.drawn.stream import DrawnStream

    # the landmarker needs ../shared's model file; without it the stream reads objects and frames only
    options = DrawnOptions(landmarks=(MODELS / "mediapipe" / "face_landmarker.task").exists())
    with DrawnStream(options, Runtime(models_dir=MODELS, threads=1)) as s:
        yield s


def _sticker_frames(emotion: str, seed: int, count: int = 4) -> list[np.ndarray]:
    """A procedural face bouncing on a white background, as a sticker GIF would show it."""
    rng = random.Random(seed)
    face = draw_face(emotion, rng).image
    frames = []
    for k in range(count):
        canvas = Image.new("RGB", (160, 160), "white")
        canvas.paste(face, (16, 16 + 4 * k), face)
        frames.append(np.asarray(canvas))
    return frames


def _write_gif(path, frames) -> None:
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)


@pytest.fixture(scope="module")
def demo_evidence(tmp_path_factory, stream):
    folder = tmp_path_factory.mktemp("demo")
    return {path.name.split("-")[0]: stream.analyze(read_clip(path, num_frames=16)) for path in make_demo_gifs(folder)}


def test_demo_emoji_are_read_seven_of_seven_as_drawn_faces(demo_evidence):
    # the demo's style is in the CNN's training mix (procedural.demo_face), so this is a learnt-style figure
    assert {e: ev.emotion for e, ev in demo_evidence.items()} == {e: e for e in EMOTIONS}
    for evidence in demo_evidence.values():
        assert evidence.stream == "drawn" and evidence.coverage == 1.0
        assert evidence.details["drawn_probability"] > 0.5
        assert evidence.details["model"] == "drawn"
        assert all(face["source"] in ("object", "landmarks") for face in evidence.details["faces"])
        assert abs(sum(evidence.scores.values()) - 1) < 1e-6 and 0 < evidence.confidence <= 1


def test_style_check_tells_drawings_from_a_photographed_face(shared_dir):
    style = StyleModel.load()
    for emotion in EMOTIONS:
        assert style.probability(clip_features(_sticker_frames(emotion, seed=7))) > 0.5, emotion
    rows = list(csv.DictReader(open(shared_dir / "data" / "gifs_train" / "manifest.csv", encoding="utf-8")))
    photo = next(r for r in rows if r["content"] == "live-action-face")
    clip = read_clip(shared_dir / "data" / "gifs_train" / photo["file"], num_frames=6)
    assert style.probability(clip_features(clip.frames)) < 0.5, photo["file"]


def test_photographed_gif_is_left_to_the_face_stream(gifs_dev, stream):
    evidence = stream.analyze(read_clip(gifs_dev / "Happiness" / "a6195f33a703.gif", num_frames=16))
    assert evidence.abstained and evidence.details["drawn_probability"] < 0.5
    assert "photographed" in evidence.reason


def test_gif_without_a_face_or_object_abstains(tmp_path, stream):
    path = tmp_path / "blank.gif"
    _write_gif(path, [np.full((120, 120, 3), (40, 160, 220), np.uint8)] * 4)
    evidence = stream.analyze(read_clip(path, num_frames=16))
    assert evidence.abstained and evidence.coverage == 0.0
    assert evidence.reason and evidence.details["model"] == "drawn"


def test_crop_is_the_sticker_on_a_flat_background_and_none_on_a_flat_frame():
    frame = _sticker_frames("happiness", seed=3, count=1)[0]
    left, top, right, bottom = draw_face("happiness", random.Random(3)).image.getbbox()
    left, top, right, bottom = left + 16, top + 16, right + 16, bottom + 16   # where _sticker_frames pasted it
    crop = choose_crop(frame, [])
    x, y, w, h = crop.box
    assert crop.source == "object" and w == h
    assert x <= left + 2 and y <= top + 2 and x + w >= right - 2 and y + h >= bottom - 2   # the whole face
    assert w <= 1.15 * max(right - left, bottom - top)                                     # and little else
    assert cut(frame, crop).shape == (INPUT_SIZE, INPUT_SIZE, 3)
    assert choose_crop(np.zeros((50, 80, 3), np.uint8), []) is None
    rng = np.random.default_rng(0)
    busy = rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)
    assert choose_crop(busy, []).source == "frame"
    assert choose_crop(busy, [(30, 20, 30, 30)]).source == "landmarks"


def test_weights_round_trip(tmp_path):
    model = DrawnNet((8, 16, 16, 16)).eval()
    images = np.stack([_sticker_frames(e, seed=1, count=1)[0][::2, ::2][:INPUT_SIZE, :INPUT_SIZE] for e in EMOTIONS[:3]])
    path = save_drawn(model, tmp_path / "drawn.pt", {"note": "test"})
    loaded = load_drawn(path)
    # stored as float16: outputs agree to float16 precision
    np.testing.assert_allclose(predict_proba(loaded, images), predict_proba(model, images), atol=2e-3)
    with pytest.raises(MissingModelError, match="gifemo train drawn"):
        load_drawn(tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(Exception):
        load_drawn(tmp_path / "bad.pt")


def test_averaged_weights_are_the_mean_of_the_runs(tmp_path):
    torch = pytest.importorskip("torch")
    runs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        runs.append(save_drawn(DrawnNet((8, 16, 16, 16)), tmp_path / f"run{seed}.pt"))
    first, second, mean = load_drawn(runs[0]), load_drawn(runs[1]), average_drawn(runs)
    for name, value in mean.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, (first.state_dict()[name] + second.state_dict()[name]) / 2)
    images = np.stack([_sticker_frames(e, seed=2, count=1)[0][:INPUT_SIZE, :INPUT_SIZE] for e in EMOTIONS])
    np.testing.assert_allclose(predict_proba(average_drawn([runs[0], runs[0]]), images), predict_proba(first, images),
                               atol=1e-6)
    save_drawn(DrawnNet((8, 16, 16, 32)), tmp_path / "wider.pt")
    with pytest.raises(ValueError, match="different widths"):
        average_drawn([runs[0], tmp_path / "wider.pt"])


def test_demo_style_faces_vary_in_size_and_colour():
    rng = random.Random(0)
    faces = [demo_face("fear", rng).image for _ in range(12)]
    assert len({face.size for face in faces}) > 6   # its strokes are fixed in pixels: their weight varies too
    # the head's colour, just above the chin (no feature is drawn there)
    heads = {face.getpixel((face.width // 2, int(0.93 * face.width))) for face in faces}
    assert len(heads) > 3 and all(colour[3] == 255 for colour in heads)
    assert all(face.getpixel((0, 0))[3] == 0 for face in faces)   # transparent around the round head


def test_committed_weights_are_small():
    assert (WEIGHTS_DIR / "drawn_expression.pt").stat().st_size < 1_000_000
