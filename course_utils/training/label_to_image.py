"""How notebook 01's label → image network is trained (pixel-wise MSE), and the class means it should learn."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..engine.config import budget
from ..engine.recipe import Recipe
from ..engine.train import History
from ..models.label_to_image import LabelToImage
from .regression import fit_regressor


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
                             progress=progress, on_epoch_end=on_epoch_end, capture=self.capturable)


def class_means(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The average image of each digit class, 10×1×28×28: the conditional mean E[image | label]."""
    missing = [d for d in range(10) if not (labels == d).any()]
    if missing:
        raise ValueError(f"no images of digit(s) {missing}: every class needs at least one example")
    return torch.stack([images[labels == d].mean(0) for d in range(10)])
