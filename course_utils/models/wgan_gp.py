"""WGAN-GP on digits (Gulrajani et al., 2017), notebook 06: notebook 05's networks, the critic without batch norm.

The critic is trained ``n_critic`` times per generator step towards
max E[D(real)] − E[D(fake)] − λ·E[(‖∇D(x̂)‖ − 1)²] (``course_utils.wgan.make_wgan_gp_step``); the first two terms
are its estimate of the Wasserstein-1 distance
between the training digits and G's samples, logged as ``wasserstein``. The recipe keeps the generator at evenly
spaced checkpoints beside that estimate, so a notebook can score each checkpoint's samples and check that the
estimate falls as the samples improve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..adversarial import every_epoch, fit_adversarial, training_images
from ..config import budget
from ..data import load_mnist
from ..recipe import Recipe
from ..train import History
from ..wgan import make_wgan_gp_step
from .dcgan import DCGAN, DCGANRecipe, fit_dcgan
from .generative import Checkpoints, Snapshots, evenly_spaced_epochs, progress_epochs, training_record


@dataclass(frozen=True)
class WGANGPRecipe(Recipe):
    """Notebook 06's WGAN-GP and how it is trained, measured with ``benchmarks/sample_quality.py``.

    The model is a :class:`~course_utils.models.dcgan.DCGAN` whose discriminator has no normalisation: a critic with
    a real-valued score. Training follows the paper's Algorithm 1 — λ = ``penalty_weight`` = 10, ``n_critic`` = 5
    critic steps per G step, Adam with β = (0, 0.9) — at twice its learning rate (2·10⁻⁴ for both players), which the
    measurements in ``benchmarks/README.md`` support for this short a run. ``images_seen`` counts the real digits the
    critic sees (each critic step takes a fresh batch): 400,000 is 12,500 critic steps and 2,500 G steps (quick mode:
    one epoch of 640). ``checkpoints`` evenly spaced copies of G are kept for the record.
    """

    name = "WGAN-GP"
    latent_dim: int = 16
    width: int = 32
    n_critic: int = 5
    penalty_weight: float = 10.0
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    betas: tuple[float, float] = (0.0, 0.9)
    average_decay: float = 0.0
    batch_size: int = 32
    images_seen: int = field(default_factory=lambda: budget(full=400_000, quick=640))
    train_images: int | None = field(default_factory=lambda: budget(full=None, quick=640))
    checkpoints: int = 10

    def build(self) -> DCGAN:
        return DCGAN(self.latent_dim, self.width, normalisation="none")

    def fit(self, gan: DCGAN, device) -> dict:
        """Train on the training digits. ``info`` holds what every GAN's record holds (curves with the critic's
        ``wasserstein`` estimate, time, snapshots) and ``checkpoints``: the epochs and steps of ``checkpoints``
        evenly spaced moments, the epoch means of the logged values there (``values["wasserstein"]``), and the
        generator's weights (see :class:`~course_utils.models.generative.Checkpoints`)."""
        return fit_with_checkpoints(self, gan, device, fit_wgan_gp)


def fit_with_checkpoints(recipe, gan: DCGAN, device, fit: Callable[..., History]) -> dict:
    """Train ``gan`` with ``fit(gan, images, recipe, on_epoch_end=...)`` on the training digits; the record holds what
    every GAN's does and ``checkpoints``: ``recipe.checkpoints`` evenly spaced copies of G and the epoch means of the
    logged values there (:class:`~course_utils.models.generative.Checkpoints`)."""
    images, _ = load_mnist("train", device=device)
    images = images[:recipe.train_images]
    epochs = recipe.epochs_for(len(images))
    snapshots = Snapshots(gan, epochs=progress_epochs(epochs))
    checkpoints = Checkpoints(gan, evenly_spaced_epochs(epochs, recipe.checkpoints))
    history = fit(gan, images, recipe, on_epoch_end=every_epoch(snapshots, checkpoints))
    return {**training_record(history, snapshots), "checkpoints": checkpoints.record()}


def fit_wgan_gp(gan: DCGAN, images: torch.Tensor, recipe: WGANGPRecipe, *, on_epoch_end=None,
                progress: bool = True) -> History:
    """Train ``gan`` in place on ``images`` (in [0, 1], on the device to train on) with the WGAN-GP game; returns the
    history (``wasserstein``, ``penalty``, ``gradient_norm`` per logging point, ``g_loss`` too). A critic that
    diverges stops training with advice, and the model keeps its last good weights (the end of the last epoch whose
    weights were all finite). A penalty weight ≤ 0 or n_critic < 1 is refused before training."""
    real = training_images(gan, images)
    g_optimizer = torch.optim.Adam(gan.generator.parameters(), lr=recipe.g_lr, betas=recipe.betas)
    d_optimizer = torch.optim.Adam(gan.discriminator.parameters(), lr=recipe.d_lr, betas=recipe.betas)
    step = make_wgan_gp_step(gan.generator, gan.discriminator, g_optimizer, d_optimizer, gan.latent_dim,
                             n_critic=recipe.n_critic, penalty_weight=recipe.penalty_weight)
    return fit_adversarial(gan, step, real, epochs=recipe.epochs_for(len(real)), batch_size=recipe.batch_size,
                           average_decay=recipe.average_decay, on_epoch_end=on_epoch_end, progress=progress,
                           description="WGAN-GP")


@dataclass(frozen=True)
class CheckpointedDCGANRecipe(DCGANRecipe):
    """A DCGAN recipe whose record also keeps ``checkpoints`` evenly spaced copies of G beside the epoch means of what
    training logged, D's loss among them, as :class:`WGANGPRecipe` does with the critic's estimate: notebook 06 asks
    whether a standard GAN's discriminator loss tracks sample quality. ``CheckpointedDCGANRecipe.as_in_the_paper()`` is
    notebook 05's paper recipe (binary cross-entropy, batch norm in D), so kept."""

    name = "DCGAN with checkpoints"
    checkpoints: int = 10

    def fit(self, gan: DCGAN, device) -> dict:
        return fit_with_checkpoints(self, gan, device, fit_dcgan)
