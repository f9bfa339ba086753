"""Notebook 10's flow-matching model: a small U-Net that predicts the velocity of the straight noise → digit path,
the :class:`FlowModel` that samples by following it, and :class:`FlowRecipe`, how the course trains it.

The U-Net (Ronneberger et al., 2015, as diffusion models use it: Ho et al., 2020) works at three resolutions, 28, 14
and 7 pixels, with w, 2w and 4w channels and two residual blocks at 7 pixels, where a block is as cheap as one at
28 pixels with w channels; every residual block adds the sinusoidal time embedding (and, for the conditional model, a learned
class embedding with one extra row meaning "no label") to its features, and normalises with GroupNorm, which unlike
batch norm treats every example alone.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..config import budget
from ..data import Minibatches, check_labels, to_pixels, to_tanh_range
from ..flow_matching import euler_sample, flow_matching_loss, guided_velocity, heun_sample, time_embedding
from ..latent import check_count
from ..recipe import Recipe
from ..train import History, RunningAverage, train
from .generative import GenerativeModel, Snapshots, evaluating, progress_epochs, training_record

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


@dataclass(frozen=True)
class FlowRecipe(Recipe):
    """Notebook 10's flow-matching U-Net and how it is trained: Adam with a short warm-up and a cosine decay, digits
    in [−1, 1], a running average of the weights for sampling. ``conditional`` adds the class (dropped
    ``drop_label`` of the time, for classifier-free guidance) and samples with guidance ``guidance``.

    Width 16 (275,000 weights) and 300,000 images (75 epochs of the bundled digits, 4,687 steps of 64) train in about
    five minutes on two CPU cores. Measured on the unconditional model (Fréchet distance, lower is better): times drawn
    logit-normal (Esser et al., 2024) 93 instead of 109 with uniform times; batches of 64 with a slower average 81
    instead of 93 (twice the updates for the same images); 4w channels and a second block at 7 pixels 62–67 instead
    of 81, for the same training time. The scores are in ``benchmarks/README.md``."""

    name = "flow matching U-Net"
    latent_dim: ClassVar[int] = FlowModel.latent_dim      # the starting noise is the latent
    conditional: bool = False
    width: int = 16
    batch_size: int = 64
    images_seen: int = field(default_factory=lambda: budget(full=300_000, quick=2_000))
    lr: float = 2e-3
    warmup_steps: int = 100
    average_decay: float = 0.9995
    drop_label: float = 0.1
    time_sampling: str = "logit_normal"
    guidance: float = 2.0
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
        """Train ``model.network`` with :func:`~course_utils.flow_matching.flow_matching_loss` (the class dropped
        ``drop_label`` of the time when conditional, for guidance), Adam with a linear warm-up and a cosine decay, and
        let ``model.average`` follow it; returns the history (``loss``)."""
        data = to_tanh_range(images.to(model.device))
        tensors = (data, labels.to(model.device)) if self.conditional else (data,)
        batches = Minibatches(*tensors, batch_size=self.batch_size, drop_last=len(data) > self.batch_size)
        epochs = self.epochs_for(len(data))
        total_steps = max(1, epochs * len(batches))
        optimizer = torch.optim.Adam(model.network.parameters(), lr=self.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(       # linear warm-up, then a cosine decay to 0
            optimizer, lambda step: min(1.0, (step + 1) / self.warmup_steps) * 0.5 * (1 + math.cos(math.pi * step / total_steps)))

        def step(x, y=None):
            loss = flow_matching_loss(model.network, x, y, drop_label=self.drop_label, null_label=10,
                                      time_sampling=self.time_sampling)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            return {"loss": loss}

        return train(step, batches, epochs, model=model, average=RunningAverage(model.network, model.average, self.average_decay),
                     on_epoch_end=on_epoch_end, progress=progress,
                     description=f"{self.name}{', class-conditional' if self.conditional else ''}")
