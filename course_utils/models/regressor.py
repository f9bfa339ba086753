"""The small MLP that notebook 01 fits to its toy problems (:mod:`course_utils.teaching.toy_problems`) with MSE."""

from __future__ import annotations

import torch
from torch import nn


class MLPRegressor(nn.Module):
    """A small fully connected network from ``in_features`` numbers to ``out_features`` numbers (one hidden layer)."""

    def __init__(self, in_features: int = 1, out_features: int = 1, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(), nn.Linear(hidden, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
