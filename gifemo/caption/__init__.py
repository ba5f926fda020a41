"""The caption stream: words written in a GIF (OCR), cleaned, scored by the text-emotion model.

`CaptionStream` is imported on first use so that importing the package does not load OCR runtimes.
"""
__all__ = ["CaptionStream"]


def __getattr__(name: str):
    if name in __all__:
        from . import stream

        return getattr(stream, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
