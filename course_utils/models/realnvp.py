"""Notebook 11's normalizing flow: RealNVP (Dinh et al., 2017) on dequantized 8-bit digits.

A flow is an invertible map f from images x to latents z = f(x) with a simple density (z ~ N(0, I)); the change of
variables gives the exact log-density log p(x) = log N(f(x); 0, I) + log |det ∂f/∂x|. An affine coupling layer keeps
half of the values (a mask picks them) and scales and shifts the other half by amounts a network computes from the
kept half: its Jacobian is triangular, its log-determinant the sum of the log-scales, and its inverse as cheap as
itself. Checkerboard masks at 28×28, a squeeze to 4×14×14 and channel masks there, then again at 16×7×7, let every
value condition on every other; Glow's invertible 1×1 convolutions (``mix``) rotate the channels before every
channel coupling, so each split keeps a different mixture. Before the flow, a logit transform maps (0, 1) to the
whole real line, where coupling layers work well; its log-determinant is part of the density too.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .generative import GenerativeModel, check_digit_batch, evaluating

SIDE = 28
LOGIT_MARGIN = 0.05
"""The logit transform squeezes [0, 1] into [α, 1 − α] first (α = 0.05), so pixel values at 0 or 1 stay finite."""


def checkerboard_mask(channels: int, side: int, parity: int) -> torch.Tensor:
    """1×C×S×S: 1 where (row + column) has ``parity``, 0 elsewhere — the values a coupling keeps."""
    rows, columns = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    return ((rows + columns) % 2 == parity).float().expand(1, channels, side, side).clone()


def channel_mask(channels: int, side: int, parity: int) -> torch.Tensor:
    """1×C×S×S: 1 on the first half of the channels (``parity`` 0) or on the second half (1)."""
    mask = torch.zeros(1, channels, side, side)
    half = channels // 2
    mask[:, :half] = 1.0 if parity == 0 else 0.0
    mask[:, half:] = 0.0 if parity == 0 else 1.0
    return mask


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """N×C×S×S → N×4C×(S/2)×(S/2): each 2×2 block of pixels becomes four channels (invertible, log-determinant 0)."""
    n, c, h, w = x.shape
    return x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, 4 * c, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`squeeze`."""
    n, c, h, w = x.shape
    return x.view(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c // 4, 2 * h, 2 * w)


def conv_net(channels: int, hidden: int) -> nn.Sequential:
    """A coupling's network for images: C×S×S kept values → 2C×S×S raw log-scales and shifts (3×3, 1×1, 3×3)."""
    return nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(),      # N×hidden×S×S
                         nn.Conv2d(hidden, hidden, 1), nn.ReLU(),                   # N×hidden×S×S
                         nn.Conv2d(hidden, 2 * channels, 3, padding=1))             # N×2C×S×S: (s, t)


def mlp_net(dims: int, hidden: int) -> nn.Sequential:
    """A coupling's network for points: D kept values → 2D raw log-scales and shifts."""
    return nn.Sequential(nn.Linear(dims, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 2 * dims))


class AffineCoupling(nn.Module):
    """x → z: the values where ``mask`` is 1 pass unchanged; the others become x·exp(s) + t, with (s, t) computed
    from the kept values by ``net`` (its output: 2 × the channels of x, the log-scales then the shifts). log |det
    ∂z/∂x| = Σ s over the changed values. The log-scales are bounded, s = b·tanh(raw / b) with a learned bound b per
    channel (2 at the start), so one bad step cannot blow a value up. ``net``'s last layer starts at zero: every
    coupling starts as the identity. ``mask`` is 1×C×S×S for images or 1×D for points."""

    def __init__(self, mask: torch.Tensor, net: nn.Module):
        super().__init__()
        self.register_buffer("mask", mask)
        self.net = net
        last = [module for module in net.modules() if isinstance(module, (nn.Conv2d, nn.Linear))][-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.log_bound = nn.Parameter(torch.zeros(*mask.shape[:2], *([1] * (mask.dim() - 2))))

    def scale_and_shift(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The log-scales s and shifts t (zero where the mask keeps a value) computed from the kept values."""
        raw_s, t = self.net(kept).chunk(2, dim=1)
        bound = 2 * torch.exp(self.log_bound)
        s = bound * torch.tanh(raw_s / bound)
        changed = 1 - self.mask
        return s * changed, t * changed

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z, log |det ∂z/∂x|) for x: z = kept + changed ⊙ (x·exp(s) + t); the log-determinant is Σ s, per example."""
        kept = x * self.mask
        s, t = self.scale_and_shift(kept)
        return kept + (1 - self.mask) * (x * torch.exp(s) + t), s.flatten(1).sum(1)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """x from z: the kept values are z's own, so (s, t) are recomputed exactly and undone: (z − t)·exp(−s)."""
        kept = z * self.mask
        s, t = self.scale_and_shift(kept)
        return kept + (1 - self.mask) * ((z - t) * torch.exp(-s))


class Squeeze(nn.Module):
    """:func:`squeeze` as a flow layer: (z, log-determinant 0) forwards, :func:`unsqueeze` backwards."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return squeeze(x), torch.zeros(len(x), device=x.device, dtype=x.dtype)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return unsqueeze(z)


class ChannelMix(nn.Module):
    """Glow's invertible 1×1 convolution (Kingma & Dhariwal, 2018): every pixel's C channels times one C×C matrix W,
    started as a random rotation, so the next coupling splits a different mixture of channels. Its log-determinant
    is H·W·log |det W|, the same matrix at every pixel."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.linalg.qr(torch.randn(channels, channels))[0])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_det = x.shape[2] * x.shape[3] * torch.linalg.slogdet(self.weight)[1]
        return F.conv2d(x, self.weight[:, :, None, None]), log_det.expand(len(x))

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(z, torch.linalg.inv(self.weight)[:, :, None, None])


class RealNVPFlow(nn.Module):
    """Three scales of affine couplings on 1×28×28 values: ``per_scale`` checkerboard couplings at 28×28 (masks
    alternating), a squeeze to 4×14×14, ``per_scale`` channel couplings and ``per_scale`` checkerboard couplings,
    a squeeze to 16×7×7 and ``per_scale`` channel couplings; then unsqueezed back, so z has the image's shape. With
    ``mix``, a :class:`ChannelMix` before every channel coupling."""

    def __init__(self, hidden: int = 32, per_scale: int = 3, mix: bool = True):
        super().__init__()

        def couple(mask: torch.Tensor, width: int) -> list[nn.Module]:
            channel_split = mask.shape[1] > 1 and mask[0, :, 0, 0].min() != mask[0, :, 0, 0].max()
            mixing = [ChannelMix(mask.shape[1])] if mix and channel_split else []
            return [*mixing, AffineCoupling(mask, conv_net(mask.shape[1], width))]

        steps: list[nn.Module] = []
        for i in range(per_scale):                                                      # 1×28×28
            steps += couple(checkerboard_mask(1, 28, i % 2), hidden)
        steps.append(Squeeze())                                                         # → 4×14×14
        for i in range(per_scale):
            steps += couple(channel_mask(4, 14, i % 2), 2 * hidden)
        for i in range(per_scale):
            steps += couple(checkerboard_mask(4, 14, i % 2), 2 * hidden)
        steps.append(Squeeze())                                                         # → 16×7×7
        for i in range(per_scale):
            steps += couple(channel_mask(16, 7, i % 2), 4 * hidden)
        self.steps = nn.ModuleList(steps)
        self.squeezes = sum(isinstance(step, Squeeze) for step in steps)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z, log |det ∂z/∂x|) for x of shape N×1×28×28: the log-determinants of the steps add up."""
        log_det = torch.zeros(len(x), device=x.device, dtype=x.dtype)
        for step in self.steps:
            x, step_log_det = step(x)
            log_det = log_det + step_log_det
        for _ in range(self.squeezes):
            x = unsqueeze(x)
        return x, log_det

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """x for z (N×1×28×28): every step undone, last first."""
        for _ in range(self.squeezes):
            z = squeeze(z)
        for step in reversed(self.steps):
            z = step.inverse(z)
        return z


def logit_transform(y: torch.Tensor, margin: float = LOGIT_MARGIN) -> tuple[torch.Tensor, torch.Tensor]:
    """y ∈ [0, 1] → (logit(α + (1 − 2α)·y), log |det| per image): the flow's input on the whole real line."""
    squeezed = margin + (1 - 2 * margin) * y
    x = torch.log(squeezed) - torch.log1p(-squeezed)
    log_det = (math.log(1 - 2 * margin) - torch.log(squeezed) - torch.log1p(-squeezed)).flatten(1).sum(1)
    return x, log_det


def inverse_logit_transform(x: torch.Tensor, margin: float = LOGIT_MARGIN) -> torch.Tensor:
    """The inverse of :func:`logit_transform`: real values → y in [0, 1]."""
    return (torch.sigmoid(x) - margin) / (1 - 2 * margin)


def standard_normal_log_density(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over each example's values (shape N)."""
    return -0.5 * (z ** 2 + math.log(2 * math.pi)).flatten(1).sum(1)


class RealNVP(GenerativeModel):
    """A RealNVP flow with the course's four verbs: z ~ N(0, I) of 784 values; ``decode(z)`` runs the flow backwards
    to a digit; ``log_prob(y)`` is the exact log-density of values y in [0, 1]⁷⁸⁴ (dequantized digits), in nats."""

    latent_dim = SIDE * SIDE

    def __init__(self, hidden: int = 32, per_scale: int = 3, mix: bool = True):
        super().__init__()
        self.flow = RealNVPFlow(hidden, per_scale, mix)

    def encode(self, y: torch.Tensor, checked: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(z, log |det ∂z/∂y|) for values y N×1×28×28 in [0, 1]: the logit transform, then the flow. ``checked=False``
        skips the check of y (training's step, whose batches were checked once before training)."""
        if checked:
            check_digit_batch(y)
        x, log_det_logit = logit_transform(y)
        z, log_det_flow = self.flow(x)
        return z, log_det_logit + log_det_flow

    def log_prob(self, y: torch.Tensor, checked: bool = True) -> torch.Tensor:
        """log p(y) in nats per image (shape N): log N(z; 0, I) + log |det ∂z/∂y|, exact."""
        z, log_det = self.encode(y, checked)
        return standard_normal_log_density(z) + log_det

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """Digits N×1×28×28 in [0, 1] for latents z (checked by ``decode``): the flow inverted, then the logit."""
        with evaluating(self.flow):
            x = self.flow.inverse(z.view(-1, 1, SIDE, SIDE))
        return inverse_logit_transform(x).clamp(0, 1)
