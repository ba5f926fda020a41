"""gifemo: recognise the emotion in animated GIFs and recommend GIFs for a message."""
from importlib.metadata import PackageNotFoundError, version as _version

from .emotions import EMOTIONS

try:
    __version__ = _version("gifemo")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["EMOTIONS", "__version__"]
