"""Flow matching (Lipman et al., 2023; Liu et al., 2023, "rectified flow") and the ODE solvers that sample from it
(notebook 10).

A straight path runs from noise x₀ ~ N(0, I) at t = 0 to a data point x₁ at t = 1: x_t = (1 − t)·x₀ + t·x₁, with
velocity x₁ − x₀. A network v(x_t, t) regressed onto that velocity with MSE learns its conditional *mean*
E[x₁ − x₀ | x_t] (notebook 01's lesson), and following that mean velocity from t = 0 to 1 with many small steps
carries noise to sharp digits. Classifier-free guidance (Ho & Salimans, 2022) trains one network with and without
the label and extrapolates between the two velocities.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

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


def _per_example(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Times of shape (N,) shaped to broadcast against ``like`` (N×…)."""
    if t.shape != (like.shape[0],):
        raise ValueError(f"expected one time per example, shape ({like.shape[0]},), got {tuple(t.shape)}")
    return t.view(-1, *([1] * (like.dim() - 1))).to(like.dtype)


def point_on_path(noise: torch.Tensor, data: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The point at time ``t`` (shape N) on the straight path from ``noise`` (t = 0) to ``data`` (t = 1)."""
    if noise.shape != data.shape:
        raise ValueError(f"noise and data must have one shape, got {tuple(noise.shape)} and {tuple(data.shape)}")
    t = _per_example(t, data)
    return (1 - t) * noise + t * data


TIME_SAMPLINGS = ("uniform", "logit_normal")


def flow_matching_loss(velocity_model: Callable, data: torch.Tensor, labels: torch.Tensor | None = None, *,
                       drop_label: float = 0.0, null_label: int = 10, time_sampling: str = "uniform") -> torch.Tensor:
    """Mean squared error between ``velocity_model(x_t, t[, labels])`` and the path's velocity ``data − noise``, at
    random times t and fresh noise. With ``labels``, each is replaced by ``null_label`` ("no label") with
    probability ``drop_label``, so one network learns the conditional and the unconditional velocity.

    ``time_sampling``: t uniform on [0, 1], or ``"logit_normal"``, t = sigmoid(n) with n ~ N(0, 1), which spends
    more of the training on the middle of the path, where the velocity is hardest to guess (Esser et al., 2024)."""
    if time_sampling not in TIME_SAMPLINGS:
        raise ValueError(f"time_sampling is one of {TIME_SAMPLINGS}, got {time_sampling!r}")
    noise = torch.randn_like(data)
    t = (torch.rand(len(data), device=data.device) if time_sampling == "uniform"
         else torch.sigmoid(torch.randn(len(data), device=data.device)))
    x_t = point_on_path(noise, data, t)
    if labels is None:
        prediction = velocity_model(x_t, t)
    else:
        if not 0.0 <= drop_label <= 1.0:
            raise ValueError(f"drop_label is a probability between 0 and 1, got {drop_label}")
        dropped = torch.rand(len(labels), device=labels.device) < drop_label
        prediction = velocity_model(x_t, t, torch.where(dropped, torch.full_like(labels, null_label), labels))
    return F.mse_loss(prediction, data - noise)


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
