"""The SN-GAN of notebook 06 (Miyato et al., 2018): spectral normalisation on every layer of D, the hinge loss.

Notebook 05's DCGAN recipe already adopted both, by measurement (``benchmarks/README.md``), so the SN-GAN is that
recipe with one change, not a new model: it samples from G itself, as the paper does, instead of from a running
average of G's weights, and it trains for a shorter time, so that notebook 06 can afford it. The difference between
the two rows of the closing table is then the averaging and the training length, not spectral normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import budget
from .dcgan import DCGANRecipe


@dataclass(frozen=True)
class SNGANRecipe(DCGANRecipe):
    """Notebook 05's DCGAN recipe (spectral norm in D, hinge loss, D learning twice as fast, Adam β = (0, 0.9), a
    16-d latent) without the running average of G (``average_decay = 0``: samples come from G itself) and with
    ``images_seen`` 384,000 (12,000 steps of 32; quick mode one epoch of 640)."""

    name = "SN-GAN"
    average_decay: float = 0.0
    images_seen: int = field(default_factory=lambda: budget(full=384_000, quick=640))
