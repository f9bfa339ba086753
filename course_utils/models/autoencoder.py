"""A small digit autoencoder, the model trained twice in notebook 02 (pixel loss vs perceptual loss).

The encoder squeezes a digit into a few numbers; the decoder must paint the digit back from them. With a narrow
bottleneck the decoder cannot be sure of exact stroke positions, and how it hedges depends on the loss it was trained with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..config import budget
from ..data import Minibatches, check_digit_batch, check_input_dtype
from ..recipe import Recipe
from ..train import History, train


class DigitAutoencoder(nn.Module):
    """28×28 digit → ``latent`` numbers → 28×28 digit with values in [0, 1] (fully connected, one hidden layer each way)."""

    def __init__(self, latent: int = 8, hidden: int = 256):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, hidden), nn.ReLU(), nn.Linear(hidden, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 28 * 28), nn.Sigmoid(),
                                     nn.Unflatten(1, (1, 28, 28)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_digit_batch(images)
        check_input_dtype(images, self)
        return self.decoder(self.encoder(images))


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
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)

        def step(x):
            loss = loss_fn(model(x), x)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return {"loss": loss}

        return train(step, Minibatches(images[:self.train_images], batch_size=self.batch_size), self.epochs,
                     model=model, on_epoch_end=on_epoch_end, progress=progress, description=description)
