"""Fully connected GANs (Goodfellow et al., 2014): for 1-D and 2-D toy data and for MNIST digits (notebook 04).

The generator maps noise z ~ N(0, I) to a sample; the discriminator maps a sample to one logit (D = sigmoid of it).
``course_utils.gan.fit_gan`` trains any pair; ``MLPGANRecipe`` defines the digit GAN, which
``pretrained(MLPGANRecipe())`` trains once and caches with its training curves and samples taken along the way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ..config import budget
from ..data import DISCRIMINATOR_UINT8_ADVICE, check_input_dtype, to_tanh_range
from ..densities import discriminator_gap, integrate, kernel_density, optimal_discriminator
from ..gan import fit_gan
from ..latent import check_latents, sample_latent
from ..recipe import Recipe
from ..train import History
from .generative import GAN, Snapshots, progress_epochs, training_record


def _mlp(sizes: Sequence[int], dropout: float = 0.0, batch_norm: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for width_in, width_out in zip(sizes[:-2], sizes[1:-1]):
        layers.append(nn.Linear(width_in, width_out))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width_out))
        layers.append(nn.LeakyReLU(0.2))
        if dropout:
            layers.append(nn.Dropout(dropout))
    return layers + [nn.Linear(sizes[-2], sizes[-1])]


class MLPGenerator(nn.Module):
    """z (latent_dim) → a sample of ``output_shape``; ``tanh=True`` squashes it to [−1, 1] (for images).

    ``batch_norm=True`` normalises each hidden layer over the minibatch, which steadies training on images; in
    training mode it then needs at least 2 latent vectors per call.
    """

    def __init__(self, latent_dim: int, output_shape: Sequence[int], hidden: Sequence[int] = (128, 128),
                 tanh: bool = False, batch_norm: bool = False):
        super().__init__()
        self.latent_dim = latent_dim
        self.output_shape = tuple(output_shape)
        self.batch_norm = batch_norm
        layers = _mlp([latent_dim, *hidden, math.prod(self.output_shape)], batch_norm=batch_norm)
        self.net = nn.Sequential(*layers, *([nn.Tanh()] if tanh else []))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_latents(z, self.latent_dim)
        check_input_dtype(z, self)
        if self.batch_norm and self.training and z.shape[0] == 1:
            raise ValueError("batch norm cannot train on 1 example: in training mode it normalises every layer over the "
                             "batch, so pass at least 2 latent vectors, or call generator.eval() first (sample() and "
                             "decode() do) to make a single image")
        return self.net(z).reshape(-1, *self.output_shape)


class MLPDiscriminator(nn.Module):
    """A sample of ``input_shape`` → one logit per example (D(x) = sigmoid(logit) = P(x is real))."""

    def __init__(self, input_shape: Sequence[int], hidden: Sequence[int] = (128, 128), dropout: float = 0.0):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.net = nn.Sequential(nn.Flatten(), *_mlp([math.prod(self.input_shape), *hidden, 1], dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"the discriminator expects inputs of shape N×{'×'.join(map(str, self.input_shape))}, "
                             f"got {tuple(x.shape)}")
        check_input_dtype(x, self, DISCRIMINATOR_UINT8_ADVICE)
        return self.net(x)[:, 0]


class MLPGAN(GAN):
    """A fully connected generator and discriminator for digits, with the course's generative-model verbs.

    G: ``latent_dim`` → ``g_hidden`` → 784 pixels in [−1, 1] (batch norm, LeakyReLU, Tanh);
    D: 784 → ``d_hidden`` → 1 logit (LeakyReLU, dropout so it cannot simply memorise a few thousand digits).
    """

    def __init__(self, latent_dim: int = 64, g_hidden: Sequence[int] = (256, 512), d_hidden: Sequence[int] = (512, 256),
                 dropout: float = 0.3):
        super().__init__()
        self.latent_dim = latent_dim
        self.generator = MLPGenerator(latent_dim, (1, 28, 28), hidden=g_hidden, tanh=True, batch_norm=True)
        self.discriminator = MLPDiscriminator((1, 28, 28), hidden=d_hidden, dropout=dropout)


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
