"""How notebook 05's DCGAN is trained (``DCGANRecipe``), and the two variants of notebook 06: the SN-GAN (the same
recipe sampling from G itself) and a DCGAN that keeps checkpoints of G beside its losses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine.config import budget
from ..engine.device import autocast_dtype
from ..models.dcgan import DCGAN
from .gan import GANRecipe, make_gan_step


@dataclass(frozen=True)
class DCGANRecipe(GANRecipe):
    """Notebook 05's DCGAN and how it is trained, measured with ``benchmarks/sample_quality.py``.

    The paper's networks and guidelines, with the changes that the measurements on 4,000 digits support (see
    ``benchmarks/README.md``): spectral normalisation instead of batch norm in D, the hinge loss, a discriminator
    that learns twice as fast as the generator with Adam's β₁ = 0, a 16-dimensional latent, samples drawn from a
    running average of G's weights (``average_decay``; 0 samples from G itself), and longer training:
    ``images_seen`` is 24,000 steps of 32 (192 epochs of the 4,000 bundled digits; quick mode: one epoch of 640).
    The other fields and the training are every course GAN's (:class:`~course_utils.training.gan.GANRecipe`); the step is
    notebook 05's (a test checks they agree), in bfloat16 autocast on a CUDA GPU and float32 elsewhere.
    """

    name = "DCGAN"
    normalisation: str = "spectral"
    loss: str = "hinge"

    @classmethod
    def as_in_the_paper(cls) -> DCGANRecipe:
        """The paper's recipe on the same networks: batch norm in D, binary cross-entropy, Adam 2·10⁻⁴ with β₁ = 0.5,
        a 100-dimensional latent, no averaging, 25 epochs of the 4,000 bundled digits (notebook 05's comparison)."""
        return cls(latent_dim=100, normalisation="batch", loss="non-saturating", g_lr=2e-4, d_lr=2e-4,
                   betas=(0.5, 0.999), average_decay=0.0, images_seen=budget(full=100_000, quick=640))

    def build(self) -> DCGAN:
        return DCGAN(self.latent_dim, self.width, self.normalisation)

    def make_step(self, gan: DCGAN, g_optimizer, d_optimizer):
        return make_gan_step(gan.generator, gan.discriminator, g_optimizer, d_optimizer, gan.latent_dim,
                             loss=self.loss, autocast_dtype=autocast_dtype(gan.device))


@dataclass(frozen=True)
class SNGANRecipe(DCGANRecipe):
    """Notebook 05's DCGAN recipe (spectral norm in D, hinge loss, D learning twice as fast, Adam β = (0, 0.9), a
    16-d latent) without the running average of G (``average_decay = 0``: samples come from G itself) and with
    ``images_seen`` 384,000 (12,000 steps of 32; quick mode one epoch of 640)."""

    name = "SN-GAN"
    average_decay: float = 0.0
    images_seen: int = field(default_factory=lambda: budget(full=384_000, quick=640))


@dataclass(frozen=True)
class CheckpointedDCGANRecipe(DCGANRecipe):
    """A DCGAN recipe whose record also keeps ``checkpoints`` evenly spaced copies of G beside the epoch means of what
    training logged, D's loss among them, as :class:`WGANGPRecipe` does with the critic's estimate: notebook 06 asks
    whether a standard GAN's discriminator loss tracks sample quality. ``CheckpointedDCGANRecipe.as_in_the_paper()`` is
    notebook 05's paper recipe (binary cross-entropy, batch norm in D), so kept."""

    name = "DCGAN with checkpoints"
    checkpoints: int = 10
