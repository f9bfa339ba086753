"""A generator's latent space: drawing z from the prior, interpolation (linear and spherical), attribute arithmetic.

Every generative model of the course draws its latent vectors with :func:`sample_latent`. Attributes are measured
on the images themselves — ink (how much of the image is stroke) and slant (how far the strokes lean right) — so a
student can check with a number that adding an attribute vector did what it should.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import torch

from ..engine.data import check_digit_batch


def check_latents(z: torch.Tensor, latent_dim: int, owner: str = "") -> None:
    """Raise a clear ``ValueError`` unless ``z`` is a batch of latent vectors shaped N×``latent_dim``; ``owner`` (e.g.
    "VAE.decode") starts the message."""
    if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != latent_dim:
        shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise ValueError(f"{owner + ' ' if owner else ''}expected latent vectors shaped N×{latent_dim}, got {shape}; "
                         "one vector needs .unsqueeze(0)")


PRIORS: dict[str, tuple[str, Callable[..., torch.Tensor]]] = {"normal": ("N(0, I)", torch.randn),
                                                               "uniform": ("U[0, 1]", torch.rand)}
"""The priors p(z) a course model can draw its latents from, name → (how it is written, how it is drawn)."""


def check_count(n, name: str = "n") -> int:
    """``n`` as an ``int`` if it is a whole number ≥ 0 (a NumPy integer counts); a ``ValueError`` naming it, its value
    and what is expected otherwise. A float (even 2.0) and a bool are refused: a count that is not an integer is a
    bug."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        hint = f"; use int({name})" if isinstance(n, float) and n.is_integer() else ""
        raise ValueError(f"{name} must be an integer ≥ 0 (how many to draw), got {n!r} of type "
                         f"{type(n).__name__}{hint}")
    if n < 0:
        raise ValueError(f"{name} must be an integer ≥ 0 (how many to draw), got {n}")
    return int(n)


def sample_latent(n: int, latent_dim: int, device: torch.device | str | None = None,
                  rng: int | torch.Generator | None = None, prior: str = "normal") -> torch.Tensor:
    """``n`` latent vectors of size ``latent_dim`` from the ``prior``: z ~ N(0, I) (``"normal"``, the prior p(z) of
    every course model but one) or z ~ U[0, 1]^latent_dim (``"uniform"``, the semi-supervised GAN's).

    ``n`` must be an integer ≥ 0 (:func:`check_count`); ``n`` = 0 gives an empty 0×latent_dim batch. ``rng`` (a seed
    or a ``torch.Generator``) makes them repeatable; they are then drawn on the CPU and moved to ``device``, so a seed
    gives the same vectors on every machine. Without it they are drawn on ``device`` directly.
    """
    n = check_count(n)
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {sorted(PRIORS)}, got {prior!r}")
    draw = PRIORS[prior][1]
    if rng is None:
        return draw(n, latent_dim, device=device)
    if isinstance(rng, bool) or not isinstance(rng, (int, torch.Generator)):
        raise ValueError(f"rng must be a seed (int), a torch.Generator or None, got {rng!r}")
    if isinstance(rng, int):
        rng = torch.Generator().manual_seed(rng)
    return draw(n, latent_dim, generator=rng).to(device)


def _check_pair(z0: torch.Tensor, z1: torch.Tensor) -> None:
    if z0.shape != z1.shape or z0.ndim != 1:
        raise ValueError(f"interpolate between two latent vectors of the same length (shape D), got {tuple(z0.shape)} and {tuple(z1.shape)}")


def _as_fractions(t, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(t, dtype=like.dtype, device=like.device).reshape(-1, 1)


def lerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    """Linear interpolation (1 − t)·z0 + t·z1 for each fraction in ``t``; returns len(t)×D."""
    _check_pair(z0, z1)
    t = _as_fractions(t, z0)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    """Spherical interpolation: along the great circle from z0 to z1, [sin((1−t)θ)·z0 + sin(tθ)·z1] / sin θ.

    θ is the angle between z0 and z1. When both have the same length, every point keeps that length, as typical
    samples of a high-dimensional Gaussian do (|z| ≈ √D); the straight line cuts through the unlikely centre.
    Falls back to :func:`lerp` for (nearly) parallel vectors. Returns len(t)×D.
    """
    _check_pair(z0, z1)
    t = _as_fractions(t, z0)
    cos = torch.dot(z0, z1) / (z0.norm() * z1.norm()).clamp(min=1e-12)
    theta = torch.arccos(cos.clamp(-1, 1))
    if theta.abs() < 1e-4:
        return lerp(z0, z1, t.flatten())
    return (torch.sin((1 - t) * theta) * z0 + torch.sin(t * theta) * z1) / torch.sin(theta)


INTERPOLATIONS = {"linear": lerp, "spherical": slerp}


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "spherical") -> torch.Tensor:
    """``steps`` evenly spaced points from z0 to z1 (both included), linear or spherical; returns steps×D."""
    if method not in INTERPOLATIONS:
        raise ValueError(f"method must be one of {sorted(INTERPOLATIONS)}, got {method!r}")
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an integer ≥ 2 (the two end points), got {steps!r}")
    return INTERPOLATIONS[method](z0, z1, torch.linspace(0, 1, steps))


# --- Attributes measured on the image ---

def ink(images: torch.Tensor) -> torch.Tensor:
    """Mean pixel value of each image (N×1×28×28 in [0, 1]): thick, bold strokes have more ink than thin ones."""
    check_digit_batch(images)
    return images.mean(dim=(1, 2, 3))


def slant(images: torch.Tensor) -> torch.Tensor:
    """How far each digit leans right: the ink-weighted shear Cov(x, y) / Var(y), with y pointing up.

    0 for an upright stroke, positive when the top leans right (like /), negative when it leans left (like \\);
    a slant of 0.3 moves the top of a 20-pixel-tall stroke about 3 pixels right of its middle.
    """
    check_digit_batch(images)
    weights = images[:, 0].clamp(min=0)
    total = weights.sum(dim=(1, 2)).clamp(min=1e-8)
    rows = torch.arange(images.shape[2], dtype=images.dtype, device=images.device)
    cols = torch.arange(images.shape[3], dtype=images.dtype, device=images.device)
    up = -rows[None, :, None]
    right = cols[None, None, :]
    mean_up = (weights * up).sum(dim=(1, 2)) / total
    mean_right = (weights * right).sum(dim=(1, 2)) / total
    du, dr = up - mean_up[:, None, None], right - mean_right[:, None, None]
    covariance = (weights * du * dr).sum(dim=(1, 2)) / total
    variance = (weights * du**2).sum(dim=(1, 2)) / total
    return covariance / variance.clamp(min=1e-8)


ATTRIBUTES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"ink": ink, "slant": slant}


# --- Attribute vector arithmetic (notebook 05 finds the vectors; the explorer adds them) ---

def add_direction(latents: torch.Tensor, direction: torch.Tensor, strengths) -> torch.Tensor:
    """Every latent moved by each strength × ``direction``: shape len(strengths)×N×D (a row per strength)."""
    if latents.ndim != 2 or direction.shape != latents.shape[1:]:
        raise ValueError(f"need latents N×D and a direction of length D, got {tuple(latents.shape)} and {tuple(direction.shape)}")
    strengths = torch.as_tensor(strengths, dtype=latents.dtype, device=latents.device).reshape(-1, 1, 1)
    return latents[None] + strengths * direction


def truncated_normal(count: int, dim: int, threshold: float, rng: torch.Generator | None = None) -> torch.Tensor:
    """``count`` × ``dim`` draws from N(0, 1) in which every value beyond ±``threshold`` is drawn again until it lies
    inside (BigGAN's truncation trick)."""
    if threshold <= 0:
        raise ValueError(f"the threshold must be positive, got {threshold}")
    z = torch.randn(count, dim, generator=rng)
    outside = z.abs() > threshold
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=rng)
        outside = z.abs() > threshold
    return z


def toward_mean(latents: torch.Tensor, mean: torch.Tensor, psi: float) -> torch.Tensor:
    """StyleGAN's truncation: mean + ψ·(latents − mean). ψ = 1 leaves the latents alone, ψ = 0 gives the mean."""
    if not 0.0 <= psi <= 1.0:
        raise ValueError(f"psi lies in [0, 1], got {psi}")
    return mean + psi * (latents - mean)
