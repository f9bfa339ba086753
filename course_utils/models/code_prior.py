"""Notebook 12's generator of code grids: a gated PixelCNN (notebook 11's) over the 7×7 codes of a trained VQ-VAE.

The VQ-VAE turns a digit into 49 codes; this model learns p(c) = Πᵢ p(cᵢ | c<ᵢ) over those grids, each conditional a
choice among K codes, and the VQ-VAE's decoder paints the drawn grid. Drawing takes 49 passes over a 7×7 grid, where
notebook 11's pixel PixelCNN takes 784 pixel decisions: the lecture's "this speeds up generation a lot".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .generative import GenerativeModel, check_labels, evaluating
from .pixelcnn import GatedPixelCNN
from .vqvae import GRID, VQVAE


def pick_from(probabilities: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The category whose slice of [0, 1] holds u (the inverse of the cumulative distribution): for probabilities
    N×K and u (N) in [0, 1), category k is picked with probability p_k, and the same u always picks the same one."""
    cumulative = probabilities.cumsum(1)
    return torch.searchsorted(cumulative, u[:, None] * cumulative[:, -1:], right=True).clamp(max=probabilities.shape[1] - 1)[:, 0]


class CodePrior(GenerativeModel):
    """A VQ-VAE (frozen) and a PixelCNN over its code grids, with the course's four verbs. The latent is the
    randomness of drawing: 49 numbers u ~ U[0, 1], one per position, and position i takes the code whose slice of
    [0, 1] under p(cᵢ | c<ᵢ) holds uᵢ — the same u, the same digit. ``num_classes`` = 10 for the class-conditional
    prior (``decode(u, labels)``)."""

    latent_dim = GRID * GRID
    prior = "uniform"

    def __init__(self, autoencoder: VQVAE, channels: int = 64, layers: int = 5, kernel_size: int = 3,
                 num_classes: int | None = None):
        super().__init__()
        self.autoencoder = autoencoder.requires_grad_(False)
        self.num_classes = num_classes
        self.network = GatedPixelCNN(channels, layers, kernel_size, side=GRID, categories=autoencoder.codebook_size,
                                     num_classes=num_classes)

    def checked_labels(self, labels: torch.Tensor | None, count: int, drawing: bool = True) -> torch.Tensor | None:
        """The labels a conditional prior needs, checked (when ``drawing``, its default ones if None); None for an
        unconditional one."""
        if self.num_classes is None:
            if labels is not None:
                raise ValueError("this prior is unconditional: it draws any digit, so it takes no labels")
            return None
        if labels is None and not drawing:
            raise ValueError("this prior is class-conditional: pass the label of each code grid to score it")
        labels = self.default_labels(count) if labels is None else labels
        return check_labels(labels, count, self.num_classes).to(self.device)

    def log_prob(self, codes: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """log p(c) in nats of each code grid N×7×7 (given its labels, if conditional): the sum of 49 log-conditionals."""
        codes = self.autoencoder.check_codes(codes)
        logits = self.network(codes, self.checked_labels(labels, len(codes), drawing=False))
        return -F.cross_entropy(logits, codes, reduction="none").flatten(1).sum(1)

    @torch.no_grad()
    def draw_codes(self, u: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Code grids N×7×7 drawn position by position in raster order, position i taking the code whose slice of
        [0, 1] under p(cᵢ | c<ᵢ) holds ``u[:, i]`` (u: N×49)."""
        labels = self.checked_labels(labels, len(u))
        codes = torch.zeros(len(u), GRID, GRID, dtype=torch.long, device=u.device)
        with evaluating(self.network) as network:
            return network.fill(codes, lambda logits, r, c: pick_from(logits.softmax(1), u[:, r * GRID + c]),
                                labels=labels)

    def _decode(self, u: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Digits N×1×28×28: code grids drawn from ``u`` (and ``labels``), painted by the VQ-VAE's decoder."""
        with evaluating(self.autoencoder):
            return self.autoencoder.decode_codes(self.draw_codes(u, labels))

    @torch.no_grad()
    def sample(self, n: int, rng: int | torch.Generator | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` new digits (of the classes ``labels`` for a conditional prior; every class equally often if None)."""
        return self.decode(self.sample_latent(n, rng), labels)
