"""Exercises for notebook 06: conditional batch norm, the gradient penalty, and an experiment that clips a critic's
weights instead of penalising its gradients."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import WRONG, Exercise, Experiment, Feedback


def _conditional_batch_norm(x, labels, gamma, beta):
    normalised = F.batch_norm(x, None, None, training=True, eps=1e-5)
    return gamma[labels][:, :, None, None] * normalised + beta[labels][:, :, None, None]


def _diagnose_conditional_batch_norm(args, expected, got):
    x, labels, gamma, beta = args
    got = torch.as_tensor(got).detach().double()
    normalised = F.batch_norm(x, None, None, training=True, eps=1e-5).double()
    if got.shape != x.shape:
        return f"return a tensor shaped like x, {tuple(x.shape)}: one γ and β per example and channel, broadcast over H×W."
    first_class = gamma[0][None, :, None, None].double() * normalised + beta[0][None, :, None, None].double()
    if torch.allclose(got, first_class, atol=1e-4):
        return "every example got class 0's γ and β: index the tables with the labels, gamma[labels] (N × C)."
    everything = (x - x.mean()) / (x.var(unbiased=False) + 1e-5).sqrt()
    scaled = gamma[labels][:, :, None, None].double() * everything.double() + beta[labels][:, :, None, None].double()
    if torch.allclose(got, scaled, atol=1e-4):
        return "you normalised over the whole batch at once; batch norm keeps one mean and variance per channel, over (N, H, W)."
    if torch.allclose(got, normalised, atol=1e-4):
        return "that is plain normalisation: now scale by the class's γ and shift by its β."
    return None


conditional_batch_norm = Exercise(
    name="conditional_batch_norm",
    reference=_conditional_batch_norm,
    cases=[
        (torch.randn(4, 2, 3, 3, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 1, 0]),
         torch.tensor([[1.0, 1.0], [2.0, -1.0]]), torch.tensor([[0.0, 0.0], [0.5, 3.0]])),
        (torch.randn(6, 3, 5, 5, generator=torch.Generator().manual_seed(1)) * 3 + 1, torch.tensor([2, 0, 9, 2, 5, 7]),
         torch.randn(10, 3, generator=torch.Generator().manual_seed(2)),
         torch.randn(10, 3, generator=torch.Generator().manual_seed(3))),
    ],
    hint="mean and variance per channel over dims (0, 2, 3) (keepdim=True; the biased variance, as batch norm uses), "
         "x̂ = (x − mean) / sqrt(var + 1e-5), then gamma[labels][:, :, None, None] * x̂ + beta[labels][:, :, None, None].",
    diagnose=_diagnose_conditional_batch_norm,
    rtol=1e-4,
    atol=1e-4,
)


def _penalty(critic, real, fake, epsilon, weight):
    mixed = (epsilon * real + (1 - epsilon) * fake).requires_grad_(True)
    (gradients,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return weight * (gradients.flatten(1).norm(dim=1) - 1).pow(2).mean()


def _diagnose_penalty(args, expected, got):
    critic, real, fake, epsilon, weight = args
    got = float(torch.as_tensor(got).detach())
    mixed = (epsilon * real + (1 - epsilon) * fake).requires_grad_(True)
    (gradients,) = torch.autograd.grad(critic(mixed).sum(), mixed)
    norms = gradients.flatten(1).norm(dim=1)
    if math.isclose(got, weight * norms.pow(2).mean().item(), rel_tol=1e-4):
        return "that penalises ‖∇D‖², pushing the slope to 0; WGAN-GP pulls it towards 1: (‖∇D(x̂)‖ − 1)²."
    if math.isclose(got, weight * (norms - 1).abs().mean().item(), rel_tol=1e-4):
        return "square the distance from 1: (‖∇D(x̂)‖ − 1)², not |‖∇D(x̂)‖ − 1|."
    if math.isclose(got, (norms - 1).pow(2).mean().item(), rel_tol=1e-4):
        return "multiply by the penalty weight λ."
    real_point = real.clone().requires_grad_(True)
    (at_real,) = torch.autograd.grad(critic(real_point).sum(), real_point)
    if math.isclose(got, weight * (at_real.flatten(1).norm(dim=1) - 1).pow(2).mean().item(), rel_tol=1e-4):
        return "that is the gradient at the real samples; take it at the interpolates x̂ = ε·real + (1 − ε)·fake."
    if math.isclose(got, weight * (gradients.norm() - 1).pow(2).item(), rel_tol=1e-4):
        return "take one gradient norm per example (flatten(1).norm(dim=1)), then average the squared distances from 1."
    return None


def _penalty_cases() -> list[tuple]:
    """Random critics (a line, an MLP on 2-D points, a small conv net on 1×8×8 images) and batches for them."""
    with torch.random.fork_rng():                      # fixed cases, without touching the notebook's random state
        torch.manual_seed(6)
        line = nn.Linear(3, 1)
        mlp = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
        conv = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(64, 1))
        cases = []
        for critic, shape, weight in ((line, (5, 3), 10.0), (mlp, (32, 2), 10.0), (conv, (6, 1, 8, 8), 2.5)):
            epsilon = torch.rand((shape[0],) + (1,) * (len(shape) - 1))
            cases.append((critic, torch.randn(shape) + 1, torch.randn(shape), epsilon, weight))
    return cases


gradient_penalty = Exercise(
    name="gradient_penalty",
    reference=_penalty,
    cases=_penalty_cases(),
    hint="x̂ = ε·real + (1 − ε)·fake with requires_grad; torch.autograd.grad(critic(x̂).sum(), x̂, create_graph=True); "
         "one norm per example, gradients.flatten(1).norm(dim=1); then λ · mean((norm − 1)²).",
    diagnose=_diagnose_penalty,
    rtol=1e-4,
    atol=1e-6,
)


def check_gradient_penalty(student) -> Feedback:
    """Check ``student(critic, real, fake, epsilon, weight)`` against the reference, and that its penalty can be
    backpropagated into the critic (``create_graph=True``); print and return the feedback."""
    feedback = gradient_penalty.evaluate(student)
    if feedback.passed:
        critic, real, fake, epsilon, weight = gradient_penalty.cases[1]
        if not student(critic, real, fake, epsilon, weight).requires_grad:
            feedback = Feedback(WRONG, "✗ gradient_penalty: the values are right, but the penalty has no path back to "
                                         "the critic's weights, so it cannot train them: pass create_graph=True to "
                                         "torch.autograd.grad.")
    print(feedback.message)
    return feedback


def _judge_clipping(outcome) -> tuple[bool, str]:
    clip, estimate, exact = float(outcome["clip"]), float(outcome["estimate"]), float(outcome["exact"])
    if not clip > 0:
        return False, f"clip = {clip}: clip the weights to a positive bound c, e.g. 0.01 as in the first WGAN paper."
    ratio = estimate / exact
    if ratio < 0.5:
        return True, (f"with weights clipped to ±{clip:g} the critic estimates {estimate:.3g} for an exact W₁ of "
                      f"{exact:.3g}: {ratio:.1%} of it. Clipping bounds the slope, but far below 1, and by a factor "
                      "that depends on the network's shape: the estimate is proportional to W₁ at best, not W₁. "
                      "Gradient penalties aim at slope 1 itself (Gulrajani et al., 2017).")
    return True, (f"with weights clipped to ±{clip:g} the critic estimates {estimate:.3g}, {ratio:.0%} of the exact "
                  f"{exact:.3g}: a bound this loose hardly constrains a small critic, and it guarantees no slope in "
                  "particular. Try the first WGAN paper's c = 0.01 and compare.")


clipping_experiment = Experiment(name="weight clipping", judge=_judge_clipping,
                                 expects="a dict with 'clip' (the bound), 'estimate' (the critic's W₁ estimate) and "
                                         "'exact' (the exact W₁)")
