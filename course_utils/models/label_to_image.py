"""Label → image regression: the classification pipeline run backwards, trained with pixel-wise MSE (notebook 01).

A one-hot digit label goes through a small MLP that paints all 784 pixels at once. Because several different
images are "correct" for each label, the MSE-optimal answer is their average: the network learns the class mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..config import budget
from ..recipe import Recipe
from ..toy_regression import fit_regressor
from ..train import History


class LabelToImage(nn.Module):
    """Digit label (0–9) → 28×28 grey image with values in [0, 1] (one-hot input, two hidden layers, sigmoid)."""

    def __init__(self, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(10, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 28 * 28), nn.Sigmoid(),
        )

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        if labels.ndim != 1 or labels.is_floating_point():
            raise ValueError(f"expected a 1-D tensor of integer digit labels, got shape {tuple(labels.shape)} "
                             f"and dtype {labels.dtype}")
        if labels.numel() and (labels.min() < 0 or labels.max() > 9):
            raise ValueError("digit labels must lie in 0…9")
        return self.net(F.one_hot(labels, 10).float()).view(-1, 1, 28, 28)


@dataclass(frozen=True)
class LabelToImageRecipe(Recipe):
    """Notebook 01's label → image network and its training (Adam 10⁻³ on batches of 64); the notebook writes the step."""

    name = "label to image"
    uses_labels = True
    hidden: int = 256
    batch_size: int = 64
    lr: float = 1e-3
    epochs: int = field(default_factory=lambda: budget(full=10, quick=2))

    def build(self) -> LabelToImage:
        return LabelToImage(self.hidden)

    def train_steps(self, model: LabelToImage, images: torch.Tensor, labels: torch.Tensor, *, on_epoch_end=None,
                    progress: bool = True) -> History:
        """Regress each image on its label with the mean squared error (notebook 01 writes this step out)."""
        return fit_regressor(model, labels, images, self.epochs, lr=self.lr, batch_size=self.batch_size,
                             progress=progress, on_epoch_end=on_epoch_end)


def class_means(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The average image of each digit class, 10×1×28×28: the conditional mean E[image | label]."""
    missing = [d for d in range(10) if not (labels == d).any()]
    if missing:
        raise ValueError(f"no images of digit(s) {missing}: every class needs at least one example")
    return torch.stack([images[labels == d].mean(0) for d in range(10)])
