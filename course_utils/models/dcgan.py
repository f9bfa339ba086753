"""DCGAN (Radford, Metz & Chintala, 2016) for 28×28 digits: a convolutional generator and its mirror-image discriminator.

The generator projects a noise vector z to 7×7 feature maps and doubles the resolution twice with strided transposed
convolutions (7 → 14 → 28); the discriminator halves it twice with strided convolutions (28 → 14 → 7) and ends in one
logit. Both follow the paper's guidelines: no pooling, batch norm, ReLU in G with a Tanh output, LeakyReLU(0.2) in D,
weights drawn from N(0, 0.02). How notebook 05 trains them: :mod:`course_utils.training.dcgan`; ``dcgan_large`` has
the 32- and 64-pixel layouts of the paper.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .generative import DISCRIMINATOR_UINT8_ADVICE, GAN, check_input_dtype, check_latents

NORMALISATIONS = ("batch", "spectral", "none")


class Generator(nn.Module):
    """z (N×latent_dim) → a 28×28 image in [−1, 1]; ``width`` channels just before the output layer."""

    def __init__(self, latent_dim: int = 100, width: int = 32):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            # project: z as a 1×1 map, latent_dim channels → 2w maps of 7×7 (the kernel covers the whole output)
            nn.ConvTranspose2d(latent_dim, 2 * width, kernel_size=7, stride=1, padding=0, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(True),
            # 7×7 → 14×14: every input pixel stamps a 4×4 filter, stamps 2 pixels apart
            nn.ConvTranspose2d(2 * width, width, kernel_size=4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
            # 14×14 → 28×28, one grey channel; Tanh keeps pixels in [−1, 1] (no batch norm on G's output)
            nn.ConvTranspose2d(width, 1, kernel_size=4, stride=2, padding=1),
            nn.Tanh(),
        )
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_latents(z, self.latent_dim)
        check_input_dtype(z, self)
        return self.net(z[:, :, None, None])                  # z as latent_dim channels of a 1×1 map


class Discriminator(nn.Module):
    """A 28×28 image in [−1, 1] → one real-vs-fake score per image (shape N).

    ``normalisation="batch"`` is the paper's D (batch norm after the second convolution). ``"spectral"`` divides
    every layer's weights by their largest singular value instead (Miyato et al., 2018), so no layer can stretch its
    input by more than a factor of 1: D stays smooth, and G gets useful gradients from it for much longer.
    ``"none"`` leaves the layers as they are: a WGAN-GP critic, whose gradient penalty is computed per example,
    which batch norm would break by mixing the examples of a batch.
    """

    def __init__(self, width: int = 32, normalisation: str = "spectral"):
        super().__init__()
        if normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {NORMALISATIONS}, got {normalisation!r}")
        batch_norm = normalisation == "batch"
        self.net = nn.Sequential(
            # 28×28 → 14×14, w maps; no batch norm on D's input layer
            nn.Conv2d(1, width, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
            # 14×14 → 7×7, 2w maps (batch norm adds its own shift β, so then the conv needs no bias)
            nn.Conv2d(width, 2 * width, kernel_size=4, stride=2, padding=1, bias=not batch_norm),
            nn.BatchNorm2d(2 * width) if batch_norm else nn.Identity(),
            nn.LeakyReLU(0.2, True),
            # 7×7 → 1×1: one score, the mirror image of G's projection
            nn.Conv2d(2 * width, 1, kernel_size=7, stride=1, padding=0),
        )
        self.apply(init_dcgan_weights)
        if normalisation == "spectral":               # every conv's weight is divided by its largest singular value
            for layer in self.net:
                if isinstance(layer, nn.Conv2d):
                    nn.utils.parametrizations.spectral_norm(layer)

    @property
    def first_filters(self) -> torch.Tensor:
        """The first layer's filters (width×1×4×4): what D looks for in the raw pixels."""
        return self.net[0].weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"the discriminator expects images shaped N×1×28×28, got {tuple(x.shape)}")
        check_input_dtype(x, self, DISCRIMINATOR_UINT8_ADVICE)
        return self.net(x).flatten()


def init_dcgan_weights(module: nn.Module) -> None:
    """The paper's initialisation: conv weights ~ N(0, 0.02); batch-norm γ ~ N(1, 0.02), β = 0 (where it has them)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGAN(GAN):
    """The 28×28 DCGAN: its generator and discriminator, and a running average of the generator's weights.

    Training moves ``generator``; ``average_generator`` follows it as an exponential moving average and is what
    ``decode`` and ``sample`` draw from.
    """

    def __init__(self, latent_dim: int = 100, width: int = 32, normalisation: str = "spectral"):
        super().__init__()
        self.latent_dim = latent_dim
        self.generator = Generator(latent_dim, width)
        self.discriminator = Discriminator(width, normalisation)
        self.average_generator = copy.deepcopy(self.generator).requires_grad_(False)

    @property
    def sampler(self) -> nn.Module:
        return self.average_generator
