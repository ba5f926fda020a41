"""Pretrained I3D weights: found through the model registry, loaded without running pickled code."""
from __future__ import annotations

import pickle


from .. import models
from ..config import Runtime
from .i3d import InceptionI3d

# Registry name -> input channels of the checkpoint.
I3D_CHECKPOINTS = {"i3d-rgb": 3, "i3d-flow": 2}


class UnusableWeightsError(RuntimeError):
    """A weights file is there but is not a loadable I3D state dict (damaged, truncated, other model)."""


def load_i3d(name: str, runtime: Runtime) -> InceptionI3d:
    """The pretrained model `name` ("i3d-rgb" or "i3d-flow") in eval mode.

    Never downloads: a missing file raises the registry's MissingModelError, whose message says how
    to get it (`gifemo models download i3d-rgb i3d-flow`).
    """
    path = models.resolve(name, runtime, download=False)
    model = InceptionI3d(num_classes=400, in_channels=I3D_CHECKPOINTS[name])
    try:
        model.load_state_dict(models.load_torch_checkpoint(path), strict=True)
    except (RuntimeError, OSError, EOFError, TypeError, pickle.UnpicklingError) as exc:
        # Only the first sentence: torch's full text suggests weights_only=False, unsafe for unknown files.
        detail = str(exc).split(". ")[0][:200] or type(exc).__name__
        raise UnusableWeightsError(
            f"{name}: {path} cannot be loaded as I3D weights ({detail}). "
            f"Delete it and run `gifemo models download {name}`.") from exc
    return model.eval()
