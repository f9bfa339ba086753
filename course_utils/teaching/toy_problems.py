"""Toy regression problems for notebook 01, clearly synthetic: points around a line, a two-mode target, toy faces.

Each one has several correct answers for the same input, so a network trained with MSE shows what it really learns:
the average of the correct answers (the conditional mean), not any one of them.
"""

from __future__ import annotations

import torch


def points_around_line(n: int, slope: float = 0.8, intercept: float = 0.2, noise: float = 0.3,
                       seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points (x, y) with x uniform in [−2, 2] and y = slope·x + intercept + Gaussian noise; two n×1 tensors."""
    rng = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=rng) * 4 - 2
    y = slope * x + intercept + noise * torch.randn(n, 1, generator=rng)
    return x, y


def two_mode_targets(n: int, modes: tuple[float, float] = (0.15, 0.85), spread: float = 0.03, first_share: float = 0.5,
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A toy "hair brightness" target: each of ``n`` inputs x ∈ [0, 1] gets one of two ``modes`` plus noise, the first
    with probability ``first_share``.

    The input carries no information about which mode, so both are correct answers for every x.
    """
    if not 0 <= first_share <= 1:
        raise ValueError(f"first_share must be between 0 and 1, got {first_share}")
    rng = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=rng)
    pick = (torch.rand(n, 1, generator=rng) >= first_share).long()
    y = torch.tensor(modes)[pick] + spread * torch.randn(n, 1, generator=rng)
    return x, y


def toy_faces(n: int, beard_probability: float = 0.5, size: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` cartoon faces (n×1×size×size, ink = 1): a round head and two eyes; a beard with ``beard_probability``.

    Returns the images and a boolean tensor saying which faces have a beard. A toy, not data: it isolates one attribute.
    """
    if not 0 <= beard_probability <= 1:
        raise ValueError(f"beard_probability must be between 0 and 1, got {beard_probability}")
    rng = torch.Generator().manual_seed(seed)
    row, col = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    centre = (size - 1) / 2
    radius = torch.hypot(row - centre, col - centre)
    head = ((radius > 0.36 * size) & (radius < 0.46 * size)).float()
    eyes = ((row - 0.38 * size).abs() < 0.06 * size) & (((col - 0.33 * size).abs() < 0.06 * size) | ((col - 0.64 * size).abs() < 0.06 * size))
    beard = (radius < 0.42 * size) & (row > 0.62 * size)
    has_beard = torch.rand(n, generator=rng) < beard_probability
    faces = torch.maximum(head, eyes.float()).expand(n, size, size).clone()
    faces[has_beard] = torch.maximum(faces[has_beard], beard.float())
    return faces.unsqueeze(1), has_beard


def beard_region(size: int = 20) -> torch.Tensor:
    """Boolean size×size mask of the pixels that only a beard covers (inside the head, below the mouth line)."""
    with_beard, _ = toy_faces(1, beard_probability=1.0, size=size)
    without, _ = toy_faces(1, beard_probability=0.0, size=size)
    return (with_beard - without)[0, 0] > 0
