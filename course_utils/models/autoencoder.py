"""A small digit autoencoder, the model trained twice in notebook 02 (pixel loss vs perceptual loss).

The encoder squeezes a digit into a few numbers; the decoder must paint the digit back from them. With a narrow
bottleneck the decoder cannot be sure of exact stroke positions, and how it hedges depends on the loss it was trained with.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..data import Minibatches
from ..train import History, train
from .classifier import check_digit_batch


class DigitAutoencoder(nn.Module):
    """28×28 digit → ``latent`` numbers → 28×28 digit with values in [0, 1] (fully connected, one hidden layer each way)."""

    def __init__(self, latent: int = 8, hidden: int = 256):
        super().__init__()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, hidden), nn.ReLU(), nn.Linear(hidden, latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 28 * 28), nn.Sigmoid(),
                                     nn.Unflatten(1, (1, 28, 28)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_digit_batch(images)
        return self.decoder(self.encoder(images))


def fit_autoencoder(model: DigitAutoencoder, images: torch.Tensor, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                    epochs: int, batch_size: int = 64, lr: float = 1e-3, progress: bool = True,
                    description: str = "autoencoder") -> History:
    """Train ``model`` in place to reconstruct ``images``, with ``loss_fn(reconstruction, original)`` as the loss."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def step(x):
        loss = loss_fn(model(x), x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss}

    model.train()
    history = train(step, Minibatches(images, batch_size=batch_size), epochs, progress=progress, description=description)
    model.eval()
    return history
