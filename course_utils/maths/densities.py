"""Densities on a grid and toy mixtures: the tools that check GAN theory with numbers (notebook 04).

A 1-D density is a tensor of its values on a grid ``x`` (float64, so identities hold to 1e-10, not 1e-4).
Integrals are trapezoid sums; KL, Jensen–Shannon, the optimal discriminator D* and the value V(G, D) are written
exactly as on the slides. ``GaussianMixture`` gives the toy data sets (two bumps in 1-D, a ring in 2-D): clearly
toy distributions, whose true density we know, so a GAN's result can be compared with the truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

LOG_4 = math.log(4.0)


def grid(low: float = -6.0, high: float = 6.0, points: int = 2001) -> torch.Tensor:
    """Evenly spaced points from ``low`` to ``high`` (float64), on which densities are tabulated and integrated."""
    if not high > low or points < 3:
        raise ValueError(f"need low < high and at least 3 points, got low={low}, high={high}, points={points}")
    return torch.linspace(low, high, points, dtype=torch.float64)


def integrate(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∫ values dx over the grid ``x`` by the trapezoid rule."""
    _check_on_grid(values, x, "values")
    return torch.trapezoid(values, x)


def check_density(p: torch.Tensor, x: torch.Tensor, name: str = "p", tolerance: float = 1e-3) -> None:
    """Raise a ``ValueError`` unless ``p`` is a density on ``x``: finite, non-negative, integrating to 1."""
    _check_on_grid(p, x, name)
    if not torch.isfinite(p).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if (p < 0).any():
        raise ValueError(f"{name} is negative somewhere (min {p.min().item():.3g}); a density is never negative")
    mass = integrate(p, x).item()
    if abs(mass - 1.0) > tolerance:
        raise ValueError(f"{name} integrates to {mass:.4f} on the grid, not 1: widen the grid or normalise it")


def kl_divergence(p: torch.Tensor, q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """KL(p ‖ q) = ∫ p log(p / q) dx in nats; 0 log 0 counts as 0, and p > 0 where q = 0 gives +inf."""
    check_density(p, x, "p")
    check_density(q, x, "q")
    return integrate(torch.xlogy(p, p) - torch.xlogy(p, q), x)


def js_divergence(p: torch.Tensor, q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """JSD(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m) with m = ½(p + q): symmetric, between 0 and log 2 nats.

    log m is taken as log(p + q) − log 2, so a density value too small to halve in float64 (far in a tail) cannot
    make m exactly 0 where p is not, which would turn log 2 into infinity for distributions that no longer overlap."""
    check_density(p, x, "p")
    check_density(q, x, "q")
    half_kl = lambda a: integrate(torch.xlogy(a, a) - torch.xlogy(a, p + q) + a * math.log(2), x)
    return (half_kl(p) + half_kl(q)) / 2


def wasserstein_1(p: torch.Tensor, q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The exact Wasserstein-1 (earth mover's) distance between two 1-D densities: ∫ |F_p(x) − F_q(x)| dx, the area
    between their cumulative distribution functions. Unlike the JSD it keeps growing as the supports drift apart."""
    check_density(p, x, "p")
    check_density(q, x, "q")
    steps = torch.diff(x)
    cdf = lambda density: torch.cat([density.new_zeros(1), torch.cumsum((density[1:] + density[:-1]) / 2 * steps, 0)])
    return integrate((cdf(p) - cdf(q)).abs(), x)


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), the best D for a fixed G; ½ where both densities are 0."""
    if p_data.shape != p_g.shape:
        raise ValueError(f"p_data and p_g must be tabulated on the same grid, got shapes {tuple(p_data.shape)} and {tuple(p_g.shape)}")
    total = p_data + p_g
    return torch.where(total > 0, p_data / total.clamp_min(torch.finfo(total.dtype).tiny), torch.full_like(total, 0.5))


def value_function(p_data: torch.Tensor, p_g: torch.Tensor, d: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """V(G, D) = ∫ p_data log D + p_g log(1 − D) dx, the GAN game's value, for D given by its values on ``x``."""
    _check_on_grid(d, x, "d")
    if ((d < 0) | (d > 1)).any() or not torch.isfinite(d).all():
        raise ValueError("d must hold probabilities in [0, 1] (D(x) = sigmoid of a logit)")
    return integrate(torch.xlogy(p_data, d) + torch.xlogy(p_g, 1 - d), x)


def generator_criterion(p_data: torch.Tensor, p_g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """C(G) = V(G, D*) = ∫ p_data log(p_data / (p_data + p_g)) + p_g log(p_g / (p_data + p_g)) dx.

    Written with the two ratios rather than with D* and 1 − D*, so that far in the tails, where D* rounds to
    exactly 1 in floating point, log(1 − D*) does not become −inf.
    """
    _check_on_grid(p_data, x, "p_data")
    _check_on_grid(p_g, x, "p_g")
    total = p_data + p_g
    return integrate(torch.xlogy(p_data, p_data / total) + torch.xlogy(p_g, p_g / total), x)


def discriminator_gap(d: torch.Tensor, d_star: torch.Tensor, p_data: torch.Tensor, p_g: torch.Tensor,
                      x: torch.Tensor) -> torch.Tensor:
    """∫ ½(p_data + p_g) |D − D*| dx: how far D is from D* where D is actually tested (half real, half fake)."""
    _check_on_grid(d, x, "d")
    _check_on_grid(d_star, x, "d_star")
    return integrate((p_data + p_g) / 2 * (d - d_star).abs(), x)


def perturb_discriminator(d: torch.Tensor, x: torch.Tensor, scale: float, rng: torch.Generator | None = None) -> torch.Tensor:
    """``d`` with a random smooth wiggle of size ``scale`` added to its logit: a competitor to test D* against."""
    _check_on_grid(d, x, "d")
    wiggle = torch.zeros_like(x)
    for frequency in (0.5, 1.0, 2.0, 4.0):
        amplitude, phase = torch.randn((), generator=rng, dtype=x.dtype), torch.rand((), generator=rng, dtype=x.dtype)
        wiggle = wiggle + amplitude * torch.sin(frequency * x + 2 * math.pi * phase)
    return torch.sigmoid(torch.logit(d, eps=1e-12) + scale * wiggle)


def gaussian_pdf(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """The normal density N(mean, std²) evaluated at ``x``."""
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def kernel_density(samples: torch.Tensor, x: torch.Tensor, bandwidth: float | None = None) -> torch.Tensor:
    """A Gaussian kernel density estimate of 1-D ``samples`` on the grid ``x`` (Silverman's bandwidth by default).

    A GAN's p_g is implicit — we can only sample it — so this is how we get a density to plug into D*.
    """
    samples = samples.detach().reshape(-1).to(torch.float64).cpu()
    if samples.numel() < 2 or not torch.isfinite(samples).all():
        raise ValueError("kernel_density needs at least 2 finite samples")
    if bandwidth is None:
        spread = min(samples.std().item(), (samples.quantile(0.75) - samples.quantile(0.25)).item() / 1.34) or samples.std().item()
        bandwidth = 0.9 * max(spread, 1e-3) * samples.numel() ** (-0.2)
    total = torch.zeros_like(x, dtype=torch.float64)
    for block in samples.split(1024):                  # in blocks, so memory stays small on fine grids
        total += torch.exp(-0.5 * ((x[:, None] - block[None, :]) / bandwidth) ** 2).sum(dim=1)
    return total / (samples.numel() * bandwidth * math.sqrt(2 * math.pi))


@dataclass(frozen=True)
class GaussianMixture:
    """A mixture of isotropic Gaussians in ``dim`` dimensions: ``means`` K×dim, one ``std`` and K ``weights``."""

    means: torch.Tensor
    std: float
    weights: torch.Tensor

    def __post_init__(self):
        if self.means.ndim != 2:
            raise ValueError(f"means must be K×dim, got shape {tuple(self.means.shape)}")
        if self.weights.shape != (self.means.shape[0],) or (self.weights < 0).any():
            raise ValueError("weights must be K non-negative numbers, one per mean")
        if self.std <= 0:
            raise ValueError(f"std must be positive, got {self.std}")

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, count: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """``count`` samples as a count×dim float32 tensor (move it to the device yourself); ``rng`` makes them repeatable."""
        component = torch.multinomial(self.weights / self.weights.sum(), count, replacement=True, generator=rng)
        noise = torch.randn(count, self.dim, generator=rng, dtype=torch.float64)
        return (self.means[component] + self.std * noise).float()

    def pdf(self, x: torch.Tensor) -> torch.Tensor:
        """The mixture's density at the points ``x`` (N×dim, or a 1-D grid of N values when dim = 1)."""
        points = x[:, None] if x.ndim == 1 and self.dim == 1 else x
        if points.ndim != 2 or points.shape[1] != self.dim:
            raise ValueError(f"points must be N×{self.dim}, got shape {tuple(x.shape)}")
        weights = (self.weights / self.weights.sum()).to(torch.float64)
        squared = ((points.to(torch.float64)[:, None, :] - self.means[None]) ** 2).sum(-1)
        normaliser = (2 * math.pi * self.std**2) ** (self.dim / 2)
        return (weights * torch.exp(-0.5 * squared / self.std**2)).sum(-1) / normaliser


def two_bumps() -> GaussianMixture:
    """The 1-D toy data of notebook 04: 30 % of the mass at −2 and 70 % at +1.5, each with σ = 0.5."""
    return GaussianMixture(torch.tensor([[-2.0], [1.5]], dtype=torch.float64), 0.5,
                           torch.tensor([0.3, 0.7], dtype=torch.float64))


def ring_of_gaussians(modes: int = 8, radius: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """``modes`` equally likely 2-D Gaussians evenly spaced on a circle: the classic test for mode collapse."""
    if modes < 1:
        raise ValueError(f"modes must be at least 1, got {modes}")
    angles = torch.arange(modes, dtype=torch.float64) * 2 * math.pi / modes
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture(means, std, torch.ones(modes, dtype=torch.float64))


def _check_on_grid(values: torch.Tensor, x: torch.Tensor, name: str) -> None:
    if x.ndim != 1:
        raise ValueError(f"the grid x must be 1-D, got shape {tuple(x.shape)}")
    if values.shape != x.shape:
        raise ValueError(f"{name} must have one value per grid point: shape {tuple(x.shape)}, got {tuple(values.shape)}")
