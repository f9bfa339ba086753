"""The tricks of Progressive GAN (Karras et al., 2018) and the truncation trick (Brock et al., 2019; Karras et al.,
2019), each a few visible lines for notebook 09.

- :func:`fade_in`: while a new, larger block is added, its output is blended with the upsampled output of the old
  network, and the blend weight α grows from 0 to 1, so the new layers start as a small correction.
- :func:`minibatch_stddev`: the discriminator sees, as one more feature map, how much the images of a small group
  differ, so a generator that draws the same image again and again is easy to catch.
- :func:`pixel_norm`: the generator's features at each pixel are scaled to unit root-mean-square over channels,
  which keeps their size from spiralling in the game between the two networks.
- :class:`EqualizedLinear`, :class:`EqualizedConv2d`: weights drawn from N(0, 1) and multiplied at every call by
  He's constant √(2 / fan-in), so Adam, which divides each update by its gradient's size, moves every layer at the
  same relative speed.
- :func:`truncated_normal`, :func:`toward_mean`: sampling latents closer to the middle, for cleaner but less varied
  samples.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


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


def truncated_normal(count: int, dim: int, threshold: float, rng: torch.Generator | None = None) -> torch.Tensor:
    """``count`` × ``dim`` draws from N(0, 1) in which every value beyond ±``threshold`` is drawn again until it lies
    inside (BigGAN's truncation trick)."""
    if threshold <= 0:
        raise ValueError(f"the threshold must be positive, got {threshold}")
    z = torch.randn(count, dim, generator=rng)
    outside = z.abs() > threshold
    while outside.any():
        z[outside] = torch.randn(int(outside.sum()), generator=rng)
        outside = z.abs() > threshold
    return z


def toward_mean(latents: torch.Tensor, mean: torch.Tensor, psi: float) -> torch.Tensor:
    """StyleGAN's truncation: mean + ψ·(latents − mean). ψ = 1 leaves the latents alone, ψ = 0 gives the mean."""
    if not 0.0 <= psi <= 1.0:
        raise ValueError(f"psi lies in [0, 1], got {psi}")
    return mean + psi * (latents - mean)
