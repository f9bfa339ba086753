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

@torch.no_grad()
def class_probabilities(classifier: torch.nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """The classifier's p(y | x) for each image (N×10); images are N×1×28×28 in [0, 1]."""
    check_digit_batch(images)
    classifier.eval()
    return torch.cat([torch.softmax(classifier(chunk).float(), dim=1) for chunk in images.split(batch_size)])


@torch.no_grad()
def classifier_features(classifier: torch.nn.Module, images: torch.Tensor, layer: str = "hidden",
                        batch_size: int = 500) -> torch.Tensor:
    """The classifier's activations at ``layer`` for each image, flattened to N×D (the space of the Fréchet distance)."""
    check_digit_batch(images)
    classifier.eval()
    return torch.cat([classifier.features(chunk)[layer].flatten(1).float() for chunk in images.split(batch_size)])


def inception_score(probabilities: torch.Tensor, eps: float = 1e-12) -> dict[str, float]:
    """Inception-style score exp(E_x KL(p(y|x) ‖ p(y))) = exp(H[p(y)] − E_x H[p(y|x)]) from N×K class probabilities.

    It is high when each image gets a confident prediction (low per-sample entropy) *and* the predicted classes are
    balanced (high entropy of the average prediction); at most K. Returns the score and both entropies (in nats).
    """
    if probabilities.ndim != 2 or probabilities.shape[0] < 2:
        raise ValueError(f"probabilities must be N×K with N ≥ 2, got {tuple(probabilities.shape)}")
    if not torch.allclose(probabilities.sum(1), torch.ones(len(probabilities), device=probabilities.device), atol=1e-3):
        raise ValueError("each row of probabilities must sum to 1: pass softmax outputs, not logits")
    p = probabilities.double()
    per_sample = -(p * (p + eps).log()).sum(1).mean()
    marginal = p.mean(0)
    balance = -(marginal * (marginal + eps).log()).sum()
    return {"score": float(torch.exp(balance - per_sample)), "per_sample_entropy": float(per_sample),
            "class_entropy": float(balance)}


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N×D each):
    ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2}). Zero for identical statistics, larger as they drift apart.
    """
    if features_a.ndim != 2 or features_b.ndim != 2 or features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"features must be N×D and M×D with the same D, got {tuple(features_a.shape)} and {tuple(features_b.shape)}")
    if min(len(features_a), len(features_b)) < 2:
        raise ValueError("each feature set needs at least 2 rows to estimate a covariance")
    a, b = features_a.double().cpu(), features_b.double().cpu()
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T).reshape(a.shape[1], a.shape[1]), torch.cov(b.T).reshape(b.shape[1], b.shape[1])
    # Tr (Σ_a Σ_b)^{1/2} = Σ sqrt(eigenvalues of Σ_a^{1/2} Σ_b Σ_a^{1/2}), a symmetric matrix: stable to compute.
    root_a = _psd_sqrt(cov_a)
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    return float((mean_a - mean_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * cross)


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T


def classifier_scores(classifier: torch.nn.Module, images: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """Inception-style score of ``images`` and their Fréchet distance to ``reference`` in the classifier's features.

    Both image sets are N×1×28×28 in [0, 1]; ``reference`` should be real digits the models never trained on.
    """
    scores = inception_score(class_probabilities(classifier, images))
    scores["frechet_distance"] = frechet_distance(classifier_features(classifier, images),
                                                  classifier_features(classifier, reference))
    return scores
