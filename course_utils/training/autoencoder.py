"""How notebook 02's digit autoencoder is trained, once with a pixel loss and once with a perceptual loss."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..engine.captured import adam
from ..engine.config import budget
from ..engine.data import Minibatches
from ..engine.recipe import Recipe
from ..engine.train import History, train
from ..models.autoencoder import DigitAutoencoder


@dataclass(frozen=True)
class AutoencoderRecipe(Recipe):
    """Notebook 02's autoencoder and its training, the same for both losses: only the loss differs between the two.

    ``feature_layers`` and ``pixel_weight`` define the perceptual loss (classifier layers compared, weight of the
    pixel term); the pixel-MSE model ignores them.
    """

    name = "digit autoencoder"
    latent_dim: int = 8
    hidden: int = 256
    batch_size: int = 64
    lr: float = 1e-3
    epochs: int = field(default_factory=lambda: budget(full=6, quick=3))
    train_images: int = field(default_factory=lambda: budget(full=4000, quick=1000))
    feature_layers: tuple[str, ...] = ("conv1", "conv2")
    pixel_weight: float = 1.0

    def build(self) -> DigitAutoencoder:
        return DigitAutoencoder(self.latent_dim, self.hidden)

    def train_steps(self, model: DigitAutoencoder, images: torch.Tensor, labels=None, *, on_epoch_end=None,
                    progress: bool = True, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.mse_loss,
                    description: str = "autoencoder") -> History:
        """Train ``model`` in place to reconstruct the first ``train_images`` of ``images``, with
        ``loss_fn(reconstruction, original)`` as the loss (pixel MSE unless told otherwise): notebook 02's step (a test
        checks they agree), repeated."""
        optimizer = adam(model.parameters(), device=images.device, lr=self.lr)

        def step(x):
            loss = loss_fn(model(x), x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return {"loss": loss}

        return train(step, Minibatches(images[:self.train_images], batch_size=self.batch_size), self.epochs,
                     model=model, capture=self.capturable, on_epoch_end=on_epoch_end, progress=progress,
                     description=description)
