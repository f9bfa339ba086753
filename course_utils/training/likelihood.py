"""How notebook 11's exact-likelihood models are trained and scored: the PixelCNN on binarized digits, the RealNVP
flow on dequantized 8-bit digits. Both are trained by maximum likelihood — the loss is −log p(x) itself — through the
course's one engine, and scored on the held-out digits in nats per image and bits per dimension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..engine.captured import adam
from ..engine.config import budget
from ..engine.data import Minibatches
from ..engine.recipe import LIMITS, Limit, Recipe
from ..engine.train import History, train
from ..maths.likelihood import LEVELS, binarized_test_digits, bits_per_dim, dequantized_test_digits, spread_levels, to_levels
from ..models.generative import evaluating
from ..models.pixelcnn import PixelCNN
from ..models.realnvp import RealNVP
from .record import Snapshots, progress_epochs, training_record

GATED_LIMITS = {**LIMITS, "layers": Limit("gated layers", low=1),
                "kernel_size": Limit("the reach of each layer's convolutions (odd)", low=3)}
"""The ranges of a gated PixelCNN's fields, for every recipe that builds one (notebook 11's and notebook 12's)."""


def refuse_even_kernel(recipe: Recipe) -> None:
    """Refuse a gated PixelCNN's even ``kernel_size`` when the recipe is made: a gated layer reaches k // 2 positions
    each way, so k must be odd (``GATED_LIMITS`` already refuses k < 3)."""
    if recipe.kernel_size % 2 == 0:
        raise ValueError(f"{type(recipe).__name__}(kernel_size={recipe.kernel_size!r}) is refused: a gated layer "
                         f"reaches k // 2 positions each way, so k must be odd. Fix: give kernel_size an odd whole "
                         f"number ≥ 3, e.g. kernel_size=5 (the default).")


def discrete_bits_per_dim(nats_per_image: float) -> float:
    """A flow's −log p(y) of dequantized values y ∈ [0, 1)⁷⁸⁴ (nats per image) → the bound it gives on the 8-bit
    digits' −log₂ P(x) per pixel: the density on the 0 … 256 scale is 256⁻⁷⁸⁴ times smaller, so add 8 bits."""
    return bits_per_dim(nats_per_image) + math.log2(LEVELS)


def cosine_schedule(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int):
    """A linear warm-up over ``warmup_steps``, then a cosine decay to 0 at ``total_steps``."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup_steps) * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps)))


@torch.no_grad()
def test_nll(model, images: torch.Tensor, batch_size: int = 500) -> float:
    """−log p(x) in nats per image, averaged over ``images`` (what the model's ``log_prob`` takes)."""
    total = 0.0
    with evaluating(model):
        for batch in Minibatches(images, batch_size=batch_size, shuffle=False):
            total -= model.log_prob(batch).sum().item()
    return total / len(images)


@dataclass(frozen=True)
class PixelCNNRecipe(Recipe):
    """Notebook 11's gated PixelCNN and its training: maximum likelihood on dynamically binarized digits (each batch
    binarized afresh), Adam with a warm-up and a cosine decay.

    Calibrated on the bundled digits, two CPU cores, test NLL in nats (lower is better), all still falling when
    their training ended: 16 channels × 8 layers with 3×3 reach, 94.3 after 2,108 steps (330 s); 32 × 4 with 5×5
    reach, 92.2 after 1,426 steps; the same with the learned position maps, 88.2 after 1,364 steps (5 min). Wider
    layers use the cores better than more of them, and knowing where a pixel is in the image is worth 4 nats. 64,000
    images (992 steps, about 4 minutes) leave room in notebook 11's first run for the flow."""

    name = "PixelCNN"
    limits = GATED_LIMITS
    channels: int = 32
    layers: int = 4
    kernel_size: int = 5
    batch_size: int = 64
    images_seen: int = field(default_factory=lambda: budget(full=64_000, quick=1_280))
    train_images: int | None = field(default_factory=lambda: budget(full=None, quick=640))
    lr: float = 2e-3
    warmup_steps: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        refuse_even_kernel(self)

    def build(self) -> PixelCNN:
        return PixelCNN(self.channels, self.layers, self.kernel_size)

    def fit(self, model: PixelCNN, device) -> dict:
        """Train on the training digits; ``info`` holds the held-out ``test_nll`` (nats per binarized test digit),
        its ``bits_per_dim``, the curves, snapshots and the training time."""
        images, _ = self.training_data(device)
        snapshots = Snapshots(model, count=8, epochs={self.epochs_for(len(images))})
        history = self.train_on(model, images, on_epoch_end=snapshots)
        nll = test_nll(model, binarized_test_digits(device))
        return {**training_record(history, snapshots), "test_nll": nll, "bits_per_dim": bits_per_dim(nll)}

    def train_steps(self, model: PixelCNN, images: torch.Tensor, labels=None, *, on_epoch_end=None,
                    progress: bool = True) -> History:
        """Minimise −log p(x) in nats per image (the loss *is* the exact NLL) on grey ``images`` binarized afresh at
        every step; returns the history (``nll``)."""
        data = images.to(model.device)
        batches = Minibatches(data, batch_size=self.batch_size, drop_last=len(data) > self.batch_size)
        epochs = self.epochs_for(len(data))
        optimizer = adam(model.parameters(), device=model.device, lr=self.lr)
        schedule = cosine_schedule(optimizer, max(1, epochs * len(batches)), self.warmup_steps)

        def step(grey):
            x = torch.bernoulli(grey)                        # a fresh binarization of the batch
            logits = model.network(x)                        # all 784 conditionals in one pass
            nll = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)   # −log p(x), nats
            optimizer.zero_grad(set_to_none=True)
            nll.backward()
            optimizer.step()
            return {"nll": nll}

        return train(step, batches, epochs, model=model, schedule=schedule, capture=self.capturable,
                     on_epoch_end=on_epoch_end, progress=progress, description=self.name)


@dataclass(frozen=True)
class RealNVPRecipe(Recipe):
    """Notebook 11's RealNVP flow and its training: maximum likelihood on 8-bit digits dequantized afresh at every
    step (uniform noise in each pixel's unit cube), Adam with a warm-up and a cosine decay.

    Calibrated on the bundled digits, two CPU cores, held-out bits per dimension (lower is better): hidden 32, 64,000
    images, learning rate 10⁻³: 2.10; hidden 64, 96,000 images: 2.06 (width barely helps); hidden 32, 160,000
    images at 2·10⁻³: 1.88; the same with Glow's invertible 1×1 convolutions before every channel coupling
    (``mix``): 1.70, for 12 % more time per step. Every run was still improving when its schedule ended. The recipe's
    128,000 images (about 3 minutes) reach 1.76; 104,000 reached 1.83 for 27 s less, too much to give for the time."""

    name = "RealNVP flow"
    limits = {**LIMITS, "per_scale": Limit("coupling layers at each scale", low=1)}
    hidden: int = 32
    per_scale: int = 3
    mix: bool = True
    batch_size: int = 64
    images_seen: int = field(default_factory=lambda: budget(full=128_000, quick=1_280))
    train_images: int | None = field(default_factory=lambda: budget(full=None, quick=640))
    lr: float = 2e-3
    warmup_steps: int = 50

    def build(self) -> RealNVP:
        return RealNVP(self.hidden, self.per_scale, self.mix)

    def fit(self, model: RealNVP, device) -> dict:
        """Train on the training digits; ``info`` holds the held-out ``test_nll`` (nats per dequantized test digit, on
        [0, 1)⁷⁸⁴), the ``bits_per_dim`` it bounds on the 8-bit digits, the curves, snapshots and the time."""
        images, _ = self.training_data(device)
        snapshots = Snapshots(model, count=16, epochs=progress_epochs(self.epochs_for(len(images))))
        history = self.train_on(model, images, on_epoch_end=snapshots)
        nll = test_nll(model, dequantized_test_digits(device))
        return {**training_record(history, snapshots), "test_nll": nll, "bits_per_dim": discrete_bits_per_dim(nll)}

    def train_steps(self, model: RealNVP, images: torch.Tensor, labels=None, *, on_epoch_end=None,
                    progress: bool = True) -> History:
        """Minimise −log p(y) in nats per image on the digits dequantized afresh at every step; returns the history
        (``nll``, and ``bits_per_dim``, the bound on the 8-bit digits it gives)."""
        levels = to_levels(images.to(model.device))
        batches = Minibatches(levels, batch_size=self.batch_size, drop_last=len(levels) > self.batch_size)
        epochs = self.epochs_for(len(levels))
        optimizer = adam(model.parameters(), device=model.device, lr=self.lr)
        schedule = cosine_schedule(optimizer, max(1, epochs * len(batches)), self.warmup_steps)

        def step(level_batch):
            nll = -model.log_prob(spread_levels(level_batch), checked=False).mean()
            optimizer.zero_grad(set_to_none=True)
            nll.backward()
            optimizer.step()
            return {"nll": nll, "bits_per_dim": discrete_bits_per_dim(nll)}

        return train(step, batches, epochs, model=model, schedule=schedule, capture=self.capturable,
                     on_epoch_end=on_epoch_end, progress=progress, description=self.name)
