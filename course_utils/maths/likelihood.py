"""Exact likelihoods on digits: binarizing and dequantizing the data, and the units likelihoods are quoted in.

A model of *binarized* digits (pixels 0 or 1) gives a probability to each image, reported as −log p(x) in nats per
image. A density model of 8-bit digits (a flow) works on continuous values: adding uniform noise u ∈ [0, 1)⁷⁸⁴ to the
integer pixels (dequantization) makes a density whose −log p on [0, 256)⁷⁸⁴ bounds the discrete −log P from above
(Theis et al., 2016), and bits per dimension, −log₂ p / 784, puts both on one scale.
"""

from __future__ import annotations

import math

import torch

from ..engine.data import PIXELS, check_digit_batch, load_mnist

LEVELS = 256
"""The grey levels of an 8-bit pixel."""
TEST_BINARIZATION_SEED = 0
"""The one binarization (and dequantization) of the held-out digits every likelihood in the course is scored on."""


def binarize(images: torch.Tensor, seed: int | None = None) -> torch.Tensor:
    """Each pixel 1 with probability its grey value, else 0 (Salakhutdinov & Murray, 2008): one binarization.

    A ``seed`` fixes it (the held-out digits are binarized once, so every model is scored on the same 0/1 images);
    without one, each call draws anew, which training uses as augmentation ("dynamic binarization")."""
    check_digit_batch(images)
    if seed is None:
        return torch.bernoulli(images)
    noise = torch.rand(images.shape, generator=torch.Generator().manual_seed(seed)).to(images.device)
    return (noise < images).to(images.dtype)


def to_levels(images: torch.Tensor) -> torch.Tensor:
    """Digits in [0, 1] (N×1×28×28, stored as k/255) → their integer grey levels 0 … 255, as floats."""
    check_digit_batch(images)
    return torch.round(images * (LEVELS - 1))


def dequantize(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Grey levels plus uniform noise, divided by 256: values in [0, 1) with one unit cube [k, k + 1)/256 per level."""
    return spread_levels(to_levels(images), generator)


def spread_levels(levels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Integer grey levels (as floats) → (level + u) / 256 with u ~ U[0, 1) drawn afresh (with ``generator``: on
    the CPU, repeatably)."""
    noise = torch.rand(levels.shape, generator=generator, device="cpu" if generator else levels.device)
    spread = (levels + noise.to(levels.device)) / LEVELS
    top = torch.nextafter((levels + 1) / LEVELS, torch.zeros_like(levels))   # float32 rounding may reach (k + 1)/256
    return torch.minimum(spread, top)


def bits_per_dim(nats_per_image: float | torch.Tensor, dims: int = PIXELS) -> float | torch.Tensor:
    """−log p(x) in nats per image → bits per dimension: divide by ln 2 and by the number of pixels."""
    return nats_per_image / (math.log(2) * dims)


def nats_per_image(bits: float | torch.Tensor, dims: int = PIXELS) -> float | torch.Tensor:
    """Bits per dimension → nats per image (the inverse of :func:`bits_per_dim`)."""
    return bits * math.log(2) * dims


def binarized_test_digits(device=None) -> torch.Tensor:
    """The held-out digits, binarized once with :data:`TEST_BINARIZATION_SEED`: the same 0/1 images for every model."""
    images, _ = load_mnist("test", device=device)
    return binarize(images, seed=TEST_BINARIZATION_SEED)


def dequantized_test_digits(device=None) -> torch.Tensor:
    """The held-out digits, dequantized once (uniform noise seeded with :data:`TEST_BINARIZATION_SEED`)."""
    images, _ = load_mnist("test", device=device)
    return dequantize(images, generator=torch.Generator().manual_seed(TEST_BINARIZATION_SEED))
