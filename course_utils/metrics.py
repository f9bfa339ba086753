"""Numbers that judge images and models: sharpness, and (as the course grows) scores for generated samples."""

from __future__ import annotations

import torch

from .models.classifier import check_digit_batch


# --- Image quality (notebooks 01–03) ---

def sharpness(images: torch.Tensor) -> torch.Tensor:
    """Gradient energy of each image: the average over pixels of ∂x² + ∂y², by forward differences.

    Crisp strokes jump from paper (0) to ink (1) within a pixel and score high; a blurry average of many digits
    changes in small steps, and squaring makes many small steps count far less than a few big jumps, so it scores
    low. Images must be N×1×28×28 with values in [0, 1]; returns N values (at most 2, typical real digits ≈ 0.08).
    """
    check_digit_batch(images)
    dx = images[..., :-1, 1:] - images[..., :-1, :-1]
    dy = images[..., 1:, :-1] - images[..., :-1, :-1]
    return (dx**2 + dy**2).mean(dim=(1, 2, 3))


# --- GAN training diagnostics (notebook 04) ---


# --- Classifier-based scores for samples (notebooks 05–06) ---
