"""GAN training for any G and D: one step — a discriminator update, then a generator update with D frozen — and the loop.

``make_gan_step`` returns a function for :func:`course_utils.train.train`, so an MLP GAN on a toy distribution and
a DCGAN on MNIST are trained by the same few lines. Notebook 04 writes the plain loop out and notebook 05 the same
step as a function; a test runs notebook 05's cell and checks it leaves the same weights as this one. It logs D's
loss, G's loss, and the mean of D(x) on real and D(G(z)) on fake images, which say more about a GAN's progress than
its losses do. ``fit_gan`` runs it with Adam over minibatches for some epochs.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from contextlib import contextmanager, nullcontext

import torch
from torch import nn

from .captured import capture_step, optimizer_options, speed_line
from .data import Minibatches
from .latent import sample_latent
from .losses import GAN_LOSSES
from .train import History, train


def discriminator_logits(discriminator: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """D's output as one logit per example (shape N), with a clear error if D returns anything else."""
    logits = discriminator(images)
    if logits.ndim == 2 and logits.shape[1] == 1:
        logits = logits[:, 0]
    if logits.shape != (images.shape[0],):
        raise ValueError(f"the discriminator must return one logit per example (shape N or N×1); for {images.shape[0]} "
                         f"examples it returned shape {tuple(logits.shape)}")
    return logits


@contextmanager
def frozen(discriminator: nn.Module):
    """Inside the block, ``discriminator``'s weights take no gradients (G's step goes through a fixed D, and D's
    gradients are not computed for nothing); afterwards, even after an error, they are trainable again."""
    discriminator.requires_grad_(False)
    try:
        yield discriminator
    finally:
        discriminator.requires_grad_(True)


def make_gan_step(generator: nn.Module, discriminator: nn.Module, g_optimizer: torch.optim.Optimizer,
                  d_optimizer: torch.optim.Optimizer, latent_dim: int, *, loss: str = "non-saturating",
                  autocast_dtype: torch.dtype | None = None) -> Callable:
    """Return ``step(real, *ignored)`` doing one D update and one G update; it returns the values to log.

    Each update gets its own batch of noise: D learns from one batch of fakes, then G improves on a fresh one.

    ``loss`` picks the game: "non-saturating" (binary cross-entropy for D, −log D(G(z)) for G: the default),
    "saturating" (the minimax log(1 − D(G(z))) for G) or "hinge" (D's outputs are scores with a margin of 1;
    G raises the fakes' score). ``autocast_dtype=torch.bfloat16`` runs
    the networks in mixed precision (see :func:`course_utils.device.autocast_dtype`); losses stay in float32.
    """
    if autocast_dtype not in (None, torch.bfloat16):
        raise ValueError(f"autocast_dtype must be None or torch.bfloat16, got {autocast_dtype}; float16 would also need "
                         "a gradient scaler, which this step does not use")
    if loss not in GAN_LOSSES:
        raise ValueError(f"loss must be one of {sorted(GAN_LOSSES)}, got {loss!r}")
    discriminator_loss, generator_loss = GAN_LOSSES[loss]

    def mixed_precision(device: torch.device):
        if autocast_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=device.type, dtype=autocast_dtype)

    def step(real: torch.Tensor, *ignored) -> dict[str, torch.Tensor]:
        with mixed_precision(real.device):
            with torch.no_grad():                       # D's step needs fakes, not a path back into G
                fake = generator(sample_latent(real.shape[0], latent_dim, device=real.device))
            real_logits = discriminator_logits(discriminator, real).float()
            fake_logits = discriminator_logits(discriminator, fake).float()
        d_loss = discriminator_loss(real_logits, fake_logits)
        d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        d_optimizer.step()

        with frozen(discriminator):
            with mixed_precision(real.device):          # fresh noise for G, as in Goodfellow et al.'s Algorithm 1
                fake = generator(sample_latent(real.shape[0], latent_dim, device=real.device))
                g_logits = discriminator_logits(discriminator, fake).float()
            g_loss = generator_loss(g_logits)
            g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            g_optimizer.step()

        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
                "d_real": torch.sigmoid(real_logits).mean().detach(), "d_fake": torch.sigmoid(fake_logits).mean().detach()}

    return step


def fit_gan(generator: nn.Module, discriminator: nn.Module, data: torch.Tensor, *, epochs: int, batch_size: int = 128,
            lr: float = 2e-4, d_lr: float | None = None, betas: tuple[float, float] = (0.5, 0.999),
            loss: str = "non-saturating", autocast_dtype: torch.dtype | None = None,
            average: nn.Module | None = None, average_decay: float = 0.999,
            on_epoch_end: Callable[[int, History], None] | None = None, progress: bool = True,
            description: str = "GAN") -> History:
    """Train ``generator`` (with a ``latent_dim``) and ``discriminator`` on ``data`` with Adam and :func:`make_gan_step`.

    Both learn at rate ``lr`` unless ``d_lr`` gives the discriminator its own. The data stays on its device and is cut
    into shuffled minibatches (the last, incomplete one is dropped). With ``average`` (a copy of the generator), its
    weights follow G's as an exponential moving average after every step and its batch-norm statistics are
    recalibrated at the end. Returns the history; the networks end in eval mode. A NaN, infinite or blown-up loss stops
    training with :class:`~course_utils.train.TrainingDiverged` and advice. Fewer examples than one batch, or no
    epochs, would train nothing without a word, so they raise a ``ValueError`` instead.
    """
    if not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}: fewer would leave the networks untrained")
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if len(data) < batch_size:
        raise ValueError(f"got {len(data)} examples for batch_size={batch_size}: the last incomplete batch is dropped, so "
                         f"not one step would run; use batch_size={len(data)} or less, or more data")
    training_step = make_training_step(generator, discriminator, device=data.device, lr=lr, d_lr=d_lr, betas=betas,
                                       loss=loss, autocast_dtype=autocast_dtype, average=average,
                                       average_decay=average_decay)
    generator.train(), discriminator.train()
    history = train(training_step, Minibatches(data, batch_size=batch_size, drop_last=True), epochs,
                    on_epoch_end=on_epoch_end, progress=progress, description=description)
    if progress and data.device.type == "cuda":               # on the CPU the progress bar's rate says it all
        precision = "float32" if autocast_dtype is None else str(autocast_dtype).removeprefix("torch.")
        print(speed_line(description, history, batch_size, data.device,
                         f"{getattr(training_step, 'mode', 'eager')}, {precision}"))
    if average is not None:
        recalibrate_batch_norm(average, generator.latent_dim)
    generator.eval(), discriminator.eval()
    return history


def make_training_step(generator: nn.Module, discriminator: nn.Module, *, device: torch.device | str, lr: float = 2e-4,
                       d_lr: float | None = None, betas: tuple[float, float] = (0.5, 0.999),
                       loss: str = "non-saturating", autocast_dtype: torch.dtype | None = None,
                       average: nn.Module | None = None, average_decay: float = 0.999,
                       capture: bool = True, adam_options: dict | None = None) -> Callable:
    """``fit_gan``'s step on ``device``: Adam for each player, :func:`make_gan_step`, then the running average if any.

    On CUDA (and with ``capture``) the whole step is captured once as a CUDA graph and replayed
    (:mod:`course_utils.captured`); elsewhere it runs as written. ``adam_options`` replaces the optimisers' extra
    settings (by default what capture needs). ``benchmarks/dcgan_speed.py`` times this function.
    """
    options = adam_options if adam_options is not None else optimizer_options(device) if capture else {}
    g_opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas, **options)
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=lr if d_lr is None else d_lr, betas=betas, **options)
    step = make_gan_step(generator, discriminator, g_opt, d_opt, generator.latent_dim, loss=loss,
                         autocast_dtype=autocast_dtype)
    def step_and_average(real, *ignored):
        values = step(real)
        update_average(average, generator, average_decay)
        return values

    training_step = step if average is None else step_and_average
    return capture_step(training_step, device) if capture else training_step


@torch.no_grad()
def update_average(average: nn.Module, model: nn.Module, decay: float) -> None:
    """One step of an exponential moving average of ``model``'s weights: average ← decay·average + (1 − decay)·model.

    A GAN's generator keeps moving around a good solution as the two players chase each other; the average of its
    recent weights (Karras et al., 2018; Yazıcı et al., 2019) sits nearer the middle. Buffers (batch-norm
    statistics) are copied; :func:`recalibrate_batch_norm` fits them to the averaged weights at the end.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"decay must be in [0, 1), got {decay!r}")
    for mean, current in zip(average.parameters(), model.parameters()):
        mean.lerp_(current, 1.0 - decay)
    for mean, current in zip(average.buffers(), model.buffers()):
        mean.copy_(current)


@torch.no_grad()
def recalibrate_batch_norm(generator: nn.Module, latent_dim: int, batches: int = 20, batch_size: int = 256) -> None:
    """Re-estimate a generator's batch-norm statistics from its own outputs on ``batches`` fresh batches of noise.

    An averaged generator's copied statistics belong to the weights it averages, not to its own; this replaces them
    with plain averages over its own activations (momentum ``None``), then leaves the network in eval mode.
    """
    norms = [module for module in generator.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None                                    # a cumulative average over all batches below
    generator.train()
    device = next(generator.parameters()).device
    for _ in range(batches):
        generator(sample_latent(batch_size, latent_dim, device=device))
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    generator.eval()
