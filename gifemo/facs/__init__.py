"""The face / FACS stream: MediaPipe faces and blendshapes -> action units, EMFACS rules and an
expression CNN on FER2013-aligned crops -> emotion scores per face, per frame and per GIF."""

__all__ = ["FaceObservation", "FaceStream"]


def __getattr__(name: str):
    # Imported on first use, so that `gifemo --help` does not load torch.
    if name in __all__:
        from . import stream

        return getattr(stream, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
