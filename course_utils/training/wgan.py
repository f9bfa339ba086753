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
    one epoch of 640). One call of the step is one G step and takes ``n_critic`` batches, so the engine's steps count
    G steps. ``checkpoints`` evenly spaced copies of G are kept in the record, beside the epoch means of the critic's
    ``wasserstein`` estimate (:class:`~course_utils.training.record.Checkpoints`).
    """

    name = "WGAN-GP"
    n_critic: int = 5
    penalty_weight: float = 10.0
    d_lr: float = 2e-4
    average_decay: float = 0.0
    images_seen: int = field(default_factory=lambda: budget(full=400_000, quick=640))
    checkpoints: int = 10

    revision = 1
    """1: a step is one G step after n_critic critic steps (it was one critic step), so the record's steps count G
    steps; the weights trained are the same."""

    @property
    def images_per_step(self) -> int:
        return self.n_critic * self.batch_size

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
    """Return ``step(real)`` for :func:`course_utils.engine.train.train`: ``real`` holds ``n_critic`` batches of real
    digits one after the other; the critic takes one update on each, then G one update (G minimises −E[D(G(z))])
    (Gulrajani et al., 2017, Algorithm 1). Every call does the same work, so the engine can capture it as a CUDA
    graph; it logs the critic's values averaged over its n_critic updates, and G's loss."""
    if not isinstance(n_critic, numbers.Integral) or isinstance(n_critic, bool) or n_critic < 1:
        raise ValueError(f"n_critic must be a whole number ≥ 1 (critic steps per generator step; the paper uses 5), "
                         f"got {n_critic!r}")
    critic_step = make_critic_step(critic, d_optimizer, penalty_weight)

    def step(real: torch.Tensor, *ignored) -> dict[str, torch.Tensor]:
        if real.shape[0] % n_critic:
            raise ValueError(f"the WGAN-GP step takes n_critic = {n_critic} batches of real digits at once, "
                             f"{n_critic} × the batch size; got {real.shape[0]} digits")
        critic_values = []
        for batch in real.chunk(n_critic):                        # each critic step on its own batch
            with torch.no_grad():
                fake = generator(sample_latent(batch.shape[0], latent_dim, device=real.device))
            critic_values.append(critic_step(batch, fake))
        with frozen(critic):
            g_loss = -critic(generator(sample_latent(batch.shape[0], latent_dim, device=real.device))).mean()
            g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            g_optimizer.step()
        return {**{name: torch.stack([values[name] for values in critic_values]).mean() for name in critic_values[0]},
                "g_loss": g_loss.detach()}

    return step
