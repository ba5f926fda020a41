"""The action stream end to end: without weights (as on CI), with damaged weights, and with weights
that make each stream vote for a known class, so the two-stream averaging can be checked."""
import json

import numpy as np
import pytest
import torch

from gifemo import cli, config
from gifemo.action import ActionStream, InceptionI3d
from gifemo.action.kinetics import load_labels
from gifemo.emotions import EMOTIONS
from gifemo.config import ActionOptions, Runtime
from gifemo.media import MediaError, read_clip
from gifmaker import Frame, make_gif

FAST = dict(min_frames=16, max_frames=16)  # one I3D output step: keeps each forward pass to seconds


@pytest.fixture(autouse=True)
def isolated(monkeypatch, models_dir, tmp_path):
    """Only the shared models dir (label map, no I3D weights) and an empty cache; never download."""
    monkeypatch.setenv("GIFEMO_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("GIFEMO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GIFEMO_OFFLINE", "1")
    torch.set_num_threads(2)


def voting_weights(in_channels: int, votes: dict[int, float]) -> dict:
    """A state dict whose logits ignore the clip: class index -> logit."""
    state = InceptionI3d(in_channels=in_channels).state_dict()
    state["logits.conv3d.weight"].zero_()
    state["logits.conv3d.bias"].zero_()
    for index, logit in votes.items():
        state["logits.conv3d.bias"][index] = logit
    return state


@pytest.fixture(scope="module")
def classes(models_dir):
    labels = load_labels(Runtime(models_dir=models_dir))
    return {name: labels.index(name) for name in ("laughing", "crying")}


@pytest.fixture(scope="module")
def voting_models(tmp_path_factory, classes, models_dir):
    """RGB votes 'laughing', flow votes 'crying', both with logit 12 (everything else 0); the real label map."""
    root = tmp_path_factory.mktemp("models")
    (root / "i3d").mkdir()
    (root / "i3d" / "label_map.txt").write_bytes((models_dir / "i3d" / "label_map.txt").read_bytes())
    torch.save(voting_weights(3, {classes["laughing"]: 12.0}), root / "i3d" / "rgb_imagenet.pt")
    torch.save(voting_weights(2, {classes["crying"]: 12.0}), root / "i3d" / "flow_imagenet.pt")
    return root


@pytest.fixture
def moving_gif(tmp_path):
    frames = []
    for step in range(6):
        pixels = np.zeros((60, 80), dtype=np.uint8)
        pixels[20:40, 10 + 8 * step:30 + 8 * step] = 1  # a red square moving right
        frames.append(Frame(pixels, delay_cs=8))
    path = tmp_path / "moving.gif"
    path.write_bytes(make_gif(frames, 80, 60))
    return path


def test_without_weights_the_stream_is_unavailable_with_the_registry_message(tmp_path, moving_gif):
    stream = ActionStream(runtime=Runtime(models_dir=tmp_path / "empty"))
    assert not stream.available
    assert "i3d/rgb_imagenet.pt" in stream.reason and "gifemo models download i3d-rgb" in stream.reason
    evidence = stream.analyze(read_clip(moving_gif, num_frames=1))
    assert evidence.abstained and evidence.scores == {} and evidence.confidence == 0
    assert "i3d/rgb_imagenet.pt" in evidence.reason and "\n" not in evidence.reason
    assert json.loads(json.dumps(evidence.to_dict()))["details"]["available"] is False


def test_missing_flow_weights_only_block_the_two_stream_mode(tmp_path, voting_models):
    (tmp_path / "i3d").mkdir()
    for name in ("rgb_imagenet.pt", "label_map.txt"):
        (tmp_path / "i3d" / name).write_bytes((voting_models / "i3d" / name).read_bytes())
    two_stream = ActionStream(ActionOptions(flow="dis"), Runtime(models_dir=tmp_path))
    assert not two_stream.available and "gifemo models download i3d-flow" in two_stream.reason
    assert ActionStream(ActionOptions(flow="none"), Runtime(models_dir=tmp_path)).available


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", "state"])
def test_damaged_weights_make_the_stream_unavailable(tmp_path, content):
    (tmp_path / "i3d").mkdir()
    path = tmp_path / "i3d" / "rgb_imagenet.pt"
    if content == "state":  # a real checkpoint, of another model
        torch.save({"conv.weight": torch.zeros(3, 3)}, path)
    else:
        path.write_bytes(content)
    stream = ActionStream(ActionOptions(flow="none"), Runtime(models_dir=tmp_path))
    assert not stream.available
    assert str(path) in stream.reason and "cannot be loaded" in stream.reason
    assert "weights_only=False" not in stream.reason  # torch's advice to run pickled code is not passed on


def test_two_stream_averages_the_streams_logits(voting_models, moving_gif):
    stream = ActionStream(ActionOptions(flow="farneback", **FAST), Runtime(models_dir=voting_models))
    assert stream.available, stream.reason
    analysis = stream.analyze(read_clip(moving_gif, num_frames=1))
    # Each class got logit 12 from one stream and 0 from the other: 6 each after averaging.
    probs = np.full(400, 1.0)
    probs[[stream.emotion_map.actions.index(name) for name in ("laughing", "crying")]] = np.exp(6)
    probs /= probs.sum()
    top = dict(analysis.details["top_actions"])
    assert list(top)[:2] in (["laughing", "crying"], ["crying", "laughing"]) and len(top) == 5
    assert top["laughing"] == pytest.approx(probs.max(), abs=1e-4) and top["crying"] == pytest.approx(probs.max(), abs=1e-4)
    mass = stream.emotion_map.emotion_mass(probs)
    assert not analysis.abstained and analysis.confidence > 0
    assert analysis.details["mapped_mass"] == pytest.approx(mass.sum(), rel=1e-4)
    assert [analysis.scores[name] for name in EMOTIONS] == pytest.approx(mass / mass.sum(), abs=1e-4)
    assert analysis.scores["happiness"] > 0.45 and analysis.scores["sadness"] > 0.45

def test_rgb_only_follows_the_rgb_stream(voting_models, moving_gif):
    analysis = ActionStream(ActionOptions(flow="none", **FAST), Runtime(models_dir=voting_models)).analyze(read_clip(moving_gif, num_frames=1))
    assert analysis.details["top_actions"][0][0] == "laughing" and analysis.details["top_actions"][0][1] > 0.99
    assert analysis.scores["happiness"] > 0.99


def test_undecodable_file_raises_media_error(voting_models, tmp_path):
    bad = tmp_path / "bad.gif"
    bad.write_bytes(b"GIF89a" + b"\x00" * 5)
    with pytest.raises(MediaError):
        ActionStream(ActionOptions(flow="none", **FAST), Runtime(models_dir=voting_models)).analyze(read_clip(bad, num_frames=1))


def test_cli_prints_json_and_text(monkeypatch, capsys, voting_models, moving_gif):
    monkeypatch.setattr(config, "ActionOptions", lambda **kw: ActionOptions(**kw, **FAST))
    assert cli.main(["actions", str(moving_gif), "--flow", "none", "--json", "--models-dir", str(voting_models)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["details"]["top_actions"][0][0] == "laughing" and result["flow"] == "none"
    assert max(result["scores"], key=result["scores"].get) == "happiness"
    assert cli.main(["actions", str(moving_gif), "--flow", "none", "--models-dir", str(voting_models)]) == 0
    text = capsys.readouterr().out
    assert "(RGB only)" in text and "laughing" in text and "emotion: happiness" in text


def test_cli_without_weights_says_how_to_get_them(capsys, tmp_path, moving_gif):
    assert cli.main(["actions", str(moving_gif), "--models-dir", str(tmp_path)]) == 1
    assert "gifemo models download i3d-rgb" in capsys.readouterr().err
