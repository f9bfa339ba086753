"""Real digits damaged in controlled ways, each imitating one failure of a generative model (notebook 08).

Blur (a model that averages, like notebook 01's), pixel noise (unfinished samples), dropped classes (mode dropping),
a few images repeated (memorisation or collapse), and a class imbalance. Each function takes real held-out digits
(N×1×28×28 in [0, 1]) and returns a set of the same size, so every metric compares equally many images.
:func:`look_up` finds a failure's entry by name, and says what went wrong when the name is misspelt.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Mapping
from typing import TypeVar

import torch
import torch.nn.functional as F

from ..engine.data import check_digit_batch

Entry = TypeVar("Entry")


def look_up(table: Mapping[str, Entry], name: str) -> Entry:
    """``table[name]``, where ``table`` maps failure names to their damage or measurements (notebook 08's
    ``failures`` or ``measured``). A name that is not there raises a ValueError that lists the names there are and
    suggests the closest, where a bare KeyError would only repeat the misspelt name."""
    if name in table:
        return table[name]
    closest = difflib.get_close_matches(str(name), [str(key) for key in table], n=1, cutoff=0.5)
    hint = f" Did you mean {closest[0]!r}?" if closest else ""
    raise ValueError(f"no failure named {name!r}; choose one of {', '.join(map(repr, table))}.{hint}")


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Each image convolved with a Gaussian of standard deviation ``sigma`` pixels (0: unchanged)."""
    check_digit_batch(images)
    if sigma < 0:
        raise ValueError(f"sigma must be ≥ 0 pixels, got {sigma}")
    if sigma == 0:
        return images.clone()
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-offsets**2 / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    padded = F.pad(images, (radius,) * 4)
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1))
    return F.conv2d(rows, kernel.view(1, 1, -1, 1)).clamp(0, 1)


def add_noise(images: torch.Tensor, std: float, seed: int = 0) -> torch.Tensor:
    """Each pixel plus Gaussian noise of standard deviation ``std``, clipped back into [0, 1]."""
    check_digit_batch(images)
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed)).to(images.device)
    return (images + std * noise).clamp(0, 1)


def drop_classes(images: torch.Tensor, labels: torch.Tensor, dropped: int, seed: int = 0) -> torch.Tensor:
    """As many images as given, drawn only from the classes left after removing ``dropped`` of the 10 (classes
    9, 8, … go first): the failure called mode dropping."""
    check_digit_batch(images)
    if not isinstance(dropped, numbers.Integral) or not 0 <= dropped <= 9:
        raise ValueError(f"drop between 0 and 9 of the 10 classes, got {dropped!r}")
    kept = torch.nonzero(labels < 10 - dropped).flatten()
    pick = torch.randint(len(kept), (len(images),), generator=torch.Generator().manual_seed(seed))
    return images[kept[pick.to(kept.device)]]


def repeat_images(images: torch.Tensor, distinct: int, seed: int = 0) -> torch.Tensor:
    """As many images as given, made of only ``distinct`` different ones, each repeated: a model that memorised
    (or collapsed onto) a handful of digits."""
    check_digit_batch(images)
    if not isinstance(distinct, numbers.Integral) or not 1 <= distinct <= len(images):
        raise ValueError(f"distinct must be a whole number from 1 to {len(images)}, got {distinct!r}")
    chosen = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:distinct]
    return images[chosen.to(images.device).repeat(math.ceil(len(images) / distinct))[:len(images)]]


def imbalance(images: torch.Tensor, labels: torch.Tensor, favoured_share: float, favoured: int = 1,
              seed: int = 0) -> torch.Tensor:
    """As many images as given, ``favoured_share`` of them of class ``favoured`` and the rest spread evenly over
    the other classes (0.1: balanced, as the real digits are)."""
    check_digit_batch(images)
    if not 0 <= favoured_share <= 1:
        raise ValueError(f"favoured_share is a fraction between 0 and 1, got {favoured_share}")
    rng = torch.Generator().manual_seed(seed)
    count = round(favoured_share * len(images))
    favourites = torch.nonzero(labels == favoured).flatten()
    others = torch.nonzero(labels != favoured).flatten()
    pick = torch.cat([favourites[torch.randint(len(favourites), (count,), generator=rng).to(favourites.device)],
                      others[torch.randint(len(others), (len(images) - count,), generator=rng).to(others.device)]])
    return images[pick]
