"""Notebook 10's flow-matching model: a small U-Net that predicts the velocity of the straight noise → digit path,
the ODE solvers that follow it, and :class:`FlowModel`, which samples with them (how it is trained:
:mod:`course_utils.training.flow_matching`).

The U-Net (Ronneberger et al., 2015, as diffusion models use it: Ho et al., 2020) works at three resolutions, 28, 14
and 7 pixels, with w, 2w and 4w channels and two residual blocks at 7 pixels, where a block is as cheap as one at
28 pixels with w channels; every residual block adds the sinusoidal time embedding (and, for the conditional model,
a learned class embedding with one extra row meaning "no label") to its features, and normalises with GroupNorm,
which unlike batch norm treats every example alone. Sampling integrates dx/dt = v(x, t) from noise at t = 0 to a
digit at t = 1 (Euler or Heun); classifier-free guidance (Ho & Salimans, 2022) extrapolates from the velocity
without the label towards the one with it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .generative import GenerativeModel, check_count, check_labels, evaluating, to_pixels

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def time_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features of times ``t`` in [0, 1] (shape N) → N×dim: the sines, then the cosines, of 1000·t at
    ``dim / 2`` frequencies spaced geometrically from 1 down to max_period^(−(dim/2 − 1)/(dim/2)), just above
    1/max_period (Vaswani et al., 2017; Ho et al., 2020),
    so the network can tell nearby times apart at several scales. Every value lies in [−1, 1]."""
    if dim < 2 or dim % 2:
        raise ValueError(f"the time embedding needs an even dim ≥ 2 (sines and cosines in pairs), got {dim}")
    if t.dim() != 1:
        raise ValueError(f"expected one time per example, a tensor of shape (N,), got {tuple(t.shape)}")
    half = dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = 1000.0 * t.float()[:, None] * frequencies[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def _time_step(steps: int, start: float) -> float:
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number ≥ 1, got {steps!r}")
    if not 0.0 <= start < 1.0:
        raise ValueError(f"start is the time the input sits at, in [0, 1), got {start!r}")
    return (1.0 - start) / steps


@torch.no_grad()
def euler_sample(velocity: Velocity, noise: torch.Tensor, steps: int, start: float = 0.0) -> torch.Tensor:
    """Follow dx/dt = velocity(x, t) from t = ``start`` (default 0: ``noise`` is pure noise) to t = 1 with
    ``steps`` equal Euler steps."""
    x, dt = noise, _time_step(steps, start)
    for i in range(steps):
        t = torch.full((len(x),), start + i * dt, device=x.device)
        x = x + dt * velocity(x, t)
    return x


@torch.no_grad()
def heun_sample(velocity: Velocity, noise: torch.Tensor, steps: int, start: float = 0.0) -> torch.Tensor:
    """Heun's method (a second-order Runge–Kutta): an Euler step, then the average of the velocities at both ends.
    Two network calls per step, but far more accurate per step on curved paths."""
    x, dt = noise, _time_step(steps, start)
    for i in range(steps):
        t = torch.full((len(x),), start + i * dt, device=x.device)
        v = velocity(x, t)
        guess = x + dt * v
        x = x + dt * 0.5 * (v + velocity(guess, t + dt))
    return x


def guided_velocity(velocity_model: Callable, labels: torch.Tensor, scale: float, null_label: int = 10) -> Velocity:
    """Classifier-free guidance: v = v(x, t, ∅) + scale·(v(x, t, y) − v(x, t, ∅)). Scale 1 is the conditional model,
    0 the unconditional one, above 1 pushes samples further towards what makes them look like class y. Both
    velocities come from one batch of 2N."""
    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if scale == 1.0:
            return velocity_model(x, t, labels)
        if scale == 0.0:
            return velocity_model(x, t, torch.full_like(labels, null_label))
        both = velocity_model(torch.cat([x, x]), torch.cat([t, t]),
                              torch.cat([labels, torch.full_like(labels, null_label)]))
        conditional, unconditional = both.chunk(2)
        return unconditional + scale * (conditional - unconditional)
    return velocity

SOLVERS = {"euler": euler_sample, "heun": heun_sample}


class ResidualBlock(nn.Module):
    """GroupNorm → SiLU → 3×3 conv, plus the embedding as one shift per channel, → GroupNorm → SiLU → 3×3 conv,
    added to the input (through a 1×1 conv when the channel count changes). Keeps the spatial size."""

    def __init__(self, channels_in: int, channels_out: int, embedding_dim: int, groups: int = 8):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, channels_in)
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1)
        self.shift = nn.Linear(embedding_dim, channels_out)
        self.norm2 = nn.GroupNorm(groups, channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1)
        self.skip = nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.shift(embedding)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class UNet(nn.Module):
    """(x_t, t[, class]) → the velocity at x_t, N×1×28×28. ``num_classes`` = None: unconditional; otherwise the
    label embedding has ``num_classes + 1`` rows, the last one for "no label" (classifier-free guidance)."""

    def __init__(self, width: int = 32, num_classes: int | None = None):
        super().__init__()
        w, e = width, 4 * width
        self.width, self.num_classes = width, num_classes
        self.time_mlp = nn.Sequential(nn.Linear(w, e), nn.SiLU(), nn.Linear(e, e))          # t → N×e
        self.label_embedding = nn.Embedding(num_classes + 1, e) if num_classes else None     # class → N×e
        self.stem = nn.Conv2d(1, w, 3, padding=1)                                            # N×w×28×28
        self.down1 = ResidualBlock(w, w, e)                                                  # N×w×28×28 (kept)
        self.reduce1 = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)                           # N×2w×14×14
        self.down2 = ResidualBlock(2 * w, 2 * w, e)                                          # N×2w×14×14 (kept)
        self.reduce2 = nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1)                       # N×4w×7×7
        self.middle1 = ResidualBlock(4 * w, 4 * w, e)                                        # N×4w×7×7
        self.middle2 = ResidualBlock(4 * w, 4 * w, e)                                        # N×4w×7×7
        self.enlarge2 = nn.Conv2d(4 * w, 2 * w, 3, padding=1)                                # after ×2: N×2w×14×14
        self.up2 = ResidualBlock(4 * w, 2 * w, e)                                            # with kept: N×2w×14×14
        self.enlarge1 = nn.Conv2d(2 * w, w, 3, padding=1)                                    # after ×2: N×w×28×28
        self.up1 = ResidualBlock(2 * w, w, e)                                                # with kept: N×w×28×28
        self.head = nn.Sequential(nn.GroupNorm(8, w), nn.SiLU(), nn.Conv2d(w, 1, 3, padding=1))  # N×1×28×28
        nn.init.zeros_(self.head[-1].weight)               # start by predicting velocity 0 everywhere
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1:] != (1, 28, 28):
            raise ValueError(f"expected noisy digits N×1×28×28, got {tuple(x.shape)}")
        embedding = self.time_mlp(time_embedding(t, self.width))
        if self.label_embedding is not None:
            if labels is None:
                raise ValueError("this U-Net is class-conditional: pass labels (use the 'no label' class "
                                 f"{self.num_classes} for the unconditional velocity)")
            embedding = embedding + self.label_embedding(check_labels(labels, len(x), self.num_classes + 1))
        h = self.stem(x)
        kept1 = self.down1(h, embedding)
        kept2 = self.down2(self.reduce1(kept1), embedding)
        h = self.middle2(self.middle1(self.reduce2(kept2), embedding), embedding)
        h = self.enlarge2(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.up2(torch.cat([h, kept2], dim=1), embedding)
        h = self.enlarge1(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.up1(torch.cat([h, kept1], dim=1), embedding)
        return self.head(h)


class FlowModel(GenerativeModel):
    """A flow-matching model with the course's four verbs: its latent z is the starting noise itself (784 numbers,
    z ~ N(0, I), the prior every path starts from), and ``decode`` follows the learned velocity from that noise to a
    digit. ``network`` is trained; ``average`` (an exponential moving average of its weights) is what samples.
    ``num_classes`` is None for the unconditional model, 10 for the class-conditional one."""

    latent_dim = 28 * 28
    chunk = 250

    def __init__(self, width: int = 16, num_classes: int | None = None, steps: int = 20, solver: str = "euler",
                 guidance: float = 1.0):
        super().__init__()
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; choose from {', '.join(SOLVERS)}")
        self.network = UNet(width, num_classes)
        self.average = copy.deepcopy(self.network).requires_grad_(False)
        self.num_classes, self.steps, self.solver, self.guidance = num_classes, steps, solver, guidance
        self.to(memory_format=torch.channels_last)      # faster convolutions on CPUs (oneDNN) and GPUs alike

    @property
    def conditional(self) -> bool:
        return self.num_classes is not None

    def default_labels(self, n: int) -> torch.Tensor | None:
        """The classes ``sample(n)`` draws when it is given none: None for the unconditional model; for the
        conditional one 0, 1, …, 9, 0, 1, … in turn (every class equally often when n is a multiple of 10), so every
        row of ten samples, such as the training snapshots' first ten, shows each digit once, in order."""
        n = check_count(n)
        return None if not self.conditional else torch.arange(n, device=self.device) % self.num_classes

    def _decode(self, z: torch.Tensor, labels: torch.Tensor | None = None, steps: int | None = None,
                guidance: float | None = None) -> torch.Tensor:
        """``decode(z, labels, steps, guidance)``: digits N×1×28×28 in [0, 1] from starting noise ``z`` (N×784, from
        N(0, I); checked by ``decode``): ``steps`` solver steps (default ``self.steps``). A conditional model draws
        ``labels`` (default ``default_labels(N)``: 0, 1, …, 9 in turn) with guidance scale ``guidance`` (default
        ``self.guidance``)."""
        if self.conditional:
            labels = self.default_labels(len(z)) if labels is None else labels
            check_labels(labels, len(z), self.num_classes)
        solve, steps = SOLVERS[self.solver], self.steps if steps is None else steps
        guidance = self.guidance if guidance is None else guidance
        images = []
        with evaluating(self.average) as network:
            for start in range(0, len(z), self.chunk):            # 250 at a time: faster than 1,000 at once on a CPU
                noise = z[start:start + self.chunk].view(-1, 1, 28, 28)
                velocity = network if not self.conditional else guided_velocity(
                    network, labels[start:start + self.chunk].to(z.device), guidance, null_label=self.num_classes)
                images.append(to_pixels(solve(velocity, noise, steps).clamp(-1, 1)))
        return torch.cat(images)

    @torch.no_grad()
    def sample(self, n: int, rng: int | torch.Generator | None = None, labels: torch.Tensor | None = None,
               steps: int | None = None, guidance: float | None = None) -> torch.Tensor:
        """``n`` new digits: starting noise from N(0, I), decoded (see :meth:`_decode`)."""
        return self.decode(self.sample_latent(n, rng), labels, steps, guidance)
