"""A recipe: one small frozen dataclass holding everything that defines a trained model.

Sizes, latent width, batch size, epochs, learning rates, augmentation and the seed live in one place. The recipe
builds the model (``build()``), knows how to train it (``fit()``, for the models the course caches), is saved inside
the checkpoint, and its hash is the cache key: change any field and :func:`course_utils.checkpoints.pretrained`
trains a new model instead of loading a stale one. Fields that differ in quick mode take their value from
``budget(full=..., quick=...)`` when the recipe is created, so quick and full models never share a cache file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Base of every model's recipe; subclasses add their fields, ``build()`` and, if the course caches them, ``fit()``.

    ``seed`` fixes the initial weights and the order of the minibatches, so one recipe always trains the same model.
    """

    name: ClassVar[str] = "model"
    seed: int = 0

    def build(self) -> nn.Module:
        """A fresh, untrained model with this recipe's sizes."""
        raise NotImplementedError(f"{type(self).__name__} does not say how to build its model")

    def fit(self, model: nn.Module, device: torch.device | str | None) -> dict[str, Any]:
        """Train ``model`` in place on ``device`` and return numbers worth keeping with it (test accuracy, curves, …)."""
        raise NotImplementedError(f"the {self.name} is trained in its notebook, not cached: {type(self).__name__} has no fit()")

    def epochs_for(self, num_images: int) -> int:
        """For recipes that set their training length as ``images_seen``: the epochs over ``num_images`` digits that
        show the model about that many images (at least 1), so 4,000 bundled digits and 60,000 full-MNIST digits
        get the same amount of training."""
        if num_images < 1:
            raise ValueError(f"need at least one training image, got {num_images}")
        return max(1, round(self.images_seen / num_images))

    def fields(self) -> dict[str, Any]:
        """The recipe as plain data (numbers, strings, tuples): what the checkpoint stores beside the weights.

        A numpy number given for a field (``np.int64(3)`` from an array) counts as the Python number it equals, so it
        names the same cache file and loads with ``weights_only=True``."""
        return {name: value.item() if isinstance(value, np.generic) else value
                for name, value in dataclasses.asdict(self).items()}

    def key(self) -> str:
        """``<name>-<hash of the class and every field>``: the cache file's name, different for any change of a field."""
        text = json.dumps({"recipe": type(self).__name__, **self.fields()}, sort_keys=True, default=str)
        return f"{re.sub(r'[^a-z0-9]+', '_', self.name.lower())}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
