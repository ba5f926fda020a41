"""I3D parity: the project's InceptionI3d loads the published checkpoints' state dict strictly and
reproduces the reference implementation's logits (shared/models/i3d/reference_parity.json)."""
import json
import math

import pytest
import torch

from gifemo.action import InceptionI3d
from gifemo.action.i3d import same_padding


@pytest.fixture(scope="module")
def reference(models_dir):
    return json.loads((models_dir / "i3d" / "reference_parity.json").read_text())


def deterministic_weights(shapes: dict) -> dict:
    """The weights of the reference, built by the rule in shared/models/i3d/README.md."""
    state = {}
    for i, key in enumerate(sorted(shapes)):
        shape, g = tuple(shapes[key]), torch.Generator().manual_seed(i)
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros(shape, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = 1.0 + 0.1 * torch.rand(shape, generator=g)
        elif len(shape) > 1:
            state[key] = torch.randn(shape, generator=g) * math.sqrt(2 / math.prod(shape[1:]))
        elif key.endswith("bn.weight"):
            state[key] = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            state[key] = 0.1 * torch.randn(shape, generator=g)
    return state


@pytest.mark.parametrize("case", ["rgb", "flow", "rgb_32frames"])
def test_logits_match_reference(reference, case):
    ref = reference[case]
    model = InceptionI3d(num_classes=400, in_channels=ref["in_channels"]).eval()
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == ref["state_dict_shapes"]
    model.load_state_dict(deterministic_weights(ref["state_dict_shapes"]), strict=True)
    frames = 32 if case == "rgb_32frames" else 16
    clip = torch.randn((1, ref["in_channels"], frames, 224, 224),
                       generator=torch.Generator().manual_seed(1234)).clamp(-1, 1)
    torch.set_num_threads(2)
    with torch.inference_mode():
        logits = model(clip)
    assert list(logits.shape) == ref["output_shape"]
    expected = torch.tensor(ref["logits_full"])
    assert (logits[0] - expected).abs().max().item() < 1e-4
    assert logits[0].mean(dim=1).argmax().item() == ref["logits_time_mean_argmax"]


@pytest.mark.parametrize("size,kernel,stride,expected", [
    (224, 7, 2, (2, 3)),   # TensorFlow puts the odd pixel after: PyTorch's padding=3 would shift the map
    (16, 7, 2, (2, 3)),
    (15, 7, 2, (3, 3)),
    (56, 3, 2, (0, 1)),
    (8, 3, 1, (1, 1)),
    (7, 2, 2, (0, 1)),
    (8, 1, 1, (0, 0)),
])
def test_same_padding_gives_ceil_output(size, kernel, stride, expected):
    assert same_padding(size, kernel, stride) == expected
    before, after = expected
    assert (size + before + after - kernel) // stride + 1 == math.ceil(size / stride)

