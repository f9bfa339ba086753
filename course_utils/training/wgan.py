"""WGAN-GP on digits (Gulrajani et al., 2017), notebook 06: the critic's step, the game, and ``WGANGPRecipe``.

The critic is trained ``n_critic`` times per generator step towards
max E[D(real)] − E[D(fake)] − λ·E[(‖∇D(x̂)‖ − 1)²]; the first two terms are its estimate of the Wasserstein-1 distance
between the training digits and G's samples, logged as ``wasserstein``. The recipe keeps the generator at evenly
spaced checkpoints beside that estimate, so a notebook can score each checkpoint's samples and check that the
estimate falls as the samples improve.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..engine.config import budget
from ..maths.latent import sample_latent
from ..maths.losses import gradient_penalty
from ..models.dcgan import DCGAN
from .gan import GANRecipe, frozen


@dataclass(frozen=True)
class WGANGPRecipe(GANRecipe):
    """Notebook 06's WGAN-GP and how it is trained, measured with ``benchmarks/sample_quality.py``.

    The model is a :class:`~course_utils.models.dcgan.DCGAN` whose discriminator has no normalisation: a critic with
    a real-valued score. Training follows the paper's Algorithm 1 — λ = ``penalty_weight`` = 10, ``n_critic`` = 5
    critic steps per G step, Adam with β = (0, 0.9) — at twice its learning rate (2·10⁻⁴ for both players), which the
    measurements in ``benchmarks/README.md`` support for this short a run. ``images_seen`` counts the real digits the
    critic sees (each critic step takes a fresh batch): 400,000 is 12,500 critic steps and 2,500 G steps (quick mode:
    one epoch of 640). ``checkpoints`` evenly spaced copies of G are kept in the record, beside the epoch means of the
    critic's ``wasserstein`` estimate (:class:`~course_utils.training.record.Checkpoints`).
    """

    name = "WGAN-GP"
    n_critic: int = 5
    penalty_weight: float = 10.0
    d_lr: float = 2e-4
    average_decay: float = 0.0
    images_seen: int = field(default_factory=lambda: budget(full=400_000, quick=640))
    checkpoints: int = 10

    capturable = False
    not_captured_because = ("the step updates G only at every n_critic-th call, a branch on a step count that one "
                            "CUDA graph cannot hold (it would need a graph for each of the two kinds of call)")

    def build(self) -> DCGAN:
        return DCGAN(self.latent_dim, self.width, normalisation="none")

    def make_step(self, gan: DCGAN, g_optimizer, d_optimizer):
        return make_wgan_gp_step(gan.generator, gan.discriminator, g_optimizer, d_optimizer, gan.latent_dim,
                                 n_critic=self.n_critic, penalty_weight=self.penalty_weight)


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
    """Return ``step(real)`` for :func:`course_utils.engine.train.train`: a critic update on every call, and a generator
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
