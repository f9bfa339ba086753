"""Notebook 12's discrete autoencoder: a VQ-VAE (van den Oord et al., 2017) that writes a digit as a 7×7 grid of codes.

The encoder turns a 28×28 digit into a 7×7 grid of D-dimensional vectors; the quantizer replaces each by its nearest
row of a learned codebook (K vectors), so a digit becomes 49 whole numbers in 0 … K − 1; the decoder paints the digit
back from the chosen codebook vectors. Rounding to the nearest code has no useful gradient, so training copies the
decoder's gradient straight through to the encoder (the straight-through estimator, Bengio et al., 2013), and two
extra losses pull codebook vectors and encoder outputs towards each other. How it is trained:
:mod:`course_utils.training.vqvae`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .generative import check_digit_batch, check_input_dtype

GRID = 7
"""The code grid is GRID×GRID: each code stands for a 4×4 patch of the 28×28 digit (and sees well beyond it)."""


class VectorQuantizer(nn.Module):
    """A codebook of K vectors of D numbers; ``forward`` replaces every vector of a grid N×D×H×W by its nearest row."""

    def __init__(self, codebook_size: int, code_dim: int):
        super().__init__()
        self.codebook = nn.Parameter(torch.randn(codebook_size, code_dim))

    @property
    def size(self) -> int:
        return self.codebook.shape[0]

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Indices N×H×W of the codebook rows nearest (in Euclidean distance) to each vector of z (N×D×H×W)."""
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])                        # (N·H·W)×D
        distances = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.T
                     + self.codebook.pow(2).sum(1))                                 # (N·H·W)×K, ‖z − e‖²
        return distances.argmin(1).view(z.shape[0], *z.shape[2:])

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Codebook vectors for indices N×H×W → N×D×H×W."""
        return self.codebook[indices].permute(0, 3, 1, 2)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z_straight, z_q, indices)``: the nearest codes z_q, and z_straight = z + (z_q − z).detach(), which
        equals z_q in the forward pass and hands its gradient to z unchanged (the straight-through estimator)."""
        indices = self.nearest(z)
        z_q = self.lookup(indices)
        return z + (z_q - z).detach(), z_q, indices


class Residual(nn.Module):
    """x + (ReLU → 3×3 conv → ReLU → 1×1 conv)(x), keeping the channels and the size."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                                   nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class VQVAE(nn.Module):
    """Digits N×1×28×28 → codes N×7×7 in 0 … K − 1 → digits: ``width`` channels at 14×14, 2·width at 7×7."""

    def __init__(self, codebook_size: int = 64, code_dim: int = 8, width: int = 32):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            nn.Conv2d(1, w, 4, stride=2, padding=1), nn.ReLU(),             # N×w×14×14
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1),                    # N×2w×7×7
            Residual(2 * w), Residual(2 * w), nn.ReLU(),                    # N×2w×7×7
            nn.Conv2d(2 * w, code_dim, 1))                                  # N×D×7×7: one vector per 4×4 patch
        self.quantizer = VectorQuantizer(codebook_size, code_dim)          # N×D×7×7 → nearest codes
        self.decoder = nn.Sequential(
            nn.Conv2d(code_dim, 2 * w, 3, padding=1),                       # N×2w×7×7
            Residual(2 * w), Residual(2 * w), nn.ReLU(),                    # N×2w×7×7
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.ReLU(),  # N×w×14×14
            nn.ConvTranspose2d(w, 1, 4, stride=2, padding=1))               # N×1×28×28 logits of ink

    @property
    def device(self) -> torch.device:
        return self.quantizer.codebook.device

    @property
    def codebook_size(self) -> int:
        return self.quantizer.size

    @property
    def code_dim(self) -> int:
        return self.quantizer.codebook.shape[1]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's continuous outputs z_e, N×D×7×7, for digits N×1×28×28 in [0, 1]."""
        check_digit_batch(x)
        check_input_dtype(x, self)
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """One training pass: ``logits`` of the reconstruction (through the straight-through codes), the encoder's
        ``z_e``, the nearest codes ``z_q`` and their ``indices``."""
        z_e = self.encode(x)
        z_straight, z_q, indices = self.quantizer(z_e)
        return {"logits": self.decoder(z_straight), "z_e": z_e, "z_q": z_q, "indices": indices}

    def check_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """``codes`` if they are a grid N×7×7 of whole numbers in 0 … K − 1 on the model's device; a clear
        ``ValueError`` otherwise."""
        if not isinstance(codes, torch.Tensor) or codes.dim() != 3 or codes.shape[1:] != (GRID, GRID):
            shape = tuple(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
            raise ValueError(f"expected a grid of codes N×{GRID}×{GRID}, got {shape}")
        if codes.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
            raise ValueError(f"codes are whole numbers (torch.long), got dtype {codes.dtype}: the indices from "
                             "model.codes(images), or a tensor made with dtype=torch.long")
        if len(codes) and (codes.min() < 0 or codes.max() >= self.codebook_size):
            raise ValueError(f"codes must lie in 0 … {self.codebook_size - 1} (the codebook has "
                             f"{self.codebook_size} vectors), got {codes.min().item()} … {codes.max().item()}")
        if codes.device != self.device:
            raise ValueError(f"codes are on {codes.device} but the model is on {self.device}: move them with "
                             "codes.to(model.device)")
        return codes.long()

    @torch.no_grad()
    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The grid of code indices N×7×7 for digits N×1×28×28."""
        return self.quantizer.nearest(self.encode(x))

    @torch.no_grad()
    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Digits N×1×28×28 in [0, 1] painted from a grid of code indices N×7×7."""
        return torch.sigmoid(self.decoder(self.quantizer.lookup(self.check_codes(codes))))

    @torch.no_grad()
    def decode_latents(self, z: torch.Tensor) -> torch.Tensor:
        """Digits for continuous vectors N×D×7×7 (where the encoder's outputs live), each first replaced by its
        nearest code, as the decoder was trained."""
        return torch.sigmoid(self.decoder(self.quantizer.lookup(self.quantizer.nearest(z))))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Encode, quantize and decode: the model's copy of each digit, N×1×28×28 in [0, 1]."""
        return self.decode_codes(self.codes(x))


def vq_losses(z_e: torch.Tensor, z_q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(codebook, commitment)``: ‖sg[z_e] − z_q‖² moves the chosen codes towards the encoder's outputs;
    ‖z_e − sg[z_q]‖² keeps the encoder's outputs near the codes they chose (sg: stop the gradient)."""
    return F.mse_loss(z_q, z_e.detach()), F.mse_loss(z_e, z_q.detach())
