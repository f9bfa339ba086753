"""Numbers that judge images and models: sharpness, distances under shifts, mode coverage, nearest neighbours, and
classifier-based scores for generated samples."""

from __future__ import annotations

import torch

from ..engine.data import check_digit_batch, shift_right
from ..maths.losses import FeatureExtractor, feature_distance

# --- Image quality and distances (notebooks 01–03) ---

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


@torch.no_grad()
def distance_under_shift(images: torch.Tensor, extractor: FeatureExtractor, max_shift: int) -> dict[str, torch.Tensor]:
    """Pixel MSE and feature distance between digits and themselves shifted by 0…``max_shift`` pixels (notebook 02).

    Each curve is divided by the same distance between *different* digits (each image vs its neighbour in the batch), so 1.0 means
    "as far apart as two unrelated digits" and the two curves share an axis. Returns ``shifts``, ``pixel``, ``feature``.
    """
    if images.shape[0] < 2:
        raise ValueError("need at least two digits: the curves are normalised by the distance between different digits")
    others = images.roll(1, dims=0)
    pixel_scale = (images - others).pow(2).mean()
    feature_scale = feature_distance(images, others, extractor).mean()
    pixel, feature = [], []
    for pixels in range(max_shift + 1):
        shifted = shift_right(images, pixels)
        pixel.append((images - shifted).pow(2).mean() / pixel_scale)
        feature.append(feature_distance(images, shifted, extractor).mean() / feature_scale)
    return {"shifts": torch.arange(max_shift + 1), "pixel": torch.stack(pixel).cpu(), "feature": torch.stack(feature).cpu()}


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


# --- Classifier-based scores for samples (notebook 05) ---

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


CONFIDENT = 0.9


def quality_scores(classifier: torch.nn.Module, images: torch.Tensor, reference: torch.Tensor,
                   labels: torch.Tensor | None = None) -> dict[str, float]:
    """How much a set of images looks like digits, in the course classifier's eyes: the numbers of every leaderboard.

    ``inception_score`` (confident and balanced predictions; at most 10), ``frechet_distance`` to ``reference`` (real
    digits the models never trained on), ``confident_share`` (images whose top class has probability > 0.9),
    ``class_min`` and ``class_max`` (the rarest and the commonest predicted class, counted per 1,000 images) and, when
    ``labels`` says which digit each image was asked to be, ``label_accuracy``. Images are N×1×28×28 in [0, 1].
    """
    probabilities = class_probabilities(classifier, images)
    per_thousand = torch.bincount(probabilities.argmax(1), minlength=probabilities.shape[1]) * 1000 / len(images)
    quality = {"inception_score": inception_score(probabilities)["score"],
               "frechet_distance": frechet_distance(classifier_features(classifier, images),
                                                    classifier_features(classifier, reference)),
               "confident_share": (probabilities.max(1).values > CONFIDENT).double().mean().item(),
               "class_min": per_thousand.min().item(), "class_max": per_thousand.max().item()}
    if labels is not None:
        if labels.shape != (len(images),):
            raise ValueError(f"need one label per image ({len(images)}), got labels of shape {tuple(labels.shape)}")
        quality["label_accuracy"] = (probabilities.argmax(1) == labels.to(probabilities.device)).double().mean().item()
    return quality
