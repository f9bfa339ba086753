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
    [0, 1] under p(cᵢ | c<ᵢ) holds uᵢ — the same u, the same digit.

    ``num_classes`` = 10 makes the class-conditional prior (``decode(u, labels)``). Its network has one class row
    more, ``num_classes`` itself, meaning "no label": trained with some labels dropped to it, the prior can draw with
    classifier-free guidance (Ho & Salimans, 2022, notebook 10), each position's logits pushed from the unlabelled ones
    towards, and past, the labelled ones: ℓ = ℓ(∅) + ``guidance``·(ℓ(y) − ℓ(∅)). Guidance 1 draws from p(c | y)."""

    latent_dim = GRID * GRID
    prior = "uniform"

    def __init__(self, autoencoder: VQVAE, channels: int = 64, layers: int = 5, kernel_size: int = 3,
                 num_classes: int | None = None, guidance: float = 1.0):
        super().__init__()
        self.autoencoder = autoencoder.requires_grad_(False)
        self.num_classes, self.guidance = num_classes, guidance
        self.network = GatedPixelCNN(channels, layers, kernel_size, side=GRID, categories=autoencoder.codebook_size,
                                     num_classes=num_classes + 1 if num_classes else None)

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
        [0, 1] under p(cᵢ | c<ᵢ) holds ``u[:, i]`` (u: N×49); with guidance, the labelled and unlabelled logits of
        each position come from one batch of 2N grids that receive the same codes."""
        labels = self.checked_labels(labels, len(u))
        guided = labels is not None and self.guidance != 1.0
        codes = torch.zeros(len(u) * (2 if guided else 1), GRID, GRID, dtype=torch.long, device=u.device)
        if guided:
            labels = torch.cat([labels, torch.full_like(labels, self.num_classes)])      # then "no label"

        def choose(logits: torch.Tensor, row: int, column: int) -> torch.Tensor:
            if guided:
                labelled, unlabelled = logits.chunk(2)
                logits = unlabelled + self.guidance * (labelled - unlabelled)
            chosen = pick_from(logits.softmax(1), u[:, row * GRID + column])
            return chosen.repeat(2) if guided else chosen

        with evaluating(self.network) as network:
            return network.fill(codes, choose, labels=labels)[:len(u)]

    def _decode(self, u: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Digits N×1×28×28: code grids drawn from ``u`` (and ``labels``), painted by the VQ-VAE's decoder."""
        with evaluating(self.autoencoder):
            return self.autoencoder.decode_codes(self.draw_codes(u, labels))

    @torch.no_grad()
    def sample(self, n: int, rng: int | torch.Generator | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` new digits (of the classes ``labels`` for a conditional prior; every class equally often if None)."""
        return self.decode(self.sample_latent(n, rng), labels)
