"""Label → image regression: the classification pipeline run backwards (notebook 01).

A one-hot digit label goes through a small MLP that paints all 784 pixels at once. Because several different
images are "correct" for each label, the MSE-optimal answer is their average: trained with pixel-wise MSE
(:mod:`course_utils.training.label_to_image`), the network learns the class mean.
"""

from __future__ import annotations

import torch
from torch import nn

from .generative import check_labels


class LabelToImage(nn.Module):
    """Digit label (0–9) → 28×28 grey image with values in [0, 1] (one-hot input, two hidden layers, sigmoid)."""

    def __init__(self, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(10, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 28 * 28), nn.Sigmoid(),
        )

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        if labels.ndim != 1 or labels.is_floating_point():
            raise ValueError(f"expected a 1-D tensor of integer digit labels, got shape {tuple(labels.shape)} "
                             f"and dtype {labels.dtype}")
        check_labels(labels, len(labels))
        one_hot = (labels[:, None] == torch.arange(10, device=labels.device)).float()     # N×10, no range read
        return self.net(one_hot).view(-1, 1, 28, 28)
