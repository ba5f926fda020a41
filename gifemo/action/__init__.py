"""Action stream: Kinetics-400 actions recognised by two-stream I3D, mapped to emotions."""

__all__ = ["ActionStream", "InceptionI3d"]


def __getattr__(name: str):
    # Imported on first use, so that `gifemo --help` does not load torch.
    if name == "InceptionI3d":
        from .i3d import InceptionI3d

        return InceptionI3d
    if name in __all__:
        from . import stream

        return getattr(stream, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
