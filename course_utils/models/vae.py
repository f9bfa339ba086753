"""The fully-connected MNIST VAE of Kingma & Welling (2014): 784 → 400 → (μ, log σ²) of 20 dims; 20 → 400 → 784.

The encoder outputs a diagonal Gaussian q(z|x); the decoder outputs the logits of independent Bernoulli
distributions p(x|z), one per pixel. How notebook 03 trains it is :mod:`course_utils.training.vae`.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from .generative import PIXELS, GenerativeModel, check_input_dtype, check_latents, evaluating, flatten_digits


class VAE(GenerativeModel):
    """Encoder 784 → ``hidden`` → (μ, log σ²) of ``latent_dim``; decoder ``latent_dim`` → ``hidden`` → 784 logits."""

    def __init__(self, latent_dim: int = 20, hidden: int = 400):
        super().__init__()
        if not isinstance(latent_dim, numbers.Integral) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        self.latent_dim = latent_dim = int(latent_dim)
        self.encoder = nn.Sequential(nn.Linear(PIXELS, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, PIXELS))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters of q(z|x) for images N×1×28×28 (or flat N×784): ``(mu, logvar)``, each N×latent_dim."""
        rows = flatten_digits(x)
        check_input_dtype(rows, self)
        hidden = self.encoder(rows)
        return self.to_mu(hidden), self.to_logvar(hidden)

    def decoder_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of p(x|z), N×784, for latent codes N×latent_dim (what training and the bounds need)."""
        check_latents(z, self.latent_dim)
        check_input_dtype(z, self)
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, draw one reparameterised z, decode: returns ``(logits, mu, logvar)``."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)     # reparameterised: differentiable in μ and log σ²
        return self.decoder_logits(z), mu, logvar

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """``decode(z)``: the decoder's pixel means (probabilities of ink) for latent codes z ~ N(0, I) (checked by
        ``decode``), as images N×1×28×28."""
        with evaluating(self):
            return torch.sigmoid(self.decoder_logits(z)).view(-1, 1, 28, 28)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the mean code μ(x) of each image: the model's best guess of x, N×1×28×28."""
        return self.decode(self.encode(x)[0])
