"""Progressive growing of GANs (Karras, Aila, Laine & Lehtinen, 2018) at digit scale: 7×7 → 14×14 → 28×28.

Both networks are built at full size from the start, but training first uses only the 7×7 part; then the 14×14
block fades in (the blend weight α rises from 0 to 1), then the 28×28 block. ``stage = (level, alpha)`` says which
part runs: level 0, 1, 2 for 7, 14, 28 pixels; α < 1 while the newest block is fading in. The layers use the paper's
tricks, defined first below: the fade-in, an equalised learning rate, pixelwise feature normalisation in G and the
minibatch standard deviation in D. The growth schedule and the recipe: :mod:`course_utils.training.progressive`.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from .generative import GAN, check_latents


def fade_in(old: torch.Tensor, new: torch.Tensor, alpha: float) -> torch.Tensor:
    """(1 − α)·``old`` + α·``new``: the old path's output (already upsampled to the new size) and the new block's, of
    one shape. α = 0 is the old network exactly, α = 1 the new one."""
    if old.shape != new.shape:
        raise ValueError(f"the old and new outputs must have one shape (upsample the old one first), got "
                         f"{tuple(old.shape)} and {tuple(new.shape)}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha blends the two outputs and lies in [0, 1], got {alpha}")
    return (1 - alpha) * old + alpha * new


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """N×C×H×W → N×(C+1)×H×W: in each group of ``group_size`` consecutive images, the standard deviation of every
    feature over the group, averaged over features and pixels, appended as a constant feature map."""
    if x.dim() != 4:
        raise ValueError(f"expected features N×C×H×W, got {tuple(x.shape)}")
    n, c, h, w = x.shape
    if group_size < 2 or n % group_size:
        raise ValueError(f"the batch ({n}) must split into groups of group_size ≥ 2 images, got group_size={group_size}")
    groups = x.view(-1, group_size, c, h, w)
    variance = (groups - groups.mean(dim=1, keepdim=True)).pow(2).mean(dim=1)   # over the group (faster than .var here)
    spread = variance.add(1e-8).sqrt().mean(dim=(1, 2, 3))                          # one number per group
    feature = spread.repeat_interleave(group_size).view(n, 1, 1, 1).expand(n, 1, h, w)
    return torch.cat([x, feature], dim=1)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Each pixel's feature vector divided by its root-mean-square over the channels (dim 1)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


class EqualizedLinear(nn.Module):
    """A linear layer whose weights are stored as N(0, 1) draws and scaled by √(gain / fan-in) at every call."""

    def __init__(self, in_features: int, out_features: int, gain: float = 2.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = math.sqrt(gain / in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class EqualizedConv2d(nn.Module):
    """A convolution whose weights are stored as N(0, 1) draws and scaled by √(gain / fan-in) at every call
    (fan-in = input channels × kernel area)."""

    def __init__(self, channels_in: int, channels_out: int, kernel_size: int, padding: int = 0, gain: float = 2.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(channels_out, channels_in, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(channels_out))
        self.scale, self.padding = math.sqrt(gain / (channels_in * kernel_size**2)), padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


SIDES = (7, 14, 28)
"""The image side at each level of growth."""


def conv_block(channels_in: int, channels_out: int) -> nn.Sequential:
    """A 3×3 equalised convolution with LeakyReLU(0.2): the unit both networks grow by (the paper uses two)."""
    return nn.Sequential(EqualizedConv2d(channels_in, channels_out, 3, padding=1), nn.LeakyReLU(0.2))


class Generator(nn.Module):
    """z (N×latent_dim) → an image N×1×r×r in about [−1, 1], r = 7, 14 or 28 as ``stage`` says (28 when grown).

    ``channels`` are the feature maps at 7, 14 and 28 pixels. Every block is followed by pixel_norm; each level has
    its own 1×1 "to image" layer, so any level can end the network.
    """

    def __init__(self, latent_dim: int = 32, channels: tuple[int, int, int] = (32, 16, 8)):
        super().__init__()
        self.latent_dim, self.channels = latent_dim, tuple(channels)
        c7, c14, c28 = channels
        self.project = EqualizedLinear(latent_dim, c7 * 7 * 7, gain=2 / 16)       # z → c7×7×7 (ProGAN's 4×4 dense)
        self.blocks = nn.ModuleList([conv_block(c7, c7), conv_block(c7, c14), conv_block(c14, c28)])
        self.to_image = nn.ModuleList([EqualizedConv2d(c, 1, 1, gain=1) for c in channels])
        self.stage = (2, 1.0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_latents(z, self.latent_dim)
        level, alpha = self.stage
        x = F.leaky_relu(self.project(pixel_norm(z)), 0.2).view(-1, self.channels[0], 7, 7)
        x = pixel_norm(self.blocks[0](pixel_norm(x)))                              # N×c7×7×7
        for grown in range(1, level + 1):                                        # 7 → 14 → 28
            previous = x                                                         # N×c×s×s
            x = pixel_norm(self.blocks[grown](F.interpolate(x, scale_factor=2)))  # N×c'×2s×2s
        image = self.to_image[level](x)                                          # N×1×side×side
        if level > 0 and alpha < 1:                       # the old, smaller image, enlarged, blended with the new one
            old = F.interpolate(self.to_image[level - 1](previous), scale_factor=2)
            image = fade_in(old, image, alpha)
        return image


class Discriminator(nn.Module):
    """An image N×1×r×r (r = 7, 14 or 28, as ``stage`` says) → one real-vs-fake score per image (shape N).

    The mirror image of the generator: a 1×1 "from image" layer per level, blocks that halve the resolution, and at
    7×7 the minibatch standard deviation as one more feature map before the last layers. The batch must split into
    groups of 4.
    """

    def __init__(self, channels: tuple[int, int, int] = (32, 16, 8)):
        super().__init__()
        c7, c14, c28 = self.channels = tuple(channels)
        self.from_image = nn.ModuleList([EqualizedConv2d(1, c, 1) for c in channels])
        self.blocks = nn.ModuleList([nn.Identity(), conv_block(c14, c7), conv_block(c28, c14)])
        self.last = nn.Sequential(EqualizedConv2d(c7 + 1, c7, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten(),
                                  EqualizedLinear(c7 * 7 * 7, c7), nn.LeakyReLU(0.2), EqualizedLinear(c7, 1, gain=1))
        self.stage = (2, 1.0)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        level, alpha = self.stage
        side = SIDES[level]
        if image.ndim != 4 or tuple(image.shape[1:]) != (1, side, side):
            raise ValueError(f"at stage {self.stage} the discriminator expects images shaped N×1×{side}×{side}, "
                             f"got {tuple(image.shape)}")
        x = F.leaky_relu(self.from_image[level](image), 0.2)                      # N×c×r×r
        for shrunk in range(level, 0, -1):                                       # 28 → 14 → 7
            x = F.avg_pool2d(self.blocks[shrunk](x), 2)                           # N×c'×r/2×r/2
            if shrunk == level and alpha < 1:             # the old path sees the image at half size
                old = F.leaky_relu(self.from_image[level - 1](F.avg_pool2d(image, 2)), 0.2)
                x = fade_in(old, x, alpha)
        return self.last(minibatch_stddev(x)).flatten()                           # N×(c7+1)×7×7 → N


class ProgressiveGAN(GAN):
    """The growing generator and discriminator, and a running average of G's weights (what ``decode`` draws from).

    ``set_stage(level, alpha)`` sets the stage of all three networks; a trained or loaded model is at (2, 1.0), full
    size, and ``decode`` gives 28×28 images. At a smaller stage ``decode`` gives the smaller images.
    """

    def __init__(self, latent_dim: int = 32, channels: tuple[int, int, int] = (32, 16, 8)):
        super().__init__()
        self.latent_dim = latent_dim
        self.generator = Generator(latent_dim, channels)
        self.discriminator = Discriminator(channels)
        self.average_generator = copy.deepcopy(self.generator).requires_grad_(False)

    @property
    def sampler(self) -> nn.Module:
        return self.average_generator

    @property
    def stage(self) -> tuple[int, float]:
        return self.generator.stage

    def set_stage(self, level: int, alpha: float = 1.0) -> None:
        if level not in (0, 1, 2) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"level is 0, 1 or 2 (7, 14 or 28 pixels) and alpha lies in [0, 1], got {level}, {alpha}")
        for network in (self.generator, self.discriminator, self.average_generator):
            network.stage = (level, float(alpha))
