"""Emotion of a typed message: NLTK preprocessing, a BiLSTM and a MiniLM-embedding head.

`load_model` and `TextEmotionModel` are imported on first use, so that `gifemo --help` does not
pay for torch and NLTK.
"""
MODEL_NAMES = ("bilstm", "minilm")
# The better of the two on the validation figures in data/weights/README.md.
DEFAULT_MODEL = "bilstm"

__all__ = ["DEFAULT_MODEL", "MODEL_NAMES", "TextEmotionModel", "load_model"]


def __getattr__(name: str):
    if name in ("load_model", "TextEmotionModel"):
        from . import model

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
