"""A small convolutional digit classifier: the "adjacent task" network behind perceptual losses and GAN scores.

Two conv blocks and two linear layers. ``features(x)`` exposes the intermediate activations, so the same trained
network serves as a feature extractor (perceptual loss, notebook 02) and as a judge of generated digits (notebook 05).
How it is trained: :mod:`course_utils.training.classifier`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .generative import check_digit_batch, check_input_dtype


class DigitClassifier(nn.Module):
    """28×28 grey digit (values in [0, 1]) → 10 class logits."""

    def __init__(self, width: int = 32, hidden: int = 128, dropout: float = 0.3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, kernel_size=3, padding=1)             # 1×28×28 → w×28×28, pooled to 14×14
        self.conv2 = nn.Conv2d(width, 2 * width, kernel_size=3, padding=1)     # w×14×14 → 2w×14×14, pooled to 7×7
        self.fc = nn.Linear(2 * width * 7 * 7, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 10)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Activations after each block: ``conv1`` (N×w×14×14), ``conv2`` (N×2w×7×7) and ``hidden`` (N×hidden)."""
        check_digit_batch(x)
        check_input_dtype(x, self)
        conv1 = F.max_pool2d(F.relu(self.conv1(x)), 2)
        conv2 = F.max_pool2d(F.relu(self.conv2(conv1)), 2)
        hidden = F.relu(self.fc(conv2.flatten(1)))
        return {"conv1": conv1, "conv2": conv2, "hidden": hidden}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.features(x)["hidden"]))
