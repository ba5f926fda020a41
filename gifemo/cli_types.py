"""Argument types of the command lines: a value out of range is a usage error (exit 2) naming the option,
not a failure of every file tagged with it."""
from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:   # also refuses nan
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value
