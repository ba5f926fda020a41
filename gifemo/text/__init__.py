"""Emotion of a typed message: NLTK preprocessing, a BiLSTM and a MiniLM-embedding head.

`load_model` and `TextEmotionModel` are imported on first use, so that `gifemo --help` does not
pay for torch and NLTK.
"""
__all__ = ["TextEmotionModel", "load_model"]


def __getattr__(name: str):
    if name in ("load_model", "TextEmotionModel"):
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
