"""Notebook 11's autoregressive model: a gated PixelCNN (van den Oord et al., 2016) on binarized digits.

The chain rule writes any distribution over 784 pixels as p(x) = Πᵢ p(xᵢ | x₁ … xᵢ₋₁) in raster order (row by
row, left to right). A PixelCNN computes all 784 conditionals in one pass with convolutions that never look at pixel i
or after it. Plain masked 3×3 convolutions (:class:`MaskedConv2d`, masks A and B) leave a blind spot up and to the
right of every pixel; the gated PixelCNN removes it with two stacks: a *vertical* stack that sees the rows above
(shifted down one row so it never sees the current row) and a *horizontal* stack that sees the current row to the
left. Because the vertical stack of row r depends on rows above r only, sampling computes it once per row and the
horizontal stack once per pixel on that single row: 28 full passes and 784 one-row passes instead of 784 full passes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .generative import GenerativeModel, check_digit_batch, evaluating

SIDE = 28


def causal_mask(kernel_size: int, include_centre: bool) -> torch.Tensor:
    """The k×k mask of a raster-order masked convolution: 1 on every tap before the centre (the rows above, then the
    centre row to the left), and on the centre itself for mask B (``include_centre``); 0 elsewhere."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"a masked convolution needs an odd kernel size ≥ 1, got {kernel_size}")
    mask = torch.zeros(kernel_size, kernel_size)
    centre = kernel_size // 2
    mask[:centre] = 1                                   # the rows above
    mask[centre, :centre + int(include_centre)] = 1     # the centre row, left of the centre (and the centre for B)
    return mask


class MaskedConv2d(nn.Conv2d):
    """A k×k convolution whose weights are multiplied by :func:`causal_mask` at every call: mask ``"A"`` (the first
    layer: the output at pixel i never sees input pixel i) or ``"B"`` (later layers: it may see its own position,
    which by then holds only information from before i)."""

    def __init__(self, channels_in: int, channels_out: int, kernel_size: int, mask_type: str):
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type is 'A' (first layer) or 'B' (later layers), got {mask_type!r}")
        super().__init__(channels_in, channels_out, kernel_size, padding=kernel_size // 2)
        self.register_buffer("mask", causal_mask(kernel_size, mask_type == "B"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """Move every row one down (the top row becomes zeros): features of row r − 1 at row r."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def gate(x: torch.Tensor) -> torch.Tensor:
    """The gated activation tanh(a) ⊙ σ(b) of 2p channels split in two halves → p channels."""
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    """One layer of both stacks, p channels each.

    Vertical: a (k//2 + 1)×k convolution over the rows r − k//2 … r, so row r sees rows ≤ r (the stack stays causal
    because the horizontal stack receives it shifted down a row). Horizontal: a 1×(k//2 + 1) convolution over
    the pixels c − k//2 … c of its own row (c − k//2 … c − 1 in the first layer, ``first``: mask A), plus the shifted
    vertical features through a 1×1 link, gated, then a 1×1 convolution added back (a residual, except in the first
    layer, whose input is the image).
    """

    def __init__(self, channels: int, kernel_size: int, first: bool = False, channels_in: int | None = None):
        super().__init__()
        p, half, c_in = channels, kernel_size // 2, channels_in or channels
        self.half, self.first = half, first
        self.vertical = nn.Conv2d(c_in, 2 * p, (half + 1, kernel_size))                 # rows r−half … r
        self.horizontal = nn.Conv2d(c_in, 2 * p, (1, half if first else half + 1))      # columns c−half … c(−1)
        self.link = nn.Conv2d(2 * p, 2 * p, 1)                                          # vertical → horizontal
        self.out = nn.Conv2d(p, p, 1)

    def vertical_step(self, v: torch.Tensor, bias: torch.Tensor | float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Vertical features N×C×H×W → (pre-activation 2p, gated p), row r computed from rows r − half … r; ``bias``
        (N×2p×1×1, the class's vector in a conditional network) is added before the gate."""
        pre = self.vertical(F.pad(v, (self.half, self.half, self.half, 0))) + bias
        return pre, gate(pre)

    def horizontal_step(self, h: torch.Tensor, vertical_pre_above: torch.Tensor,
                        bias: torch.Tensor | float = 0.0) -> torch.Tensor:
        """Horizontal features N×C×H×W (any number of rows) and the vertical pre-activation of the row above each
        row → the next horizontal features, N×p×H×W (``bias`` as in :meth:`vertical_step`)."""
        pre = self.horizontal(F.pad(h, (self.half, 0, 0, 0)))
        if self.first:                  # mask A: a 1×half kernel gives W + 1 columns; column c covers c − half … c − 1
            pre = pre[..., :-1]
        out = self.out(gate(pre + self.link(vertical_pre_above) + bias))
        return out if self.first else h + out


class GatedPixelCNN(nn.Module):
    """A grid side×side of binary pixels or of codes → the logits of each position's conditional given the positions
    before it in raster order: ``layers`` gated layers of ``channels`` channels and ``kernel_size`` reach, then
    1×1 → ReLU → 1×1 → the logits.

    ``categories`` None (notebook 11): binarized digits N×1×side×side in, one logit of p(xᵢ = 1 | x<ᵢ) per pixel out.
    ``categories`` K (notebook 12's prior over a VQ-VAE's codes): code indices N×side×side in, each embedded as a
    vector, and K logits of p(cᵢ = k | c<ᵢ) per position out. ``num_classes``: every layer adds a learned vector of
    the class to both stacks before their gates (van den Oord et al., 2016b), so every position knows which digit
    is asked for (an input that is the same everywhere cannot leak a future position).
    """

    def __init__(self, channels: int = 32, layers: int = 8, kernel_size: int = 3, side: int = SIDE,
                 categories: int | None = None, num_classes: int | None = None):
        super().__init__()
        if kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and ≥ 3, got {kernel_size}")
        self.categories, self.num_classes = categories, num_classes
        self.code_embedding = nn.Embedding(categories, channels) if categories else None      # code k → a vector
        self.layers = nn.ModuleList([GatedLayer(channels, kernel_size, first=True,
                                                channels_in=channels if categories else 1)]
                                    + [GatedLayer(channels, kernel_size) for _ in range(layers - 1)])
        # where each position is, learned: a convolution alone cannot tell the middle of the grid from its corners
        self.vertical_position = nn.Parameter(torch.zeros(1, channels, side, side))
        self.horizontal_position = nn.Parameter(torch.zeros(1, channels, side, side))
        self.label_embeddings = nn.ModuleList([nn.Embedding(num_classes, 2 * channels) for _ in range(layers)]
                                              ) if num_classes else None            # class → a vector per layer
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(),
                                  nn.Conv2d(channels, categories or 1, 1))

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """The first layer's input: pixels {0, 1} → {−1, 1} (so the zero padding differs from a blank pixel), or
        code indices N×R×W → their embeddings N×channels×R×W."""
        if self.code_embedding is None:
            return 2 * x - 1
        return self.code_embedding(x).permute(0, 3, 1, 2)

    def class_biases(self, labels: torch.Tensor | None) -> list[torch.Tensor | float]:
        """Each layer's class vector N×2p×1×1 for ``labels`` (0 for every layer of an unconditional network)."""
        if self.label_embeddings is None:
            return [0.0] * len(self.layers)
        if labels is None:
            raise ValueError("this PixelCNN is class-conditional: pass the labels of the digits to draw or score")
        return [embedding(labels)[:, :, None, None] for embedding in self.label_embeddings]

    def vertical_features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Each layer's vertical pre-activation, shifted down one row: entry l at row r depends on rows < r only."""
        v, above = self.inputs(x), []
        for number, (layer, bias) in enumerate(zip(self.layers, self.class_biases(labels))):
            pre, v = layer.vertical_step(v, bias)
            if number == 0:
                v = v + self.vertical_position[:, :, :x.shape[-2]]       # rows 0 … R − 1 of the grid
            above.append(shift_down(pre))
        return above

    def horizontal_logits(self, x_rows: torch.Tensor, above: list[torch.Tensor], first_row: int = 0,
                          labels: torch.Tensor | None = None) -> torch.Tensor:
        """The logits of the rows ``x_rows`` (the grid's rows ``first_row`` … ``first_row`` + R − 1), given the
        shifted vertical features of the same rows."""
        h = self.inputs(x_rows)
        for number, (layer, vertical, bias) in enumerate(zip(self.layers, above, self.class_biases(labels))):
            h = layer.horizontal_step(h, vertical, bias)
            if number == 0:
                h = h + self.horizontal_position[:, :, first_row:first_row + x_rows.shape[-2]]
        return self.head(h)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.horizontal_logits(x, self.vertical_features(x, labels), labels=labels)

    @torch.no_grad()
    def fill(self, x: torch.Tensor, choose, first_row: int = 0, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Fill the rows ``first_row`` … of the grid ``x`` in raster order, in place: position (r, c) gets
        ``choose(logits, r, c)``, its logits given everything before it. The vertical stack runs once per row, the
        horizontal stack once per position on that row alone — exactly the full pass's logits, for a fraction of
        the work."""
        side = x.shape[-1]
        for r in range(first_row, x.shape[-2]):
            above = [features[..., r:r + 1, :] for features in self.vertical_features(x[..., :r + 1, :], labels)]
            for c in range(side):
                logits = self.horizontal_logits(x[..., r:r + 1, :], above, first_row=r, labels=labels)
                x[..., r, c] = choose(logits[..., 0, c], r, c)
        return x


class PixelCNN(GenerativeModel):
    """A gated PixelCNN with the course's four verbs. Its "latent" is the randomness of sampling: 784 numbers
    u ~ U[0, 1], one per pixel, and ``decode(u)`` sets pixel i to 1 exactly when uᵢ < p(xᵢ = 1 | x<ᵢ) — the same u,
    the same digit. ``log_prob(x)`` is the exact log-likelihood of binarized digits, in nats."""

    latent_dim = SIDE * SIDE
    prior = "uniform"

    def __init__(self, channels: int = 32, layers: int = 8, kernel_size: int = 3):
        super().__init__()
        self.network = GatedPixelCNN(channels, layers, kernel_size)

    @staticmethod
    def check_binary(x: torch.Tensor) -> torch.Tensor:
        """``x`` if it is a batch N×1×28×28 of pixels that are each exactly 0 or 1; a ``ValueError`` says how to get
        there otherwise (grey digits: binarize them first)."""
        check_digit_batch(x)
        if not ((x == 0) | (x == 1)).all():
            raise ValueError("the PixelCNN models binarized digits, pixels exactly 0 or 1, but got grey values: "
                             "binarize them first, e.g. binarize(images, seed=0) (each pixel 1 with probability its "
                             "grey value) or (images > 0.5).float()")
        return x

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The logits N×1×28×28 of every pixel's conditional p(xᵢ = 1 | x<ᵢ), all in one pass (training's forward)."""
        return self.network(self.check_binary(x))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) in nats for each binarized digit (shape N): the sum of 784 log-conditionals, exact."""
        return -F.binary_cross_entropy_with_logits(self.logits(x), x, reduction="none").flatten(1).sum(1)

    def _decode(self, u: torch.Tensor) -> torch.Tensor:
        """Digits N×1×28×28 drawn pixel by pixel in raster order, pixel i = 1 when uᵢ < p(xᵢ = 1 | x<ᵢ)."""
        u = u.view(-1, 1, SIDE, SIDE)
        return self._draw(torch.zeros_like(u), u, first_row=0)

    @torch.no_grad()
    def complete(self, x: torch.Tensor, rows: int, rng: int | torch.Generator | None = None) -> torch.Tensor:
        """Keep the first ``rows`` rows of the binarized digits ``x`` and draw the rest from p(rest | those rows)."""
        if not 0 <= rows <= SIDE:
            raise ValueError(f"rows is how many rows to keep, 0 … {SIDE}, got {rows!r}")
        kept = self.check_binary(x).clone()
        kept[:, :, rows:] = 0
        u = self.sample_latent(len(x), rng).view(-1, 1, SIDE, SIDE)
        return self._draw(kept, u, first_row=rows)

    def _draw(self, x: torch.Tensor, u: torch.Tensor, first_row: int) -> torch.Tensor:
        """Fill the rows ``first_row`` … 27 of ``x`` in raster order, pixel i = 1 when uᵢ < p(xᵢ = 1 | x<ᵢ)."""
        with evaluating(self.network) as net:
            return net.fill(x, lambda logits, r, c: (u[:, :, r, c] < torch.sigmoid(logits)).to(x.dtype), first_row)
