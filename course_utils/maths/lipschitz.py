"""How steep a network is (notebook 06): power iteration for a layer's largest singular value, and the Lipschitz
ratios |D(x) − D(y)| / ‖x − y‖ of a whole critic.
"""

from __future__ import annotations

import torch
from torch import nn


def power_iteration(weight: torch.Tensor, iterations: int = 30, rng: torch.Generator | None = None) -> float:
    """The largest singular value σ(W) of ``weight`` (reshaped to a matrix, outputs × inputs) by power iteration:
    v ← Wᵀu / ‖Wᵀu‖, u ← Wv / ‖Wv‖, then σ ≈ uᵀWv — what spectral normalisation divides a layer's weight by."""
    matrix = weight.detach().flatten(1)
    u = torch.randn(matrix.shape[0], generator=rng, dtype=matrix.dtype, device=matrix.device if rng is None else rng.device)
    u = u.to(matrix.device)
    for _ in range(iterations):
        v = nn.functional.normalize(matrix.T @ u, dim=0)
        u = nn.functional.normalize(matrix @ v, dim=0)
    return (u @ matrix @ v).item()


@torch.no_grad()
def lipschitz_ratios(critic: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """|D(x) − D(y)| / ‖x − y‖ for each pair of rows: a critic that is K-Lipschitz never exceeds K on any pair."""
    if x.shape != y.shape:
        raise ValueError(f"x and y must pair up row by row, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    return (critic(x) - critic(y)).flatten().abs() / (x - y).flatten(1).norm(dim=1)
