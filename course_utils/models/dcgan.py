"""DCGAN (Radford, Metz & Chintala, 2016) for 28×28 digits: a convolutional generator and its mirror-image discriminator.

The generator projects a noise vector z to 7×7 feature maps and doubles the resolution twice with strided transposed
convolutions (7 → 14 → 28); the discriminator halves it twice with strided convolutions (28 → 14 → 7) and ends in one
logit. Both follow the paper's guidelines: no pooling, batch norm, ReLU in G with a Tanh output, LeakyReLU(0.2) in D,
weights drawn from N(0, 0.02). ``DCGANRecipe`` defines notebook 05's model; ``dcgan_large`` has the 32- and 64-pixel
layouts of the paper.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..config import budget
from ..data import load_mnist, to_tanh_range
from ..device import autocast_dtype, memory_format
from ..gan import fit_gan
from ..latent import check_latents
from ..recipe import Recipe
from ..train import History
from .generative import GAN, Snapshots, training_record


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
        return self.net(z[:, :, None, None])                  # z as latent_dim channels of a 1×1 map


class Discriminator(nn.Module):
    """A 28×28 image in [−1, 1] → one real-vs-fake logit per image (shape N)."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            # 28×28 → 14×14, w maps; no batch norm on D's input layer
            nn.Conv2d(1, width, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
            # 14×14 → 7×7, 2w maps (batch norm adds its own shift β, so the conv needs no bias)
            nn.Conv2d(width, 2 * width, kernel_size=4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2, True),
            # 7×7 → 1×1: one logit, the mirror image of G's projection
            nn.Conv2d(2 * width, 1, kernel_size=7, stride=1, padding=0),
        )
        self.apply(init_dcgan_weights)

    @property
    def first_filters(self) -> torch.Tensor:
        """The first layer's filters (width×1×4×4): what D looks for in the raw pixels."""
        return self.net[0].weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"the discriminator expects images shaped N×1×28×28, got {tuple(x.shape)}")
        return self.net(x).flatten()


def init_dcgan_weights(module: nn.Module) -> None:
    """The paper's initialisation: conv weights ~ N(0, 0.02); batch-norm γ ~ N(1, 0.02), β = 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGAN(GAN):
    """The 28×28 DCGAN: its generator and discriminator, with the course's generative-model verbs."""

    def __init__(self, latent_dim: int = 100, width: int = 32):
        super().__init__()
        self.latent_dim = latent_dim
        self.generator = Generator(latent_dim, width)
        self.discriminator = Discriminator(width)


@dataclass(frozen=True)
class DCGANRecipe(Recipe):
    """Notebook 05's DCGAN: the paper's Adam (2·10⁻⁴, β₁ = 0.5) on batches of 32.

    Batches of 32, not the paper's 128: on the 4,000 bundled digits, twice as many (smaller) updates as with 64 gave
    clearly better digits for about the same compute. Quick mode trains 1 epoch on the first 640 digits.
    """

    name = "DCGAN"
    latent_dim: int = 100
    width: int = 32
    batch_size: int = 32
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    epochs: int = field(default_factory=lambda: budget(full=25, quick=1))
    train_images: int | None = field(default_factory=lambda: budget(full=None, quick=640))

    def build(self) -> DCGAN:
        return DCGAN(self.latent_dim, self.width)

    def fit(self, gan: DCGAN, device) -> dict:
        """Train on the training digits; ``info`` holds the curves, the time, and 16 samples of the same z per epoch."""
        images, _ = load_mnist("train", device=device)
        snapshots = Snapshots(gan)
        history = fit_dcgan(gan, images[:self.train_images], self, on_epoch_end=snapshots)
        return training_record(history, snapshots)


def fit_dcgan(gan: DCGAN, images: torch.Tensor, recipe: DCGANRecipe, *, on_epoch_end=None, progress: bool = True) -> History:
    """Train ``gan`` in place on ``images`` (in [0, 1], on the device to train on) with the recipe; returns the history.

    The step is notebook 05's (a test checks they agree), run on the course's fast path: the images stay on the
    device, and on a CUDA GPU the networks run in bfloat16 autocast on channels-last tensors; elsewhere in float32.
    """
    device = images.device
    layout = memory_format(device)                    # channels_last on CUDA, where tensor cores like it
    real = to_tanh_range(images).contiguous(memory_format=layout)
    gan.to(device, memory_format=layout)
    history = fit_gan(gan.generator, gan.discriminator, real, epochs=recipe.epochs, batch_size=recipe.batch_size,
                      lr=recipe.lr, betas=recipe.betas, autocast_dtype=autocast_dtype(device), on_epoch_end=on_epoch_end,
                      progress=progress, description="DCGAN")
    gan.eval()
    return history
