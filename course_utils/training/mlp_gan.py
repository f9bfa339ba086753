"""How notebook 04's fully connected digit GAN is trained (``MLPGANRecipe``), with snapshots of its samples along the
way, and the 1-D snapshots that show D approaching the optimal discriminator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..engine.config import budget
from ..engine.data import to_tanh_range
from ..engine.recipe import Recipe
from ..engine.train import History
from ..maths.densities import discriminator_gap, integrate, kernel_density, optimal_discriminator
from ..maths.latent import sample_latent
from ..models.mlp_gan import MLPGAN, MLPGenerator
from .gan import fit_gan
from .record import Snapshots, progress_epochs, training_record


@dataclass(frozen=True)
class MLPGANRecipe(Recipe):
    """Notebook 04's MNIST GAN: its sizes and training (Adam 5·10⁻⁴, β₁ = 0.5, batches of 64).

    The plain game of notebook 04, only longer: on the 4,000 bundled digits 40 epochs scored 4.8 (Inception-style)
    and 195 (Fréchet distance), and the same recipe keeps improving to 6.8 and 59 by 160 epochs, the
    640,000 ``images_seen`` here (``benchmarks/README.md``). Quick mode: two epochs of the training digits.
    """

    name = "MLP GAN"
    latent_dim: int = 64
    g_hidden: tuple[int, ...] = (256, 512)
    d_hidden: tuple[int, ...] = (512, 256)
    dropout: float = 0.3
    batch_size: int = 64
    lr: float = 5e-4
    betas: tuple[float, float] = (0.5, 0.999)
    images_seen: int = field(default_factory=lambda: budget(full=640_000, quick=8_000))

    def build(self) -> MLPGAN:
        return MLPGAN(self.latent_dim, self.g_hidden, self.d_hidden, self.dropout)

    def fit(self, gan: MLPGAN, device) -> dict:
        """Train on the training digits; ``info`` holds the curves and 16 samples of the same z after epochs 1, 2, 5, …"""
        images, _ = self.training_data(device)
        snapshots = Snapshots(gan, epochs=progress_epochs(self.epochs_for(len(images))))
        history = self.train_on(gan, images, on_epoch_end=snapshots)
        return training_record(history, snapshots)

    def train_steps(self, gan: MLPGAN, images: torch.Tensor, labels=None, *, on_epoch_end=None,
                    progress: bool = True) -> History:
        return fit_gan(gan.generator, gan.discriminator, to_tanh_range(images), epochs=self.epochs_for(len(images)),
                       batch_size=self.batch_size, lr=self.lr, betas=self.betas, on_epoch_end=on_epoch_end,
                       progress=progress, description="MNIST GAN")


@torch.no_grad()
def snapshot_1d(generator: MLPGenerator, discriminator: nn.Module, x: torch.Tensor, p_data: torch.Tensor,
                samples: int = 10_000) -> dict:
    """Where a 1-D GAN stands: G's samples, their density estimate p_g, D(x) and D*(x) on the grid ``x``, and the gap.

    D* uses the true p_data and a kernel density estimate of p_g (G is implicit: we can only sample it);
    ``gap`` is ∫ ½(p_data + p_g)|D − D*| dx, how far D is from the best discriminator against this G.
    """
    device = next(generator.parameters()).device
    fake = generator(sample_latent(samples, generator.latent_dim, device)).reshape(-1).double().cpu()
    p_g = kernel_density(fake, x)
    p_g = p_g / integrate(p_g, x)
    d = torch.sigmoid(discriminator(x[:, None].float().to(device))).double().cpu()
    d_star = optimal_discriminator(p_data, p_g)
    return {"samples": fake, "p_g": p_g, "d": d, "d_star": d_star,
            "gap": discriminator_gap(d, d_star, p_data, p_g, x).item()}
