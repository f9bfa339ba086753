"""Conditioning a network on the digit's class (notebook 06): labels checked once, conditional batch norm.

Conditional batch norm (de Vries et al., 2017; Miyato & Koyama, 2018) normalises as batch norm does, then scales and
shifts with a γ and β looked up for each example's class, so one set of convolutions draws every digit and the class
decides how each feature map is used.
"""

from __future__ import annotations

import torch
from torch import nn


def check_labels(labels: torch.Tensor, count: int, num_classes: int = 10) -> torch.Tensor:
    """``labels`` if it holds ``count`` integer classes in 0 … num_classes − 1; a ValueError naming the fix otherwise."""
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"labels must be a tensor of class indices, got {type(labels).__name__}; "
                         "use torch.tensor(labels)")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}; use labels.long()")
    if labels.shape != (count,):
        raise ValueError(f"expected one label per example, a tensor of shape ({count},), got {tuple(labels.shape)}")
    if count and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"class labels must lie in 0 … {num_classes - 1}, got values from {labels.min().item()} "
                         f"to {labels.max().item()}")
    return labels


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own γ, β; instead a γ and β per class from an embedding, applied per example."""

    def __init__(self, num_features: int, num_classes: int = 10):
        super().__init__()
        self.num_classes = num_classes
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.scale_shift = nn.Embedding(num_classes, 2 * num_features)          # row c: γ_c (first half), β_c
        nn.init.ones_(self.scale_shift.weight[:, :num_features])
        nn.init.zeros_(self.scale_shift.weight[:, num_features:])

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        check_labels(labels, x.shape[0], self.num_classes)
        gamma, beta = self.scale_shift(labels).chunk(2, dim=1)                  # N×C each
        return gamma[:, :, None, None] * self.norm(x) + beta[:, :, None, None]
