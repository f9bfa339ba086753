"""The Wasserstein GAN's pieces (notebook 06): the critic's step with a gradient penalty, the WGAN-GP game, and the
two measurements that make "bounded slopes" checkable: power iteration for a layer's largest singular value, and
the Lipschitz ratios |D(x) − D(y)| / ‖x − y‖ of a whole critic."""

from __future__ import annotations

import numbers
from collections.abc import Callable

import torch
from torch import nn

from .gan import frozen
from .latent import sample_latent
from .losses import gradient_penalty


def make_critic_step(critic: nn.Module, optimizer: torch.optim.Optimizer, penalty_weight: float = 10.0) -> Callable:
    """Return ``step(real, fake)``: one update of the critic towards max E[D(real)] − E[D(fake)] − penalty.

    The difference of the two means is the critic's estimate of the Wasserstein-1 distance (Kantorovich–Rubinstein:
    the supremum over 1-Lipschitz functions); the gradient penalty keeps the critic close to that class. The
    constraint is soft: where the best critic is linear with slope 1, the penalised optimum has slope 1 + W / (2λ),
    so the estimate overshoots W by that factor (15 % for W = 3, λ = 10). In 1-D the penalty also has two wells,
    slopes +1 and −1, and a critic that starts with the wrong sign can settle at −W.
    """
    if not penalty_weight > 0:
        raise ValueError(f"the penalty weight must be positive (the paper uses 10), got {penalty_weight}")

    def step(real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        estimate = critic(real).mean() - critic(fake.detach()).mean()
        penalty, norms = gradient_penalty(critic, real, fake, penalty_weight)
        optimizer.zero_grad(set_to_none=True)
        (penalty - estimate).backward()
        optimizer.step()
        return {"wasserstein": estimate.detach(), "penalty": penalty.detach(), "gradient_norm": norms.mean()}

    return step


def make_wgan_gp_step(generator: nn.Module, critic: nn.Module, g_optimizer: torch.optim.Optimizer,
                      d_optimizer: torch.optim.Optimizer, latent_dim: int, *, n_critic: int = 5,
                      penalty_weight: float = 10.0) -> Callable:
    """Return ``step(real)`` for :func:`course_utils.train.train`: a critic update on every call, and a generator
    update (G minimises −E[D(G(z))]) on every ``n_critic``-th call, so each G step follows n_critic critic steps, each
    on a fresh batch of real digits (Gulrajani et al., 2017, Algorithm 1)."""
    if not isinstance(n_critic, numbers.Integral) or isinstance(n_critic, bool) or n_critic < 1:
        raise ValueError(f"n_critic must be a whole number ≥ 1 (critic steps per generator step; the paper uses 5), "
                         f"got {n_critic!r}")
    critic_step = make_critic_step(critic, d_optimizer, penalty_weight)
    calls = 0

    def step(real: torch.Tensor, *ignored) -> dict[str, torch.Tensor]:
        nonlocal calls
        with torch.no_grad():
            fake = generator(sample_latent(real.shape[0], latent_dim, device=real.device))
        values = critic_step(real, fake)
        calls += 1
        if calls % n_critic == 0:
            with frozen(critic):
                g_loss = -critic(generator(sample_latent(real.shape[0], latent_dim, device=real.device))).mean()
                g_optimizer.zero_grad(set_to_none=True)
                g_loss.backward()
                g_optimizer.step()
            values["g_loss"] = g_loss.detach()
        return values

    return step


def power_iteration(weight: torch.Tensor, iterations: int = 30, rng: torch.Generator | None = None) -> float:
    """The largest singular value σ(W) of ``weight`` (reshaped to a matrix, outputs × inputs) by power iteration:
    v ← Wᵀu / ‖Wᵀu‖, u ← Wv / ‖Wv‖, then σ ≈ uᵀWv — what spectral normalisation divides a layer's weight by."""
    matrix = weight.detach().flatten(1)
    u = torch.randn(matrix.shape[0], generator=rng, dtype=matrix.dtype, device=matrix.device if rng is None else rng.device)
    u = u.to(matrix.device)
    for _ in range(iterations):
        v = nn.functional.normalize(matrix.T @ u, dim=0)
        u = nn.functional.normalize(matrix @ v, dim=0)
    return (u @ matrix @ v).item()


@torch.no_grad()
def lipschitz_ratios(critic: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """|D(x) − D(y)| / ‖x − y‖ for each pair of rows: a critic that is K-Lipschitz never exceeds K on any pair."""
    if x.shape != y.shape:
        raise ValueError(f"x and y must pair up row by row, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    return (critic(x) - critic(y)).flatten().abs() / (x - y).flatten(1).norm(dim=1)
