"""Flow matching (Lipman et al., 2023; Liu et al., 2023, "rectified flow"): the loss and how notebook 10 trains with it.

A straight path runs from noise x₀ ~ N(0, I) at t = 0 to a data point x₁ at t = 1: x_t = (1 − t)·x₀ + t·x₁, with
velocity x₁ − x₀. A network v(x_t, t) regressed onto that velocity with MSE learns its conditional *mean*
E[x₁ − x₀ | x_t] (notebook 01's lesson); following that mean velocity from t = 0 to 1 with many small steps carries
noise to sharp digits (the solvers live with the model, in :mod:`course_utils.models.flow`). ``FlowRecipe`` adds what
the digit model needs: logit-normal times, label dropout for guidance, a warm-up and cosine schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..engine.captured import adam
from ..engine.config import budget
from ..engine.data import Minibatches, to_tanh_range
from ..engine.recipe import Recipe
from ..engine.train import History, RunningAverage, train
from ..models.flow import (
    FlowModel,
)
from .record import Snapshots, progress_epochs, training_record


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


@dataclass(frozen=True)
class FlowRecipe(Recipe):
    """Notebook 10's flow-matching U-Net and how it is trained: Adam with a short warm-up and a cosine decay, digits
    in [−1, 1], a running average of the weights for sampling. ``conditional`` adds the class (dropped
    ``drop_label`` of the time, for classifier-free guidance) and samples with guidance ``guidance``.

    Width 16 (275,000 weights) and 300,000 images (75 epochs of the bundled digits, 4,687 steps of 64) train in about
    five minutes on two CPU cores. Measured on the unconditional model (Fréchet distance, lower is better): times drawn
    logit-normal (Esser et al., 2024) 93 instead of 109 with uniform times; batches of 64 with a slower average 81
    instead of 93 (twice the updates for the same images); 4w channels and a second block at 7 pixels 62–67 instead
    of 81, for the same training time. Once the running average stopped keeping a share of the untrained weights,
    a shorter average (decay 0.999, about the last 1,000 steps) left the cleanest backgrounds, and guidance 1.75
    kept the guided model's score while its Fréchet distance fell (1.5 and 2 trade one for the other). The scores
    are in ``benchmarks/README.md``."""

    name = "flow matching U-Net"
    latent_dim: ClassVar[int] = FlowModel.latent_dim      # the starting noise is the latent
    conditional: bool = False
    width: int = 16
    batch_size: int = 64
    images_seen: int = field(default_factory=lambda: budget(full=300_000, quick=2_000))
    lr: float = 2e-3
    warmup_steps: int = 100
    average_decay: float = 0.999
    drop_label: float = 0.1
    time_sampling: str = "logit_normal"
    guidance: float = 1.75
    steps: int = 20
    solver: str = "euler"

    @property
    def uses_labels(self) -> bool:
        """A class-conditional flow learns from the labels; an unconditional one ignores them."""
        return self.conditional

    def build(self) -> FlowModel:
        return FlowModel(self.width, 10 if self.conditional else None, self.steps, self.solver,
                         self.guidance if self.conditional else 1.0)

    def fit(self, model: FlowModel, device) -> dict:
        """Train on the training digits (and their labels, if conditional); ``info`` holds the curves, the time and
        the same noise decoded by the running average after epochs 1, 2, 5, …"""
        images, labels = self.training_data(device)
        snapshots = Snapshots(model, epochs=progress_epochs(self.epochs_for(len(images))))
        history = self.train_on(model, images, labels, on_epoch_end=snapshots)
        return training_record(history, snapshots)

    def train_steps(self, model: FlowModel, images: torch.Tensor, labels: torch.Tensor | None, *, on_epoch_end=None,
                    progress: bool = True) -> History:
        """Train ``model.network`` with :func:`~course_utils.training.flow_matching.flow_matching_loss` (the class dropped
        ``drop_label`` of the time when conditional, for guidance), Adam with a linear warm-up and a cosine decay, and
        let ``model.average`` follow it; returns the history (``loss``)."""
        data = to_tanh_range(images.to(model.device))
        tensors = (data, labels.to(model.device)) if self.conditional else (data,)
        batches = Minibatches(*tensors, batch_size=self.batch_size, drop_last=len(data) > self.batch_size)
        epochs = self.epochs_for(len(data))
        total_steps = max(1, epochs * len(batches))
        optimizer = adam(model.network.parameters(), device=model.device, lr=self.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(       # linear warm-up, then a cosine decay to 0
            optimizer, lambda step: min(1.0, (step + 1) / self.warmup_steps) * 0.5 * (1 + math.cos(math.pi * step / total_steps)))

        def step(x, y=None):
            loss = flow_matching_loss(model.network, x, y, drop_label=self.drop_label, null_label=10,
                                      time_sampling=self.time_sampling)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return {"loss": loss}

        return train(step, batches, epochs, model=model, average=RunningAverage(model.network, model.average, self.average_decay),
                     schedule=schedule, capture=self.capturable, on_epoch_end=on_epoch_end, progress=progress,
                     description=f"{self.name}{', class-conditional' if self.conditional else ''}")
