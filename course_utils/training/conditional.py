"""Notebook 06's class-conditional GAN: its step (the hinge loss, D shown each image's label) and ``CGANRecipe``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..engine.config import budget
from ..maths.latent import sample_latent
from ..maths.losses import discriminator_hinge_loss, generator_hinge_loss
from ..models.conditional import (
    ConditionalGAN,
    ConditionalGenerator,
    ProjectionDiscriminator,
)
from .gan import GANRecipe, frozen


def make_conditional_hinge_step(generator: ConditionalGenerator, discriminator: ProjectionDiscriminator,
                                g_optimizer: torch.optim.Optimizer, d_optimizer: torch.optim.Optimizer) -> Callable:
    """Return ``step(real, labels)``: one hinge-loss update of D on real digits with their labels and fakes drawn for
    random classes, then one update of G on fresh noise and fresh classes (G raises D's score of its fakes *as the
    digits it was asked for*)."""

    def fakes(count: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        classes = torch.randint(generator.num_classes, (count,), device=device)
        return generator(sample_latent(count, generator.latent_dim, device=device), classes), classes

    def step(real: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            fake, fake_classes = fakes(real.shape[0], real.device)
        d_loss = discriminator_hinge_loss(discriminator(real, labels), discriminator(fake, fake_classes))
        d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        d_optimizer.step()

        with frozen(discriminator):
            g_loss = generator_hinge_loss(discriminator(*fakes(real.shape[0], real.device)))
            g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            g_optimizer.step()
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    return step


@dataclass(frozen=True)
class CGANRecipe(GANRecipe):
    """Notebook 06's class-conditional GAN and how it is trained, measured with ``benchmarks/sample_quality.py``.

    Notebook 05's networks made conditional: conditional batch norm in G (a γ and β per class), a projection
    discriminator with spectral norm on every layer (the class enters as an inner product with the image's
    features), the hinge loss, and every course GAN's other fields (:class:`~course_utils.training.gan.GANRecipe`: notebook
    05's learning rates, Adam β = (0, 0.9), samples from a running average of G's weights). ``images_seen`` is
    288,000: 9,000 steps of 32 (72 epochs of the 4,000 bundled digits; quick mode one epoch of 640), which is where
    the measurements in ``benchmarks/README.md`` put the label accuracy at 99 %. The step trains on the labels too.
    """

    name = "cGAN"
    images_seen: int = field(default_factory=lambda: budget(full=288_000, quick=640))

    uses_labels = True

    def build(self) -> ConditionalGAN:
        return ConditionalGAN(self.latent_dim, self.width)

    def make_step(self, gan: ConditionalGAN, g_optimizer, d_optimizer):
        return make_conditional_hinge_step(gan.generator, gan.discriminator, g_optimizer, d_optimizer)
