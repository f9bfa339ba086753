"""Argument types for the command-line tools of ``benchmarks/`` and ``tools/``: ``type=positive_float`` and so on.

A bad number stops the command with argparse's one-line error (``argument --seconds: 'nan' is not a finite number``,
exit code 2) before it starts any work, instead of hanging or training on it.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import torch


def finite_float(text: str) -> float:
    """A number that is neither NaN nor infinite."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_float(text: str) -> float:
    """A finite number above 0, e.g. ``--seconds 3``."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not above 0")
    return value


def whole_number(text: str) -> int:
    """An integer written without a decimal point, e.g. ``--seed 3``."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def non_negative_int(text: str) -> int:
    """A whole number ≥ 0, e.g. ``--warmup 0``."""
    value = whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is below 0")
    return value


def positive_int(text: str) -> int:
    """A whole number ≥ 1, e.g. ``--threads 2``."""
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not 1 or more")
    return value


def positive_ints(text: str) -> list[int]:
    """Comma-separated whole numbers ≥ 1, e.g. ``--epochs 20,40,60`` (empty items are skipped)."""
    return [positive_int(item.strip()) for item in text.split(",") if item.strip()]


def model_names(known) -> Callable[[str], list[str]]:
    """An argument type for ``--models``: comma-separated names, each one of ``known`` (a dict or a list of keys)."""

    def names(text: str) -> list[str]:
        chosen = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in known]
        if unknown or not chosen:
            problem = f"unknown model(s) {unknown}" if unknown else "no model named"
            raise argparse.ArgumentTypeError(f"{problem}; choose from {', '.join(known)}")
        return chosen

    return names


def parse_with_threads(parser: argparse.ArgumentParser, default: int | None = None,
                       meaning: str = "default: PyTorch's choice") -> argparse.Namespace:
    """Add ``--threads N`` (the CPU threads PyTorch uses), read the command line, and set the threads before any
    work starts."""
    parser.add_argument("--threads", type=positive_int, default=default, help=f"CPU threads for PyTorch ({meaning})")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    return args
