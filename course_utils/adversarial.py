"""Training a GAN with any game's step (notebook 06): the conditional hinge game, WGAN-GP, and whatever comes next.

``fit_gan`` (``course_utils.gan``) builds its own step; the games of notebook 06 bring theirs — a step that also
takes the labels, or one that updates G only every n_critic calls. :func:`fit_adversarial` runs such a step in the
course's loop (:func:`course_utils.train.train`) with what every course GAN gets: the images on the device in the
layout its convolutions prefer, a running average of G's weights with recalibrated batch norm, and — new here — the
last good weights restored when training diverges (:class:`LastGoodWeights`).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from contextlib import contextmanager

import torch
from torch import nn

from .data import Minibatches, check_digit_batch, to_tanh_range
from .device import memory_format
from .gan import recalibrate_batch_norm, update_average
from .train import History, TrainingDiverged, train


class LastGoodWeights:
    """Pass it as ``on_epoch_end``: after every epoch whose weights are all finite it keeps a copy of them, and
    :meth:`restoring` puts that copy back if training diverges, so a NaN never leaves a model that is all NaN.

    A critic without batch norm (WGAN-GP) can be thrown off by one bad step; the epochs before were fine, and a
    student can still look at them. ``epoch`` and ``step`` say which weights are kept (0 and 0: the initial ones).
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.state, self.epoch, self.step = self._copy(), 0, 0

    def _copy(self) -> dict[str, torch.Tensor]:
        return {name: value.detach().clone() for name, value in self.model.state_dict().items()}

    def __call__(self, epoch: int, history: History) -> None:
        state = self.model.state_dict()
        if all(value.isfinite().all() for value in state.values() if value.is_floating_point()):
            self.state, self.epoch, self.step = self._copy(), epoch + 1, history.steps[-1] if history.steps else 0

    @contextmanager
    def restoring(self):
        """Inside the block, a :class:`~course_utils.train.TrainingDiverged` puts the kept weights back and is raised
        again with the advice plus a line saying which weights the model now has."""
        try:
            yield self
        except TrainingDiverged as error:
            self.model.load_state_dict(self.state)
            raise TrainingDiverged(f"{error} The model now holds its last good weights, those after epoch {self.epoch} "
                                   f"(step {self.step}), so its samples can still be looked at.") from error


def every_epoch(*callbacks: Callable[[int, History], None] | None) -> Callable[[int, History], None]:
    """One ``on_epoch_end`` that calls each of ``callbacks`` in turn (None entries are skipped)."""
    chosen = [callback for callback in callbacks if callback is not None]

    def call_all(epoch: int, history: History) -> None:
        for callback in chosen:
            callback(epoch, history)

    return call_all


def training_images(gan: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``images`` (N×1×28×28 in [0, 1], on the device to train on) in the GAN's [−1, 1] scale and in the layout the
    device's convolutions run fastest in (channels-last on CUDA and the CPU); ``gan`` is moved to match. Images
    outside [0, 1] (e.g. 0–255) are refused before any training."""
    check_digit_batch(images)
    layout = memory_format(images.device)
    gan.to(images.device, memory_format=layout)
    return to_tanh_range(images).contiguous(memory_format=layout)


def fit_adversarial(gan: nn.Module, step: Callable[..., Mapping[str, torch.Tensor]], real: torch.Tensor,
                    *conditions: torch.Tensor, epochs: int, batch_size: int, average_decay: float,
                    on_epoch_end: Callable[[int, History], None] | None = None, progress: bool = True,
                    description: str = "GAN") -> History:
    """Run ``step(real_batch, *condition_batches)`` over shuffled minibatches of ``real`` (from
    :func:`training_images`) and of each tensor in ``conditions`` (e.g. the labels), for ``epochs`` epochs.

    ``gan`` has a ``generator``, a ``discriminator``, an ``average_generator`` and a ``sampler`` (the network
    ``decode`` runs, z → image). After every call that updated G (its values include ``g_loss``) the average follows
    G's weights (``average_decay``; 0 copies G); at the end the sampler's batch-norm statistics are recalibrated
    on its own outputs. The last incomplete batch is dropped. A NaN or blow-up raises
    :class:`~course_utils.train.TrainingDiverged` with advice, after putting back the last good weights
    (:class:`LastGoodWeights`). Returns the history; the networks end in eval mode.
    """
    if not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}: fewer would leave the networks untrained")
    batches = Minibatches(real, *conditions, batch_size=batch_size, drop_last=True)
    if len(batches) == 0:
        raise ValueError(f"got {len(real)} examples for batch_size={batch_size}: the last incomplete batch is dropped, so "
                         f"not one step would run; use batch_size={len(real)} or less, or more data")

    def step_and_average(*batch: torch.Tensor) -> Mapping[str, torch.Tensor]:
        values = step(*batch)
        if "g_loss" in values:
            update_average(gan.average_generator, gan.generator, average_decay)
        return values

    last_good = LastGoodWeights(gan)
    gan.generator.train(), gan.discriminator.train()
    with last_good.restoring():
        history = train(step_and_average, batches, epochs, on_epoch_end=every_epoch(on_epoch_end, last_good),
                        progress=progress, description=description)
    recalibrate_batch_norm(gan.sampler, gan.latent_dim)
    gan.eval()
    return history
