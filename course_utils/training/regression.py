"""Fitting a regressor with MSE through the course's engine (notebook 01's toy problems and its label → image network)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..engine.captured import adam
from ..engine.data import Minibatches
from ..engine.train import History, train


def fit_regressor(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, epochs: int,
                  loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.mse_loss, lr: float = 1e-2,
                  batch_size: int = 128, progress: bool = False,
                  on_epoch_end: Callable[[int, History], None] | None = None, capture: bool = False) -> History:
    """Train ``model`` in place so that ``model(inputs)`` matches ``targets`` under ``loss`` (the mean squared error
    unless told otherwise). Rows of ``inputs`` and ``targets`` are paired examples (x → y); returns the history.
    ``capture`` lets the engine capture the step as a CUDA graph on CUDA."""
    if inputs.shape[0] != targets.shape[0]:
        raise ValueError(f"inputs and targets must have the same N, one row per example; got {tuple(inputs.shape)} and "
                         f"{tuple(targets.shape)}")
    optimizer = adam(model.parameters(), device=inputs.device, lr=lr)

    def step(x, y):
        value = loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        return {"loss": value}

    return train(step, Minibatches(inputs, targets, batch_size=batch_size), epochs, model=model, capture=capture,
                 progress=progress, on_epoch_end=on_epoch_end, description="regression")
