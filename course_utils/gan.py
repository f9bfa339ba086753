"""One step of GAN training — a discriminator update, then a generator update with D frozen — for any G and D.

``make_gan_step`` returns a function for :func:`course_utils.train.train`, so an MLP GAN on a toy distribution and
a DCGAN on MNIST are trained by the same few lines. It logs D's loss, G's loss, and the mean of D(x) on real and
D(G(z)) on fake images, which say more about a GAN's progress than its losses do.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import torch
from torch import nn

from .losses import GENERATOR_LOSSES, discriminator_loss


def sample_latent(count: int, latent_dim: int, device: torch.device | str | None = None,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """``count`` latent vectors z ~ N(0, I) of size ``latent_dim`` (the prior p(z) of the generator)."""
    return torch.randn(count, latent_dim, device=device, generator=generator)


def discriminator_logits(discriminator: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """D's output as one logit per example (shape N), with a clear error if D returns anything else."""
    logits = discriminator(images)
    if logits.ndim == 2 and logits.shape[1] == 1:
        logits = logits[:, 0]
    if logits.shape != (images.shape[0],):
        raise ValueError(f"the discriminator must return one logit per example (shape N or N×1); for {images.shape[0]} "
                         f"examples it returned shape {tuple(logits.shape)}")
    return logits


def make_gan_step(generator: nn.Module, discriminator: nn.Module, g_optimizer: torch.optim.Optimizer,
                  d_optimizer: torch.optim.Optimizer, latent_dim: int, *,
                  generator_loss: str | Callable[[torch.Tensor], torch.Tensor] = "non-saturating",
                  autocast_dtype: torch.dtype | None = None) -> Callable:
    """Return ``step(real, *ignored)`` doing one D update and one G update; it returns the values to log.

    ``generator_loss`` is "non-saturating" (−log D(G(z)), the default used in practice), "saturating"
    (log(1 − D(G(z))), the minimax loss) or a function of the fake logits. ``autocast_dtype=torch.bfloat16`` runs
    the networks in mixed precision (see :func:`course_utils.device.autocast_dtype`); losses stay in float32.
    """
    if autocast_dtype not in (None, torch.bfloat16):
        raise ValueError(f"autocast_dtype must be None or torch.bfloat16, got {autocast_dtype}; float16 would also need "
                         "a gradient scaler, which this step does not use")
    if isinstance(generator_loss, str):
        if generator_loss not in GENERATOR_LOSSES:
            raise ValueError(f"generator_loss must be one of {sorted(GENERATOR_LOSSES)} or a function, got {generator_loss!r}")
        generator_loss = GENERATOR_LOSSES[generator_loss]

    def mixed_precision(device: torch.device):
        if autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=device.type, dtype=autocast_dtype)

    def step(real: torch.Tensor, *ignored) -> dict[str, torch.Tensor]:
        z = sample_latent(real.shape[0], latent_dim, device=real.device)
        with mixed_precision(real.device):
            fake = generator(z)
            real_logits = discriminator_logits(discriminator, real).float()
            fake_logits = discriminator_logits(discriminator, fake.detach()).float()
        d_loss = discriminator_loss(real_logits, fake_logits)
        d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        d_optimizer.step()

        discriminator.requires_grad_(False)
        try:
            with mixed_precision(real.device):
                g_logits = discriminator_logits(discriminator, fake).float()
            g_loss = generator_loss(g_logits)
            g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            g_optimizer.step()
        finally:
            discriminator.requires_grad_(True)

        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                "d_real": torch.sigmoid(real_logits).mean().detach(), "d_fake": torch.sigmoid(fake_logits).mean().detach()}

    return step
