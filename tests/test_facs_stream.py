"""The face stream end to end: a real face GIF, a generated GIF without a face, and the `gifemo face` CLI."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gifemo import models
from gifemo.cli import main
from gifemo.config import Runtime
from gifemo.emotions import EMOTIONS
from gifemo.evidence import Evidence
from gifemo.media import read_clip

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FACE_GIF = SHARED / "data/gifs_dev/Happiness/fa78d4f4edc0.gif"  # "putin laugh": one real face, laughing


@pytest.fixture(scope="module")
def stream():
    if not SHARED.exists():
        pytest.skip("../shared is absent")
    from gifemo.facs import FaceStream

    with FaceStream(runtime=Runtime(models_dir=SHARED / "models")) as s:
        yield s


def _is_distribution(scores):
    return set(scores) == set(EMOTIONS) and math.isclose(sum(scores.values()), 1.0, abs_tol=1e-9) \
        and all(v >= 0 for v in scores.values())


def test_real_face_gif_end_to_end(stream):
    clip = read_clip(FACE_GIF, num_frames=6)
    evidence = stream.analyze(clip)
    details = evidence.details
    assert evidence.stream == "face" and details["frames_analyzed"] == 6 and len(details["timeline"]) == 6
    assert details["frames_with_face"] >= 4 and evidence.coverage == details["frames_with_face"] / 6
    assert _is_distribution(evidence.scores) and _is_distribution(details["scores_mean"])
    assert evidence.emotion == "happiness"  # a laughing face
    assert 0 < evidence.confidence <= 1 and evidence.reason.startswith("happiness face in ")
    width, height = Image.open(FACE_GIF).size
    for faces in stream.analyze_frames(clip.frames, clip.times):
        for obs in faces:
            x, y, w, h = obs.box
            assert 0 <= x and 0 <= y and w > 10 and h > 10 and x + w <= width and y + h <= height
            assert _is_distribution(obs.scores)
            assert all(0 <= v <= 1 for v in obs.aus.values()) and "AU12" in obs.aus
    assert [t["time"] for t in details["timeline"]] == sorted(t["time"] for t in details["timeline"])
    assert "AU12" in dict(details["top_aus"])  # smiling shows in the action units too
    assert Evidence.from_dict(json.loads(json.dumps(evidence.to_dict()))) == evidence


def test_gif_without_a_face(stream, tmp_path):
    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)) for _ in range(4)]
    path = tmp_path / "noise.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    evidence = stream.analyze(read_clip(path, num_frames=4))
    assert evidence.abstained and evidence.emotion is None and evidence.confidence == 0.0
    assert evidence.coverage == 0 and evidence.reason == "no face in 4 sampled frames"
    assert all(t["scores"] is None for t in evidence.details["timeline"])
    json.dumps(evidence.to_dict())


def test_classify_aligned_recognises_fer_faces(stream):
    folder = SHARED / "data/fer2013/val"
    names = {"happy": "happiness", "surprise": "surprise"}
    for name, emotion in names.items():
        images = [Image.open(p) for p in sorted((folder / name).iterdir())[:20]]
        results = stream.classify_aligned(images)
        assert all(_is_distribution(r) for r in results)
        hits = sum(max(r, key=r.get) == emotion for r in results)
        assert hits >= 14, (name, hits)  # these two classes are recognised far above chance


def test_cli_aligned_and_detected(tmp_path, capsys):
    if not SHARED.exists():
        pytest.skip("../shared is absent")
    folder = tmp_path / "crops"
    folder.mkdir()
    for p in sorted((SHARED / "data/fer2013/val/happy").iterdir())[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.jpg").write_bytes(b"not an image")
    frame = Image.open(FACE_GIF).convert("RGB")
    frame.save(tmp_path / "frame.png")
    out = tmp_path / "aligned.jsonl"
    models_dir = ["--models-dir", str(SHARED / "models")]
    assert main(["face", str(folder), "--aligned", "--jsonl", str(out), *models_dir]) == 1  # one unreadable file
    said = f"FAILED {folder / 'broken.jpg'}: cannot read image: not an image format it can read\n"
    assert capsys.readouterr().err == said   # one line naming the file once
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 3
    for line in lines:
        (face,) = line["faces"]
        assert face["box"] == [0, 0, 48, 48] and _is_distribution(face["scores"])
        assert face["emotion"] in EMOTIONS
    # --aligned defaults to the 10-crop protocol: the same scores as the ensemble on 10 views
    import torch

    from gifemo.facs.expression import predict_proba
    from gifemo.facs.weights import load_expression

    grey = np.asarray(Image.open(lines[0]["path"]).convert("L"), dtype=np.float32) / 255
    expected = predict_proba(load_expression(models.resolve("face-expression", Runtime())), torch.from_numpy(grey)[None, None], views=10)[0].numpy()
    assert np.allclose([lines[0]["faces"][0]["scores"][e] for e in EMOTIONS], expected, atol=1e-3)
    fast = tmp_path / "aligned-1-view.jsonl"
    assert main(["face", str(folder / lines[0]["path"].split("/")[-1]), "--aligned", "--views", "1",
                 "--jsonl", str(fast), *models_dir]) == 0
    (single,) = [json.loads(line) for line in fast.read_text().splitlines()]
    scores = single["faces"][0]["scores"]
    assert _is_distribution(scores) and scores != lines[0]["faces"][0]["scores"]  # fewer views, other averages
    out = tmp_path / "detected.jsonl"
    assert main(["face", str(tmp_path / "frame.png"), "--jsonl", str(out), *models_dir]) == 0
    (line,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert line["path"].endswith("frame.png") and len(line["faces"]) >= 1
    assert _is_distribution(line["faces"][0]["scores"]) and "AU12" in line["faces"][0]["aus"]


def test_onnx_runtime_gives_the_torch_scores_and_exports_once(tmp_path):
    if not SHARED.exists():
        pytest.skip("../shared is absent")
    from gifemo.config import FaceOptions
    from gifemo.facs import FaceStream

    runtime = Runtime(models_dir=SHARED / "models", cache_dir=tmp_path)
    clip = read_clip(FACE_GIF, num_frames=4)
    with FaceStream(FaceOptions(onnx_runtime=False), runtime) as plain:
        expected = plain.analyze(clip)
    with FaceStream(FaceOptions(onnx_runtime=True), runtime) as fast:
        (graph,) = (tmp_path / "models" / "built").glob("face-expression-*.onnx")
        exported = graph.stat().st_mtime_ns
        found = fast.analyze(clip)
    assert found.emotion == expected.emotion and found.details["frames_with_face"] >= 3
    assert max(abs(found.scores[e] - expected.scores[e]) for e in EMOTIONS) < 1e-5
    with FaceStream(FaceOptions(onnx_runtime=True), runtime):
        assert graph.stat().st_mtime_ns == exported  # the cached graph is loaded, not exported again
