"""Fully connected GANs (Goodfellow et al., 2014): for 1-D and 2-D toy data and for MNIST digits (notebook 04).

The generator maps noise z ~ N(0, I) to a sample; the discriminator maps a sample to one logit (D = sigmoid of it).
:func:`course_utils.training.gan.fit_gan` trains any pair; :mod:`course_utils.training.mlp_gan` has the digit GAN's
recipe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .generative import DISCRIMINATOR_UINT8_ADVICE, GAN, check_input_dtype, check_latents


def _mlp(sizes: Sequence[int], dropout: float = 0.0, batch_norm: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for width_in, width_out in zip(sizes[:-2], sizes[1:-1]):
        layers.append(nn.Linear(width_in, width_out))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width_out))
        layers.append(nn.LeakyReLU(0.2))
        if dropout:
            layers.append(nn.Dropout(dropout))
    return layers + [nn.Linear(sizes[-2], sizes[-1])]


class MLPGenerator(nn.Module):
    """z (latent_dim) → a sample of ``output_shape``; ``tanh=True`` squashes it to [−1, 1] (for images).

    ``batch_norm=True`` normalises each hidden layer over the minibatch, which steadies training on images; in
    training mode it then needs at least 2 latent vectors per call.
    """

    def __init__(self, latent_dim: int, output_shape: Sequence[int], hidden: Sequence[int] = (128, 128),
                 tanh: bool = False, batch_norm: bool = False):
        super().__init__()
        self.latent_dim = latent_dim
        self.output_shape = tuple(output_shape)
        self.batch_norm = batch_norm
        layers = _mlp([latent_dim, *hidden, math.prod(self.output_shape)], batch_norm=batch_norm)
        self.net = nn.Sequential(*layers, *([nn.Tanh()] if tanh else []))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_latents(z, self.latent_dim)
        check_input_dtype(z, self)
        if self.batch_norm and self.training and z.shape[0] == 1:
            raise ValueError("batch norm cannot train on 1 example: in training mode it normalises every layer over the "
                             "batch, so pass at least 2 latent vectors, or call generator.eval() first (sample() and "
                             "decode() do) to make a single image")
        return self.net(z).reshape(-1, *self.output_shape)


class MLPDiscriminator(nn.Module):
    """A sample of ``input_shape`` → one logit per example (D(x) = sigmoid(logit) = P(x is real))."""

    def __init__(self, input_shape: Sequence[int], hidden: Sequence[int] = (128, 128), dropout: float = 0.0):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.net = nn.Sequential(nn.Flatten(), *_mlp([math.prod(self.input_shape), *hidden, 1], dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"the discriminator expects inputs of shape N×{'×'.join(map(str, self.input_shape))}, "
                             f"got {tuple(x.shape)}")
        check_input_dtype(x, self, DISCRIMINATOR_UINT8_ADVICE)
        return self.net(x)[:, 0]


class MLPGAN(GAN):
    """A fully connected generator and discriminator for digits, with the course's generative-model verbs.

    G: ``latent_dim`` → ``g_hidden`` → 784 pixels in [−1, 1] (batch norm, LeakyReLU, Tanh);
    D: 784 → ``d_hidden`` → 1 logit (LeakyReLU, dropout so it cannot simply memorise a few thousand digits).
    """

    def __init__(self, latent_dim: int = 64, g_hidden: Sequence[int] = (256, 512), d_hidden: Sequence[int] = (512, 256),
                 dropout: float = 0.3):
        super().__init__()
        self.latent_dim = latent_dim
        self.generator = MLPGenerator(latent_dim, (1, 28, 28), hidden=g_hidden, tanh=True, batch_norm=True)
        self.discriminator = MLPDiscriminator((1, 28, 28), hidden=d_hidden, dropout=dropout)
