"""GAN training for any G and D: one step — a discriminator update, then a generator update with D frozen — and the
fields and training every convolutional GAN of the course shares (:class:`GANRecipe`).

``make_gan_step`` returns a function for :func:`course_utils.engine.train.train`, so an MLP GAN on a toy distribution and
a DCGAN on MNIST are trained by the same few lines. Notebook 04 writes the plain loop out and notebook 05 the same
step as a function; a test runs notebook 05's cell and checks it leaves the same weights as this one. It logs D's
loss, G's loss, and the mean of D(x) on real and D(G(z)) on fake images, which say more about a GAN's progress than
its losses do. ``fit_gan`` runs it with Adam over minibatches for some epochs, through the course's one engine.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn

from ..engine.captured import adam, capture_step
from ..engine.config import budget
from ..engine.data import Minibatches, to_tanh_range
from ..engine.device import memory_format
from ..engine.recipe import Recipe
from ..engine.train import History, RunningAverage, every_epoch, train, with_average
from ..maths.latent import sample_latent
from ..maths.losses import GAN_LOSSES
from .record import Checkpoints, Snapshots, evenly_spaced_epochs, progress_epochs, training_record


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
    the networks in mixed precision (see :func:`course_utils.engine.device.autocast_dtype`); losses stay in float32.
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
    """Train ``generator`` (with a ``latent_dim``) and ``discriminator`` on ``data`` with Adam and :func:`make_gan_step`,
    through the course's engine (:func:`course_utils.engine.train.train`: divergence caught with advice, Ctrl-C keeps what
    was learned, the last good weights restored).

    Both learn at rate ``lr`` unless ``d_lr`` gives the discriminator its own. The data stays on its device and is cut
    into shuffled minibatches (the last, incomplete one is dropped). With ``average`` (a copy of the generator), its
    weights follow G's as an exponential moving average after every step and its batch-norm statistics are
    recalibrated at the end. Returns the history; the networks end in eval mode. Fewer examples than one batch, or no
    epochs, would train nothing without a word, so they raise a ``ValueError`` instead.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}: fewer would leave the networks untrained")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    g_opt, d_opt = adam_pair(generator, discriminator, device=data.device, g_lr=lr, d_lr=lr if d_lr is None else d_lr,
                             betas=betas)
    step = make_gan_step(generator, discriminator, g_opt, d_opt, generator.latent_dim, loss=loss,
                         autocast_dtype=autocast_dtype)
    players = nn.ModuleDict({"generator": generator, "discriminator": discriminator})
    running = None if average is None else RunningAverage(generator, average, average_decay, average, generator.latent_dim)
    return train(step, Minibatches(data, batch_size=batch_size, drop_last=True), epochs, model=players,
                 average=running, capture=True, on_epoch_end=on_epoch_end, progress=progress, description=description)


def adam_pair(generator: nn.Module, discriminator: nn.Module, *, device: torch.device | str, g_lr: float, d_lr: float,
              betas: tuple[float, float], options: dict | None = None) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Adam for each player, with the options a captured step needs on CUDA (:func:`optimizer_options`) unless
    ``options`` replaces them."""
    return (adam(generator.parameters(), device=device, lr=g_lr, betas=betas, options=options),
            adam(discriminator.parameters(), device=device, lr=d_lr, betas=betas, options=options))


def make_training_step(generator: nn.Module, discriminator: nn.Module, *, device: torch.device | str, lr: float = 2e-4,
                       d_lr: float | None = None, betas: tuple[float, float] = (0.5, 0.999),
                       loss: str = "non-saturating", autocast_dtype: torch.dtype | None = None,
                       average: nn.Module | None = None, average_decay: float = 0.999,
                       capture: bool = True, adam_options: dict | None = None) -> Callable:
    """``fit_gan``'s step on ``device`` as the engine runs it: Adam for each player, :func:`make_gan_step`, then the
    running average if any, captured as a CUDA graph on CUDA (with ``capture``). ``adam_options`` replaces the
    optimisers' extra settings (by default what capture needs). ``benchmarks/dcgan_speed.py`` times this function.
    """
    options = adam_options if adam_options is not None else None if capture else {}
    g_opt, d_opt = adam_pair(generator, discriminator, device=device, g_lr=lr, d_lr=lr if d_lr is None else d_lr,
                             betas=betas, options=options)
    step = make_gan_step(generator, discriminator, g_opt, d_opt, generator.latent_dim, loss=loss,
                         autocast_dtype=autocast_dtype)
    step = with_average(step, None if average is None else RunningAverage(generator, average, average_decay))
    return capture_step(step, device) if capture else step


def training_images(gan: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``images`` (N×1×28×28 in [0, 1], on the device to train on) in the GAN's [−1, 1] scale and in the layout the
    device's convolutions run fastest in (channels-last on CUDA and the CPU); ``gan`` is moved to match."""
    layout = memory_format(images.device)
    gan.to(images.device, memory_format=layout)
    return to_tanh_range(images).contiguous(memory_format=layout)


def running_average(gan: nn.Module, decay: float) -> RunningAverage:
    """The engine's :class:`~course_utils.engine.train.RunningAverage` for a course GAN: ``gan.average_generator`` follows
    ``gan.generator``, and ``gan.sampler`` (what ``decode`` runs) has its batch norm recalibrated at the end."""
    return RunningAverage(gan.generator, gan.average_generator, decay, gan.sampler, gan.latent_dim)


@dataclass(frozen=True)
class GANRecipe(Recipe):
    """What the course's convolutional GANs share (notebook 05's DCGAN, notebook 06's cGAN, SN-GAN and WGAN-GP): the
    fields, and one way to train — a subclass brings its networks (``build``) and its game's step (``make_step``).

    Defaults: a 16-dimensional latent, width 32, Adam with β = (0, 0.9) and D learning twice as fast as G, batches of
    32, samples drawn from a running average of G's weights (``average_decay``; 0 samples from G itself), and the
    training length in images (``images_seen``; quick mode: one epoch of 640 digits). ``checkpoints`` > 0 keeps that
    many evenly spaced copies of G in the record, beside the epoch means of what training logged.
    """

    latent_dim: int = 16
    width: int = 32
    g_lr: float = 2e-4
    d_lr: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.9)
    average_decay: float = 0.999
    batch_size: int = 32
    images_seen: int = field(default_factory=lambda: budget(full=768_000, quick=640))
    train_images: int | None = field(default_factory=lambda: budget(full=None, quick=640))
    checkpoints: int = 0

    name = "GAN"

    @property
    def images_per_step(self) -> int:
        """Real digits one call of the step takes: one batch (the WGAN-GP, one batch per critic update)."""
        return self.batch_size

    def make_step(self, gan: nn.Module, g_optimizer: torch.optim.Optimizer,
                  d_optimizer: torch.optim.Optimizer) -> Callable[..., dict[str, torch.Tensor]]:
        """The game's step: one update of D and (every call, or every n-th) one of G; returns the values to log."""
        raise NotImplementedError(f"{type(self).__name__} must say which game its step plays")

    def fit(self, gan: nn.Module, device) -> dict:
        """Train on the training digits; ``info`` holds the curves, the time, 16 samples of the same z as training
        goes, and, with ``checkpoints``, the checkpoints' generators and epoch means
        (:class:`~course_utils.training.record.Checkpoints`)."""
        images, labels = self.training_data(device)
        epochs = self.epochs_for(len(images))
        snapshots = Snapshots(gan, epochs=progress_epochs(epochs))
        checkpoints = Checkpoints(gan, evenly_spaced_epochs(epochs, self.checkpoints)) if self.checkpoints else None
        history = self.train_on(gan, images, labels if self.uses_labels else None,
                                on_epoch_end=every_epoch(snapshots, checkpoints))
        record = training_record(history, snapshots)
        return record if checkpoints is None else {**record, "checkpoints": checkpoints.record()}

    def train_steps(self, gan: nn.Module, images: torch.Tensor, labels: torch.Tensor | None, *,
                    on_epoch_end=None, progress: bool = True) -> History:
        real = training_images(gan, images)
        if len(real) < self.images_per_step:
            batches, largest = self.images_per_step // self.batch_size, len(real) * self.batch_size // self.images_per_step
            takes = f"{batches} batches of batch_size={self.batch_size}" if batches > 1 else f"batch_size={self.batch_size}"
            raise ValueError(f"got {len(real)} examples, fewer than one step of the {self.name} takes: {takes}; use "
                             f"batch_size={largest} or less, or more digits")
        tensors = (real, labels) if self.uses_labels else (real,)
        batches = Minibatches(*tensors, batch_size=self.images_per_step, drop_last=True)
        g_optimizer, d_optimizer = adam_pair(gan.generator, gan.discriminator, device=real.device, g_lr=self.g_lr,
                                             d_lr=self.d_lr, betas=self.betas)
        return train(self.make_step(gan, g_optimizer, d_optimizer), batches, self.epochs_for(len(real)), model=gan,
                     average=running_average(gan, self.average_decay), capture=self.capturable,
                     on_epoch_end=on_epoch_end, progress=progress, description=self.name)
