"""The DCGAN paper's layout for 32×32 and 64×64 images, with any number of colour channels.

The projection makes 4×4 feature maps; each further doubling of the image adds one stride-2 transposed convolution
to G (and one strided convolution to D) while the channels halve, so every layer costs about the same. Notebook 05
trains the 28×28 networks of :mod:`course_utils.models.dcgan`; these larger ones appear there as shape tables and
are what the paper trained on bedrooms and faces (and what a GPU speed benchmark wants).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .dcgan import init_dcgan_weights
from .generative import DISCRIMINATOR_UINT8_ADVICE, check_input_dtype, check_latents

IMAGE_SIZES = (32, 64)
FIRST_MAP = 4


def _doublings(image_size: int) -> int:
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES} (28×28 digits use models.dcgan), got {image_size!r}")
    return int(math.log2(image_size // FIRST_MAP))


class LargeGenerator(nn.Module):
    """z (N×latent_dim) → image N×channels×size×size in [−1, 1]; ``width`` channels just before the output layer."""

    def __init__(self, latent_dim: int = 100, width: int = 64, image_size: int = 64, channels: int = 3):
        super().__init__()
        doublings = _doublings(image_size)
        self.latent_dim = latent_dim
        features = width * 2 ** (doublings - 1)
        layers = [nn.ConvTranspose2d(latent_dim, features, FIRST_MAP, 1, 0, bias=False),          # 1×1 → 4×4
                  nn.BatchNorm2d(features), nn.ReLU(True)]
        for _ in range(doublings - 1):                                                           # ×2 each
            layers += [nn.ConvTranspose2d(features, features // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(features // 2),
                       nn.ReLU(True)]
            features //= 2
        layers += [nn.ConvTranspose2d(features, channels, 4, 2, 1), nn.Tanh()]                   # last ×2, to the image
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_latents(z, self.latent_dim)
        check_input_dtype(z, self)
        return self.net(z[:, :, None, None])                  # z as latent_dim channels of a 1×1 map


class LargeDiscriminator(nn.Module):
    """Image N×channels×size×size in [−1, 1] → one real-vs-fake logit per image (shape N)."""

    def __init__(self, width: int = 64, image_size: int = 64, channels: int = 3):
        super().__init__()
        doublings = _doublings(image_size)
        self.image_shape = (channels, image_size, image_size)
        layers = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]                  # ÷2, no batch norm
        features = width
        for _ in range(doublings - 1):                                                           # ÷2 each
            layers += [nn.Conv2d(features, features * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(features * 2),
                       nn.LeakyReLU(0.2, True)]
            features *= 2
        layers += [nn.Conv2d(features, 1, FIRST_MAP, 1, 0)]                                      # 4×4 → one logit
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"the discriminator expects images shaped N×{'×'.join(map(str, self.image_shape))}, "
                             f"got {tuple(x.shape)}")
        check_input_dtype(x, self, DISCRIMINATOR_UINT8_ADVICE)
        return self.net(x).flatten()
