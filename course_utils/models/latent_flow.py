"""Notebook 12's generation in a latent space: flow matching (notebook 10's) on a VQ-VAE's continuous 7×7 latents.

The idea behind latent diffusion (Rombach et al., 2022): let an autoencoder handle the pixels and run the generative
model where the data is small and its details already summarised. Here the velocity network works on the encoder's
D×7×7 outputs (scaled to unit spread) instead of 1×28×28 pixels; the ODE carries noise to a latent grid, and the
VQ-VAE's decoder — each vector snapped to its nearest code first, as in training — paints the digit.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .flow import SOLVERS, ResidualBlock, time_embedding
from .generative import GenerativeModel, evaluating
from .vqvae import GRID, VQVAE


class SelfAttention(nn.Module):
    """GroupNorm, then multi-head self-attention over the grid's positions, added back: in one layer every position
    sees every other, where a 3×3 convolution sees its neighbours (Vaswani et al., 2017; as in Ho et al., 2020)."""

    def __init__(self, channels: int, heads: int = 4):
        super().__init__()
        self.norm = nn.GroupNorm(8, channels)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)                              # N×(H·W)×C
        mixed, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return x + mixed.transpose(1, 2).reshape(n, c, h, w)


class LatentVelocity(nn.Module):
    """(latent grid x_t N×D×7×7, time t) → the velocity at x_t, N×D×7×7: a 3×3 stem, ``blocks`` residual blocks of
    ``width`` channels at 7×7 (each adds the time embedding), self-attention over the 49 positions after every second
    block, and a 3×3 head that starts at 0."""

    def __init__(self, code_dim: int, width: int = 64, blocks: int = 4):
        super().__init__()
        self.width = width
        self.time_mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.SiLU(), nn.Linear(4 * width, 4 * width))  # N×4w
        self.stem = nn.Conv2d(code_dim, width, 3, padding=1)                                     # N×w×7×7
        self.blocks = nn.ModuleList([ResidualBlock(width, width, 4 * width) for _ in range(blocks)])  # N×w×7×7
        self.attentions = nn.ModuleList([SelfAttention(width) for _ in range(blocks // 2)])     # N×w×7×7
        self.head = nn.Sequential(nn.GroupNorm(8, width), nn.SiLU(), nn.Conv2d(width, code_dim, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)                # start by predicting velocity 0 everywhere
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        embedding = self.time_mlp(time_embedding(t, self.width))
        h = self.stem(x)
        for number, block in enumerate(self.blocks):
            h = block(h, embedding)
            if number % 2 == 1:                               # after every second block: all 49 positions mix
                h = self.attentions[number // 2](h)
        return self.head(h)


class LatentFlow(GenerativeModel):
    """A VQ-VAE (frozen) and a flow-matching model of its latents, with the course's four verbs: the latent z is the
    starting noise (D·49 numbers, z ~ N(0, I)); ``decode`` follows the learned velocity to a latent grid, undoes the
    scaling and lets the VQ-VAE paint it. ``network`` is trained, ``average`` (its running average) samples;
    ``centre`` and ``spread`` hold the training latents' mean and standard deviation in each of the D channels."""

    def __init__(self, autoencoder: VQVAE, width: int = 64, blocks: int = 4, steps: int = 20, solver: str = "euler"):
        super().__init__()
        if solver not in SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; choose from {', '.join(SOLVERS)}")
        self.autoencoder = autoencoder.requires_grad_(False)
        self.latent_dim = autoencoder.code_dim * GRID * GRID
        self.network = LatentVelocity(autoencoder.code_dim, width, blocks)
        self.average = copy.deepcopy(self.network).requires_grad_(False)
        self.register_buffer("centre", torch.zeros(1, autoencoder.code_dim, 1, 1))     # per latent channel
        self.register_buffer("spread", torch.ones(1, autoencoder.code_dim, 1, 1))
        self.steps, self.solver = steps, solver

    @torch.no_grad()
    def latents(self, x: torch.Tensor) -> torch.Tensor:
        """Digits N×1×28×28 → the encoder's outputs, scaled as the flow models them: (z_e − centre) / spread."""
        return (self.autoencoder.encode(x) - self.centre) / self.spread

    def _decode(self, z: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Digits N×1×28×28 from starting noise ``z`` (N×D·49): ``steps`` solver steps (default ``self.steps``)
        through latent space, then the VQ-VAE's decoder."""
        noise = z.view(len(z), self.autoencoder.code_dim, GRID, GRID)
        with evaluating(self.average) as network, evaluating(self.autoencoder) as autoencoder:
            latent = SOLVERS[self.solver](network, noise, self.steps if steps is None else steps)
            return autoencoder.decode_latents(latent * self.spread + self.centre)

    @torch.no_grad()
    def sample(self, n: int, rng: int | torch.Generator | None = None, steps: int | None = None) -> torch.Tensor:
        """``n`` new digits: starting noise from N(0, I), decoded (see :meth:`_decode`)."""
        return self.decode(self.sample_latent(n, rng), steps)
