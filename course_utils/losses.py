"""Loss functions of the course, each written out so the formula on the slide is visible in the code."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


# --- Regression and perceptual losses (notebooks 01–02) ---

class FeatureExtractor(nn.Module):
    """A frozen classifier seen as a map image → intermediate activations (a dict layer name → tensor).

    The classifier must have a ``features(x)`` method returning a dict, like ``DigitClassifier``. Its weights are
    frozen (no gradients, eval mode) so a loss built on it trains only the generator, never the judge.
    """

    def __init__(self, classifier: nn.Module, layers: Sequence[str] = ("conv1", "conv2")):
        super().__init__()
        if not hasattr(classifier, "features"):
            raise ValueError(f"{type(classifier).__name__} has no features(x) method to read intermediate layers from")
        if not layers:
            raise ValueError("choose at least one layer, e.g. layers=('conv1', 'conv2')")
        self.classifier = classifier.eval().requires_grad_(False)
        self.layers = tuple(layers)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.classifier.features(images)
        unknown = [name for name in self.layers if name not in features]
        if unknown:
            raise ValueError(f"unknown layer(s) {unknown}; the classifier offers {list(features)}")
        return {name: features[name] for name in self.layers}


def feature_distance(images: torch.Tensor, references: torch.Tensor, extractor: FeatureExtractor) -> torch.Tensor:
    """Per-image perceptual distance: Σ over layers of the mean squared difference of activations (N values).

    d(x, y) = Σ_l ‖φ_l(x) − φ_l(y)‖² / D_l, where φ_l(x) are the D_l activations of layer l.
    """
    if images.shape != references.shape:
        raise ValueError(f"images {tuple(images.shape)} and references {tuple(references.shape)} must have the same shape")
    a = extractor(images)
    with torch.set_grad_enabled(references.requires_grad):   # fixed targets need no graph: a third less work
        b = extractor(references)
    return sum((a[name] - b[name]).pow(2).flatten(1).mean(1) for name in extractor.layers)


def perceptual_loss(generated: torch.Tensor, reference: torch.Tensor, extractor: FeatureExtractor,
                    pixel_weight: float = 0.0) -> torch.Tensor:
    """Mean feature distance between generated and reference images, plus ``pixel_weight`` × pixel MSE.

    A small pixel term keeps the overall brightness and position honest; the feature term rewards crisp strokes.
    """
    loss = feature_distance(generated, reference, extractor).mean()
    if pixel_weight:
        loss = loss + pixel_weight * F.mse_loss(generated, reference)
    return loss


def shift_right(images: torch.Tensor, pixels: int) -> torch.Tensor:
    """Move every image ``pixels`` columns to the right, filling the gap with paper (0)."""
    if pixels < 0 or pixels >= images.shape[-1]:
        raise ValueError(f"shift must be between 0 and {images.shape[-1] - 1} pixels, got {pixels}")
    if pixels == 0:
        return images.clone()
    return F.pad(images[..., :-pixels], (pixels, 0))


@torch.no_grad()
def distance_under_shift(images: torch.Tensor, extractor: FeatureExtractor, max_shift: int) -> dict[str, torch.Tensor]:
    """Pixel MSE and feature distance between digits and themselves shifted by 0…``max_shift`` pixels.

    Each curve is divided by the same distance between *different* digits (each image vs the next one), so 1.0 means
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



# --- VAE: Gaussian KL and the ELBO (notebook 03) ---


# --- GAN losses (notebooks 04–06) ---
