"""The semi-supervised GAN of Salimans et al. (2016) for notebook 07: an MLP discriminator with K logits (the K digit
classes; "fake" is the implicit logit 0) and a generator trained by feature matching
(:mod:`course_utils.training.semi_supervised`).

The discriminator follows the paper's MNIST network: Gaussian noise on the input (σ = 0.3) and after every hidden
layer (σ = 0.5), weight-normalised layers of 1000, 500, 250, 250 and 250 ReLU units, and 10 outputs. The noise is a
regulariser that only acts in training mode. Its last hidden layer is the feature layer that feature matching uses.

The generator follows the paper too: its latent z is drawn from U[0, 1]^100, not from N(0, I) as every other course
model's is; it trains on that prior (``SemiSupervisedGenerator.sample_latent``), and ``SemiSupervisedGAN`` samples
from the same one (``prior = "uniform"``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from .generative import GenerativeModel, evaluating, sample_latent

HIDDEN = (1000, 500, 250, 250, 250)


class GaussianNoise(nn.Module):
    """Adds N(0, std²) noise to its input in training mode; passes it through unchanged in eval mode."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn_like(x) if self.training else x


class SemiSupervisedDiscriminator(nn.Module):
    """Images N×1×28×28 in [0, 1] → (K class logits N×K, features N×250 of the last hidden layer)."""

    def __init__(self, num_classes: int = 10, input_noise: float = 0.3, hidden_noise: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = [GaussianNoise(input_noise)]
        for inputs, outputs in zip((784,) + HIDDEN, HIDDEN):
            layers += [weight_norm(nn.Linear(inputs, outputs)), nn.ReLU(), GaussianNoise(hidden_noise)]
        self.body = nn.Sequential(*layers)
        self.head = weight_norm(nn.Linear(HIDDEN[-1], num_classes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"the discriminator expects images shaped N×1×28×28 in [0, 1], got {tuple(x.shape)}")
        features = self.body(x.flatten(1))
        return self.head(features), features


class SemiSupervisedGenerator(nn.Module):
    """z (N×latent_dim, uniform on [0, 1] as in the paper) → images N×1×28×28 in [0, 1]."""

    prior = "uniform"

    def __init__(self, latent_dim: int = 100):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 500), nn.BatchNorm1d(500), nn.Softplus(),
            nn.Linear(500, 500), nn.BatchNorm1d(500), nn.Softplus(),
            weight_norm(nn.Linear(500, 784)), nn.Sigmoid(),
        )

    def sample_latent(self, n: int, device: torch.device | str | None = None) -> torch.Tensor:
        """``n`` latent vectors z ~ U[0, 1]^latent_dim, the prior G trains on, on ``device``."""
        return sample_latent(n, self.latent_dim, device, prior=self.prior)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, 28, 28)


class SemiSupervisedGAN(GenerativeModel):
    """The discriminator (the classifier we keep) and the generator that helps train it. Calling the model
    classifies: images N×1×28×28 in [0, 1] → K class logits, so it scores like any course classifier. It also has
    the verbs of every generative model (``sample_latent``, ``decode``, ``sample``), with the paper's uniform prior:
    ``sample_latent`` draws z ~ U[0, 1]^latent_dim, the prior the generator was trained on, not N(0, I)."""

    prior = SemiSupervisedGenerator.prior                # "uniform": what G trains on is what sample_latent draws

    def __init__(self, latent_dim: int = 100, input_noise: float = 0.3, hidden_noise: float = 0.5):
        super().__init__()
        self.latent_dim = latent_dim
        self.discriminator = SemiSupervisedDiscriminator(input_noise=input_noise, hidden_noise=hidden_noise)
        self.generator = SemiSupervisedGenerator(latent_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.discriminator(images)[0]

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """``decode(z)``: images N×1×28×28 in [0, 1] (G ends in a sigmoid) for latent vectors N×latent_dim from
        U[0, 1] (checked by ``decode``), G in eval mode."""
        with evaluating(self.generator):
            return self.generator(z)
