"""What every generative model of the course offers, under the same names, and the checks they all share.

* ``latent_dim`` — the length of a latent vector z;
* ``sample_latent(n, rng=None)`` — n vectors from the model's prior (``prior``: z ~ N(0, I) for every course model
  but the semi-supervised GAN, whose generator was trained on z ~ U[0, 1]), on the model's device;
* ``decode(z)`` — the images for those vectors, N×1×28×28 with pixel values in [0, 1] (eval mode, no gradients);
* ``sample(n, rng=None)`` — ``decode(sample_latent(n, rng))``: n new images;
* ``num_classes`` and ``default_labels(n)`` — None for an unconditional model; for a class-conditional one, its
  number of classes and the labels ``sample(n)`` draws when it is given none.

A VAE, an MLP GAN and a DCGAN differ inside, but a figure, a widget, a metric or a benchmark can use any of them
through these verbs. ``rng`` is a seed or a ``torch.Generator``; it makes the samples repeatable.

The contract is checked once, here, for every model: ``n`` must be an integer ≥ 0 (``sample(0)`` is an empty
0×1×28×28 batch) and ``z`` a finite floating-point tensor N×latent_dim of the weights' dtype on the model's device,
or a ``ValueError`` says what is wrong. A model writes ``_decode`` (what to do with a checked z), not ``decode``.

This module is also the networks' one door to the rest of the package: the input checks they run (shapes, dtypes,
labels, latent vectors) come through it, so a file in ``models/`` imports torch, its sibling networks and this
contract, and nothing about training.
"""

from __future__ import annotations

import numbers
from contextlib import contextmanager

import torch
from torch import nn

from ..engine.data import (
    DISCRIMINATOR_UINT8_ADVICE,
    PIXELS,
    check_digit_batch,
    check_input_dtype,
    check_labels,
    flatten_digits,
    to_pixels,
)
from ..engine.device import autocasting
from ..maths.latent import PRIORS, check_count, check_latents, sample_latent

__all__ = ["IMAGE_SHAPE", "classes_in_order", "GenerativeModel", "GAN", "evaluating",
           "DISCRIMINATOR_UINT8_ADVICE", "PIXELS", "check_count", "check_digit_batch", "check_input_dtype", "check_labels",
           "check_latents", "flatten_digits", "sample_latent", "to_pixels"]
"""The contract, and the input checks every network runs: a network file imports torch and this module only."""

IMAGE_SHAPE = (1, 28, 28)
"""The shape of one image that ``decode`` and ``sample`` give: a grey 28×28 digit."""


def classes_in_order(count: int, num_classes: int = 10, device: torch.device | str | None = None) -> torch.Tensor:
    """``count`` class labels spread evenly over the classes, in class order: label i is i·num_classes // count.

    1,000 labels are 100 zeros, then 100 ones, …; when ``count`` is not a multiple of ``num_classes`` the classes
    differ by at most one example (5 labels are 0, 2, 4, 6, 8). 0 labels are an empty tensor."""
    return torch.arange(count, device=device) * num_classes // max(count, 1)


class GenerativeModel(nn.Module):
    """Base class of every generative model: the verbs, and the checks of their inputs, written once.

    A subclass sets ``latent_dim`` (and ``prior`` if its latents are not N(0, I), ``num_classes`` if it is
    class-conditional) and writes ``_decode(z, ...)``: how it turns latent vectors that have passed the checks into
    images. It must not write ``decode`` or ``sample_latent`` (a class that does is refused when it is defined): they
    check their input for every model, then draw from ``prior`` and call ``_decode``. A subclass may write ``sample``
    to pass options on to ``decode`` (labels, …), as long as it draws through ``sample_latent``.
    """

    latent_dim: int
    prior: str = "normal"
    """Where ``sample_latent`` draws from: "normal", z ~ N(0, I), or "uniform", z ~ U[0, 1]^latent_dim."""
    num_classes: int | None = None
    """None for an unconditional model; the number of classes a class-conditional model draws."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "decode" in vars(cls):
            raise TypeError(f"{cls.__name__} defines decode, which GenerativeModel keeps so that it checks z (width, "
                            "dtype, device, finite values) for every model: write _decode(z, ...) instead, which "
                            "receives z already checked")
        if "sample_latent" in vars(cls):
            raise TypeError(f"{cls.__name__} defines sample_latent, which GenerativeModel keeps so that it checks n "
                            f"for every model: set the class attribute prior (one of {sorted(PRIORS)}) instead")
        if cls.prior not in PRIORS:
            raise TypeError(f"{cls.__name__}.prior must be one of {sorted(PRIORS)}, got {cls.prior!r}")

    @property
    def device(self) -> torch.device:
        """Where the model's weights are (and where its latents and images are made)."""
        return next(self.parameters()).device

    def sample_latent(self, n: int, rng: int | torch.Generator | None = None) -> torch.Tensor:
        """``n`` latent vectors from the model's prior, z ~ N(0, I) or, if ``prior`` is "uniform",
        z ~ U[0, 1]^latent_dim: shape n×latent_dim, on the model's device. ``n`` must be an integer ≥ 0 (a NumPy
        integer works too), or a ``ValueError`` says so; ``rng`` is a seed (a NumPy integer works too) or a
        ``torch.Generator``."""
        if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
            rng = int(rng)
        return sample_latent(n, self.latent_dim, device=self.device, rng=rng, prior=self.prior)

    def check_latents(self, z: torch.Tensor) -> None:
        """Raise a clear ``ValueError`` unless ``z`` is what ``decode`` takes: a tensor N×latent_dim of the weights'
        floating-point dtype (any float but float64 under autocast), on the model's device, with no NaN or ±inf."""
        weights, name = next(self.parameters()).dtype, f"{type(self).__name__}.decode"
        check_latents(z, self.latent_dim, name)
        if z.dtype != weights and not (z.is_floating_point() and z.dtype != torch.float64
                                       and autocasting(z.device.type)):
            fix = ".float()" if weights == torch.float32 else f".to({weights})"
            kind = "" if z.is_floating_point() else "latent vectors are floating-point numbers; "
            raise ValueError(f"{name} got z of dtype {str(z.dtype).removeprefix('torch.')}, but its weights are "
                             f"{str(weights).removeprefix('torch.')}: {kind}convert z with z{fix}")
        if z.device != self.device:
            raise ValueError(f"{name} got z on {z.device}, but the model is on {self.device}: move it with "
                             "z.to(model.device) (sample_latent draws it there)")
        finite = torch.isfinite(z)
        if not finite.all():
            raise ValueError(f"{name} got z with {(~finite).sum().item()} NaN or infinite value(s) among its "
                             f"{z.numel()}: every latent value must be a finite number")

    @torch.no_grad()
    def decode(self, z: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        """Images N×1×28×28 in [0, 1] for the latent vectors ``z`` (N×latent_dim), without gradients, in eval mode.

        ``z`` is checked first (:meth:`check_latents`: width, dtype, device, finite values), for every model; an empty
        z (0×latent_dim) gives an empty batch 0×1×28×28. Then the model's ``_decode`` draws the images; any further
        arguments go to it (a class-conditional model's ``labels``, a flow model's ``steps`` and ``guidance``)."""
        self.check_latents(z)
        if len(z) == 0:
            return torch.zeros(0, *IMAGE_SHAPE, device=self.device)
        return self._decode(z, *args, **kwargs)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """The images for latent vectors ``z`` that :meth:`decode` has checked (N ≥ 1): what each model writes."""
        raise NotImplementedError(f"{type(self).__name__} must say how it decodes a latent vector: write _decode")

    @torch.no_grad()
    def sample(self, n: int, rng: int | torch.Generator | None = None) -> torch.Tensor:
        """``n`` new images N×1×28×28 in [0, 1]: latents from the prior, decoded (``n`` = 0: an empty batch)."""
        return self.decode(self.sample_latent(n, rng))

    def default_labels(self, n: int) -> torch.Tensor | None:
        """The classes ``sample(n)`` draws when it is given none: None for an unconditional model; for a
        class-conditional one, every class equally often, in class order (:func:`classes_in_order`), on the model's
        device."""
        n = check_count(n)
        return None if self.num_classes is None else classes_in_order(n, self.num_classes, self.device)


class GAN(GenerativeModel):
    """A generator and a discriminator kept together, so one checkpoint holds both.

    ``generator`` maps z (N×latent_dim) to images in [−1, 1] (a Tanh output, the scale GANs train on); ``decode``
    shows them in [0, 1]. Subclasses build the two networks.
    """

    generator: nn.Module
    discriminator: nn.Module

    @property
    def sampler(self) -> nn.Module:
        """The network ``decode`` runs: G itself here; a model that keeps an average of G's weights samples from that."""
        return self.generator

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """G's images for the checked latents, in [0, 1] (G in eval mode: batch norm's running averages)."""
        with evaluating(self.sampler):
            return to_pixels(self.sampler(z))


@contextmanager
def evaluating(module: nn.Module):
    """Run ``module`` in eval mode inside the block (batch norm uses its running averages, dropout is off), then
    put it back in the mode it was in, so looking at samples in the middle of training does not disturb training."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
