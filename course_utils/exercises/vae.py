"""Exercises for notebook 03: the closed-form Gaussian KL and the reparameterised sample."""

from __future__ import annotations

import torch

from ..losses import gaussian_kl as _gaussian_kl
from ..losses import reparameterize as _reparameterize
from . import Exercise


def _kl_cases() -> list[tuple]:
    rng = torch.Generator().manual_seed(3)
    return [
        (torch.zeros(1, 3), torch.zeros(1, 3)),
        (torch.tensor([[1.0, -2.0]]), torch.zeros(1, 2)),
        (torch.zeros(2, 2), torch.tensor([[1.0, -1.0], [0.5, 2.0]])),
        (torch.randn(4, 5, generator=rng), torch.randn(4, 5, generator=rng)),
    ]


def _diagnose_kl(args, expected, got):
    mu, logvar = args
    got = torch.as_tensor(got, dtype=torch.float64)
    expected = expected.double()
    mu, logvar = mu.double(), logvar.double()
    if got.ndim == 0 and expected.ndim == 1:
        return "return one KL per row (sum over the latent dimensions, dim=-1), not one number for the whole batch."
    if got.shape == mu.shape:
        return "sum over the latent dimensions (dim=-1): the KL of a diagonal Gaussian is the sum of d 1-D KLs."
    if got.shape != expected.shape:
        return None
    if torch.allclose(got, 2 * expected, atol=1e-5):
        return "you are off by a factor of 2: the formula starts with ½."
    d = mu.shape[-1]
    if torch.allclose(got, expected + d / 2, atol=1e-5):
        return "you forgot the −1 inside the sum (the KL of N(0, 1) to itself must be 0)."
    if torch.allclose(got, 0.5 * (mu**2 + logvar.exp() ** 2 - 2 * logvar - 1).sum(-1), atol=1e-5):
        return "logvar is log σ², so σ² = exp(logvar) — you used exp(logvar) as σ and squared it."
    if torch.allclose(got, 0.5 * (mu**2 + logvar - logvar.exp() - 1).sum(-1), atol=1e-5):
        return "the variance is exp(logvar) and log σ² is logvar itself; you swapped the two terms."
    if torch.allclose(got, expected / d, atol=1e-5):
        return "sum over the latent dimensions rather than averaging them."
    return None


gaussian_kl = Exercise(
    name="gaussian_kl",
    reference=_gaussian_kl,
    cases=_kl_cases(),
    hint="KL = ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1), with σ² = exp(logvar) and log σ² = logvar; sum over dim=-1.",
    diagnose=_diagnose_kl,
)


def _reparameterize_cases() -> list[tuple]:
    rng = torch.Generator().manual_seed(4)
    return [
        (torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([[1.0, -1.0]])),
        (torch.tensor([[2.0, -1.0]]), torch.log(torch.tensor([[4.0, 0.25]])), torch.tensor([[1.0, 2.0]])),
        tuple(torch.randn(3, 4, generator=rng) for _ in range(3)),
    ]


def _diagnose_reparameterize(args, expected, got):
    mu, logvar, eps = (a.double() for a in args)
    got = torch.as_tensor(got, dtype=torch.float64)
    if got.shape != mu.shape:
        return "z must have the shape of mu: one sample per row and latent dimension."
    if torch.allclose(got, mu + logvar.exp() * eps, atol=1e-5):
        return "exp(logvar) is the variance σ²; scale ε by the standard deviation σ = exp(½·logvar)."
    if torch.allclose(got, mu + logvar * eps, atol=1e-5):
        return "logvar is log σ², not σ: take σ = exp(½·logvar)."
    if torch.allclose(got, torch.exp(0.5 * logvar) * eps, atol=1e-5):
        return "the sample is centred on the mean: add mu."
    if torch.allclose(got, mu + torch.exp(0.5 * logvar), atol=1e-5):
        return "use the noise ε you are given: z = μ + σ·ε."
    return None


reparameterize = Exercise(
    name="reparameterize",
    reference=_reparameterize,
    cases=_reparameterize_cases(),
    hint="z = μ + σ·ε with σ = exp(½·logvar); use the eps you are given (no new noise), so the result is deterministic and gradients reach μ and logvar.",
    diagnose=_diagnose_reparameterize,
)
