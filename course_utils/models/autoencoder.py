"""A small digit autoencoder, the model trained twice in notebook 02 (pixel loss vs perceptual loss).

The encoder squeezes a digit into a few numbers; the decoder must paint the digit back from them. With a narrow
bottleneck the decoder cannot be sure of exact stroke positions, and how it hedges depends on the loss it was trained with.
"""

from __future__ import annotations

import torch
from torch import nn

from .generative import check_digit_batch, check_input_dtype


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
