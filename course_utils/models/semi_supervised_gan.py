"""The semi-supervised GAN of Salimans et al. (2016) for notebook 07: an MLP discriminator with K logits (the K digit
classes; "fake" is the implicit logit 0) and a generator trained by feature matching.

The discriminator follows the paper's MNIST network: Gaussian noise on the input (σ = 0.3) and after every hidden
layer (σ = 0.5), weight-normalised layers of 1000, 500, 250, 250 and 250 ReLU units, and 10 outputs. The noise is a
regulariser that only acts in training mode. Its last hidden layer is the feature layer that feature matching uses.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from ..gan import frozen
from ..semi_supervised import feature_matching_loss, supervised_loss, unsupervised_loss

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

    def __init__(self, latent_dim: int = 100):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 500), nn.BatchNorm1d(500), nn.Softplus(),
            nn.Linear(500, 500), nn.BatchNorm1d(500), nn.Softplus(),
            weight_norm(nn.Linear(500, 784)), nn.Sigmoid(),
        )

    def sample_latent(self, n: int, device: torch.device | str | None = None) -> torch.Tensor:
        return torch.rand(n, self.latent_dim, device=device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, 28, 28)


def make_semi_supervised_step(generator: SemiSupervisedGenerator, discriminator: SemiSupervisedDiscriminator,
                              g_optimizer: torch.optim.Optimizer, d_optimizer: torch.optim.Optimizer, *,
                              feature_matching: bool = True) -> Callable:
    """Return ``step(labelled, labels, unlabelled)``: D learns from the three terms (cross-entropy on the labelled
    digits, "real" for the unlabelled ones, "fake" for G's samples), then G takes a step of feature matching on fresh
    samples (or, with ``feature_matching=False``, the non-saturating loss −log D(G(z)))."""

    def step(labelled: torch.Tensor, labels: torch.Tensor, unlabelled: torch.Tensor) -> dict[str, torch.Tensor]:
        count = unlabelled.shape[0]
        with torch.no_grad():
            fake = generator(generator.sample_latent(count, unlabelled.device))
        labelled_logits, _ = discriminator(labelled)
        unlabelled_logits, _ = discriminator(unlabelled)
        fake_logits, _ = discriminator(fake)
        d_supervised = supervised_loss(labelled_logits, labels)
        d_unsupervised = unsupervised_loss(unlabelled_logits, fake_logits)
        d_optimizer.zero_grad(set_to_none=True)
        (d_supervised + d_unsupervised).backward()
        d_optimizer.step()

        with frozen(discriminator):
            fake_logits, fake_features = discriminator(generator(generator.sample_latent(count, unlabelled.device)))
            if feature_matching:
                _, real_features = discriminator(unlabelled)
                g_loss = feature_matching_loss(real_features, fake_features)
            else:                                       # −log D(G(z)) = softplus(LSE) − LSE
                lse = torch.logsumexp(fake_logits, dim=1)
                g_loss = (nn.functional.softplus(lse) - lse).mean()
            g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            g_optimizer.step()
        return {"d_supervised": d_supervised.detach(), "d_unsupervised": d_unsupervised.detach(),
                "g_loss": g_loss.detach()}

    return step
