"""Exercises for notebook 00: a first, tiny one that shows how automatic feedback works."""

from __future__ import annotations

import torch

from . import Exercise


def _to_symmetric_range(images: torch.Tensor) -> torch.Tensor:
    return images * 2.0 - 1.0


def _diagnose_symmetric_range(args, expected, got):
    (images,) = args
    got = torch.as_tensor(got, dtype=torch.float64)
    images = images.double()
    if got.shape != images.shape:
        return "keep the shape: apply the same arithmetic to every pixel, without reshaping or reducing."
    if torch.allclose(got, images * 2.0, atol=1e-6):
        return "you stretched the range to [0, 2]; now shift it down by 1."
    if torch.allclose(got, images - 1.0, atol=1e-6) or torch.allclose(got, images - 0.5, atol=1e-6):
        return "you shifted the values but did not stretch them: the new range must be twice as wide."
    if torch.allclose(got, (images - 0.5) / 2.0, atol=1e-6):
        return "you halved the range instead of doubling it: multiply by 2, do not divide."
    return None


to_symmetric_range = Exercise(
    name="to_symmetric_range",
    reference=_to_symmetric_range,
    cases=[
        (torch.tensor([0.0, 0.5, 1.0]),),
        (torch.tensor([[0.25, 0.75], [0.1, 0.9]]),),
        (torch.linspace(0, 1, 28 * 28).reshape(1, 1, 28, 28),),
    ],
    hint="0 must become −1, 0.5 must become 0 and 1 must become 1; a straight line a·x + b through those points does it.",
    diagnose=_diagnose_symmetric_range,
)
