"""Exercises for notebook 03: the closed-form Gaussian KL, the reparameterised sample, and the importance-weighted
bound: a stable log-mean-exp, and an experiment that watches the bound tighten as K grows."""

from __future__ import annotations

import math

import torch

from ...maths.losses import gaussian_kl as _gaussian_kl
from ...maths.losses import reparameterize as _reparameterize
from . import Exercise, Experiment


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


def _log_mean_exp(log_weights: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])


def _diagnose_log_mean_exp(args, expected, got):
    (log_weights,) = (a.double() for a in args)
    got = torch.as_tensor(got, dtype=torch.float64)
    if got.shape != expected.shape:
        return f"average over the K samples (dim=0) and keep one value per image: shape {tuple(expected.shape)}."
    if not torch.isfinite(got).all():
        return ("exp(−1000) underflows to 0 and log 0 = −inf. Take the largest log weight m out first: "
                "log mean exp(ℓ) = m + log mean exp(ℓ − m), or use torch.logsumexp, which does exactly that.")
    if torch.allclose(got, log_weights.mean(0), atol=1e-5):
        return "that is the mean of the logs (the ELBO again); the bound is the log of the mean of the weights."
    if torch.allclose(got, torch.logsumexp(log_weights, 0), atol=1e-5):
        return "that is the log of the *sum*; divide by K inside the log, i.e. subtract log K."
    return None


log_mean_exp = Exercise(
    name="log_mean_exp",
    reference=_log_mean_exp,
    cases=[
        (torch.tensor([[0.0, 1.0]]),),
        (torch.log(torch.tensor([[1.0, 2.0], [3.0, 6.0]])),),
        (torch.tensor([[-1000.0, -1100.0], [-1001.0, -1102.0], [-1003.0, -1099.0]]),),
    ],
    hint="log (1/K) Σ_k exp(ℓ_k): with log weights ℓ_k around −110 nats, exp underflows; subtract the largest ℓ_k first.",
    diagnose=_diagnose_log_mean_exp,
)


def _judge_bounds(outcome) -> tuple[bool, str]:
    ks = sorted(outcome)
    bounds = [float(outcome[k]) for k in ks]
    if len(ks) < 3:
        return False, "measure the bound for at least three values of K, e.g. 1, 10 and 100."
    if not all(math.isfinite(b) for b in bounds):
        return False, "some bounds are not finite numbers: does your log_mean_exp pass the check above?"
    rises = all(later >= earlier - 0.05 for earlier, later in zip(bounds, bounds[1:]))
    listed = ", ".join(f"K={k}: {b:.1f}" for k, b in zip(ks, bounds))
    if rises and bounds[-1] > bounds[0] + 0.5:
        return True, (f"{listed} nats. The bound rises with K (each value is a lower bound on log p(x), and K = 1 "
                      "is the ELBO): the true log-likelihood is higher still, and the ELBO sits furthest below it.")
    return False, f"{listed}: the bound should rise with K. Is each value the mean over the images of log_mean_exp?"


bound_experiment = Experiment(name="the bound tightens with K", judge=_judge_bounds,
                              expects="a dict from K to the bound measured with K samples, "
                                      "e.g. {1: -110.2, 10: -106.0, 100: -104.5}")
