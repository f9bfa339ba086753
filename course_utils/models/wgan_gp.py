"""WGAN-GP on digits (Gulrajani et al., 2017), notebook 06: notebook 05's networks, the critic without batch norm.

The critic is trained ``n_critic`` times per generator step towards
max E[D(real)] − E[D(fake)] − λ·E[(‖∇D(x̂)‖ − 1)²] (``course_utils.wgan.make_wgan_gp_step``); the first two terms
are its estimate of the Wasserstein-1 distance
between the training digits and G's samples, logged as ``wasserstein``. The recipe keeps the generator at evenly
spaced checkpoints beside that estimate, so a notebook can score each checkpoint's samples and check that the
estimate falls as the samples improve.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import budget
from ..gan import GANRecipe
from ..wgan import make_wgan_gp_step
from .dcgan import DCGAN, DCGANRecipe


@dataclass(frozen=True)
class WGANGPRecipe(GANRecipe):
    """Notebook 06's WGAN-GP and how it is trained, measured with ``benchmarks/sample_quality.py``.

    The model is a :class:`~course_utils.models.dcgan.DCGAN` whose discriminator has no normalisation: a critic with
    a real-valued score. Training follows the paper's Algorithm 1 — λ = ``penalty_weight`` = 10, ``n_critic`` = 5
    critic steps per G step, Adam with β = (0, 0.9) — at twice its learning rate (2·10⁻⁴ for both players), which the
    measurements in ``benchmarks/README.md`` support for this short a run. ``images_seen`` counts the real digits the
    critic sees (each critic step takes a fresh batch): 400,000 is 12,500 critic steps and 2,500 G steps (quick mode:
    one epoch of 640). ``checkpoints`` evenly spaced copies of G are kept in the record, beside the epoch means of the
    critic's ``wasserstein`` estimate (:class:`~course_utils.models.generative.Checkpoints`).

    The step updates G only every ``n_critic``-th call, a branch a CUDA graph cannot hold, so it is not captured.
    """

    name = "WGAN-GP"
    n_critic: int = 5
    penalty_weight: float = 10.0
    d_lr: float = 2e-4
    average_decay: float = 0.0
    images_seen: int = field(default_factory=lambda: budget(full=400_000, quick=640))
    checkpoints: int = 10

    capturable = False

    def build(self) -> DCGAN:
        return DCGAN(self.latent_dim, self.width, normalisation="none")

    def make_step(self, gan: DCGAN, g_optimizer, d_optimizer):
        return make_wgan_gp_step(gan.generator, gan.discriminator, g_optimizer, d_optimizer, gan.latent_dim,
                                 n_critic=self.n_critic, penalty_weight=self.penalty_weight)


@dataclass(frozen=True)
class CheckpointedDCGANRecipe(DCGANRecipe):
    """A DCGAN recipe whose record also keeps ``checkpoints`` evenly spaced copies of G beside the epoch means of what
    training logged, D's loss among them, as :class:`WGANGPRecipe` does with the critic's estimate: notebook 06 asks
    whether a standard GAN's discriminator loss tracks sample quality. ``CheckpointedDCGANRecipe.as_in_the_paper()`` is
    notebook 05's paper recipe (binary cross-entropy, batch norm in D), so kept."""

    name = "DCGAN with checkpoints"
    checkpoints: int = 10
