"""Native libraries (MediaPipe's absl and TFLite, Ray's C++ core) that write straight to file descriptor 2 and
take no setting for some of their lines: quiet runs point fd 2 at /dev/null while they start."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager


@contextmanager
def native_stderr_silenced(quiet: bool):
    """With `quiet`, fd 2 (and so everything written to stderr, Python's too) goes to /dev/null meanwhile."""
    if not quiet:
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
