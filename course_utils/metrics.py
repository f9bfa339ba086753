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

def mode_coverage(samples: torch.Tensor, modes: torch.Tensor, std: float, *, within: float = 3.0,
                  min_share: float = 0.02) -> dict:
    """How well ``samples`` (N×d) cover a mixture with centres ``modes`` (K×d) and per-mode spread ``std``.

    A sample is *high quality* if it lies within ``within``·std of its nearest mode; a mode is *covered* if at least
    ``min_share`` of all samples are high-quality samples near it (the measure of Srivastava et al., 2017).
    Returns ``modes_covered`` (int), ``high_quality_share`` (float in [0, 1]) and ``counts`` (K high-quality counts).
    """
    if samples.ndim != 2 or modes.ndim != 2 or samples.shape[1] != modes.shape[1]:
        raise ValueError(f"samples must be N×d and modes K×d with the same d, got {tuple(samples.shape)} and {tuple(modes.shape)}")
    if samples.shape[0] == 0:
        raise ValueError("there are no samples to measure")
    if not torch.isfinite(samples).all():
        raise ValueError("the samples contain NaN or infinite values — the generator has probably diverged")
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    distances = torch.cdist(samples.double().cpu(), modes.double().cpu())
    nearest_distance, nearest_mode = distances.min(dim=1)
    good = nearest_distance <= within * std
    counts = torch.bincount(nearest_mode[good], minlength=modes.shape[0])
    return {"modes_covered": int((counts >= min_share * samples.shape[0]).sum()),
            "high_quality_share": good.double().mean().item(), "counts": counts}


def nearest_neighbours(queries: torch.Tensor, references: torch.Tensor, chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query, the Euclidean distance to its nearest reference and that reference's index.

    Works for any shapes (images are flattened); the check that a GAN did not memorise its training set: a sample's
    nearest training image should differ from it about as much as two different real digits do.
    """
    if queries.shape[1:] != references.shape[1:]:
        raise ValueError(f"queries and references must have the same shape per example, got "
                         f"{tuple(queries.shape[1:])} and {tuple(references.shape[1:])}")
    if queries.shape[0] == 0 or references.shape[0] == 0:
        raise ValueError("need at least one query and one reference")
    flat_refs = references.reshape(references.shape[0], -1).float()
    best_distance, best_index = [], []
    for start in range(0, queries.shape[0], chunk):
        block = queries[start:start + chunk].reshape(-1, flat_refs.shape[1]).float().to(flat_refs.device)
        index = torch.cdist(block, flat_refs).argmin(dim=1)
        best_distance.append((block - flat_refs[index]).norm(dim=1))   # exact, unlike cdist's fast matmul form
        best_index.append(index)
    return torch.cat(best_distance), torch.cat(best_index)


# --- Classifier-based scores for samples (notebooks 05–06) ---
