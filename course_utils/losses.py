"""Loss functions of the course, each written out so the formula on the slide is visible in the code."""

from __future__ import annotations

import torch
import torch.nn.functional as F


# --- Regression and perceptual losses (notebooks 01–02) ---


# --- VAE: Gaussian KL and the ELBO (notebook 03) ---


# --- GAN losses (notebooks 04–06) ---
# All take the discriminator's logits l, with D(x) = sigmoid(l): computing log D from logits never takes log(0).

def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy for D, real → 1 and fake → 0: −E[log D(x)] − E[log(1 − D(G(z)))] = −V(G, D)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The minimax generator loss E[log(1 − D(G(z)))], which G minimises; flat when D confidently rejects fakes."""
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def generator_loss_non_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """−E[log D(G(z))]: the fakes labelled "real"; same fixed point as the minimax loss, strong gradients early on."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


GENERATOR_LOSSES = {"saturating": generator_loss_saturating, "non-saturating": generator_loss_non_saturating}
