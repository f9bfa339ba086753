"""Exercises for notebook 04: the optimal discriminator and the non-saturating generator loss."""

from __future__ import annotations

import torch

from . import Exercise


def _optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    return p_data / (p_data + p_g)


def _diagnose_optimal_discriminator(args, expected, got):
    p_data, p_g = (a.double() for a in args)
    got = torch.as_tensor(got, dtype=torch.float64)
    if got.shape != p_data.shape:
        return "return one value per point: D*(x) is computed point by point, with no sum or mean."
    if torch.allclose(got, p_g / (p_data + p_g), atol=1e-6):
        return "you returned p_g / (p_data + p_g) = 1 − D*: D says how likely x is *real*, so p_data goes on top."
    if torch.allclose(got, p_data / p_g, atol=1e-6):
        return "the denominator is the sum p_data + p_g (a real or a fake example could have landed at x)."
    if torch.allclose(got, p_data, atol=1e-6):
        return "D* depends on both densities: where p_g is large, even a likely real point is often fake."
    return None


optimal_discriminator = Exercise(
    name="optimal_discriminator",
    reference=_optimal_discriminator,
    cases=[
        (torch.tensor([0.2, 0.5, 0.1]), torch.tensor([0.2, 0.1, 0.4])),
        (torch.tensor([0.3]), torch.tensor([0.3])),
        (torch.linspace(0.01, 1.0, 50), torch.linspace(1.0, 0.01, 50)),
    ],
    hint="maximise a·log y + b·log(1 − y) over y, with a = p_data(x) and b = p_g(x): set the derivative to zero.",
    diagnose=_diagnose_optimal_discriminator,
)


def _non_saturating_loss(d_fake: torch.Tensor) -> torch.Tensor:
    return -torch.log(d_fake).mean()


def _diagnose_non_saturating_loss(args, expected, got):
    (d_fake,) = args
    d_fake = d_fake.double()
    got = torch.as_tensor(got, dtype=torch.float64)
    if got.numel() != 1:
        return "return a single number: the mean over the batch, not one loss per sample."
    if torch.isclose(got, torch.log(d_fake).mean(), atol=1e-6):
        return "mind the sign: G wants D(G(z)) → 1, so it minimises −log D(G(z)), which goes down as D(G(z)) goes up."
    if torch.isclose(got, torch.log(1 - d_fake).mean(), atol=1e-6):
        return "that is the saturating (minimax) loss log(1 − D(G(z))); the non-saturating one is −log D(G(z))."
    if torch.isclose(got, -torch.log(d_fake).sum(), atol=1e-6):
        return "use the mean over the batch, not the sum, so the loss does not grow with the batch size."
    return None


non_saturating_loss = Exercise(
    name="non_saturating_loss",
    reference=_non_saturating_loss,
    cases=[
        (torch.tensor([0.2, 0.7]),),
        (torch.tensor([0.01, 0.2, 0.9, 0.6]),),
        (torch.tensor([0.001, 0.002, 0.003]),),
    ],
    hint="the generator labels its fakes as real: the loss is the binary cross-entropy with target 1, −mean(log D(G(z))).",
    diagnose=_diagnose_non_saturating_loss,
)
