"""Numbers that compare a set of generated images with real ones, each catching a different failure (notebook 08).

Precision and recall with k-nearest-neighbour balls (Kynkäänniemi et al., 2019), the sliced Wasserstein distance on
Laplacian-pyramid patches (Karras et al., 2018) and its 1-D building block, a nearest-neighbour memorisation check,
and a classifier two-sample test. The Inception-style score and the Fréchet distance live in
:mod:`course_utils.evaluation.metrics`; all of them work on feature vectors or images the caller provides.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn

from ..engine.data import Minibatches, check_digit_batch
from .metrics import classifier_features, nearest_neighbours
from .tables import METRICS


def _check_point_sets(a: torch.Tensor, b: torch.Tensor, what: str = "features") -> None:
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"{what} must be N×D and M×D with the same D, got {tuple(a.shape)} and {tuple(b.shape)}")


# --- Precision and recall (Kynkäänniemi et al., 2019) ---

def knn_radii(points: torch.Tensor, k: int = 3, chunk: int = 1024) -> torch.Tensor:
    """The distance from each point (N×D) to its k-th nearest *other* point of the same set: the radius of the
    ball that, around every point, estimates the region the set covers."""
    if not isinstance(k, numbers.Integral) or k < 1 or k >= len(points):
        raise ValueError(f"k must be a whole number from 1 to {len(points) - 1} (fewer than the {len(points)} points)")
    radii = []
    for rows in points.split(chunk):
        distances = torch.cdist(rows.double(), points.double())
        radii.append(distances.kthvalue(k + 1, dim=1).values)         # the 1st smallest is the point itself (0)
    return torch.cat(radii).float()


def coverage_of(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """For each query, whether it lies inside at least one ball (centre, radius): N booleans."""
    inside = []
    for rows in queries.split(chunk):
        inside.append((torch.cdist(rows.double(), centres.double()) <= radii.double()[None, :]).any(dim=1))
    return torch.cat(inside)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> dict[str, float]:
    """Precision: the share of generated points inside the real set's k-NN balls (are the samples realistic?).
    Recall: the share of real points inside the generated set's balls (is every kind of real image produced?)."""
    _check_point_sets(real, fake)
    precision = coverage_of(fake, real, knn_radii(real, k)).double().mean().item()
    recall = coverage_of(real, fake, knn_radii(fake, k)).double().mean().item()
    return {"precision": precision, "recall": recall}


# --- Sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al., 2018) ---

def wasserstein_1d(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact W₁ between the empirical distributions of two equally sized 1-D samples, along the last dimension:
    the mean absolute difference of the sorted values (the optimal plan pairs them in order)."""
    if a.shape != b.shape:
        raise ValueError(f"the sorted-samples formula needs equally many samples, got {tuple(a.shape)} and {tuple(b.shape)}")
    return (a.sort(dim=-1).values - b.sort(dim=-1).values).abs().mean(dim=-1)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, directions: int = 512, seed: int = 0) -> float:
    """The average over ``directions`` random unit directions of the 1-D W₁ between the two point sets' projections
    (N×D each, equally many points)."""
    _check_point_sets(a, b, "point sets")
    rng = torch.Generator().manual_seed(seed)
    units = F.normalize(torch.randn(a.shape[1], directions, generator=rng, dtype=torch.float64), dim=0)
    projected_a = units.T @ a.double().cpu().T                 # directions × N, contiguous: sorts along memory
    projected_b = units.T @ b.double().cpu().T
    return wasserstein_1d(projected_a, projected_b).mean().item()


def laplacian_pyramid(images: torch.Tensor, levels: int = 3) -> list[torch.Tensor]:
    """Band-pass images from fine to coarse: each level is an image minus its blurred, half-size copy brought back
    to full size; the last level is the coarsest copy itself (28 → 14 → 7 pixels for three levels)."""
    check_digit_batch(images)
    kernel = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=images.device)
    kernel = (kernel[:, None] * kernel[None, :] / 256).view(1, 1, 5, 5)

    def blur(x):
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel)

    bands, current = [], images.float()
    for _ in range(levels - 1):
        smaller = F.avg_pool2d(blur(current), 2)
        bands.append(current - F.interpolate(smaller, size=current.shape[-2:], mode="bilinear", align_corners=False))
        current = smaller
    return bands + [current]


def random_patches(images: torch.Tensor, size: int = 7, per_image: int = 16, seed: int = 0) -> torch.Tensor:
    """``per_image`` random size×size patches from each N×1×H×W image, flattened: (N·per_image)×size²."""
    rng = torch.Generator().manual_seed(seed)
    n, _, height, width = images.shape
    rows = torch.randint(0, height - size + 1, (n, per_image), generator=rng)
    cols = torch.randint(0, width - size + 1, (n, per_image), generator=rng)
    offsets = torch.arange(size)
    r = (rows[..., None, None] + offsets[:, None]).to(images.device)          # n × per_image × size × 1
    c = (cols[..., None, None] + offsets[None, :]).to(images.device)          # n × per_image × 1 × size
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    return images[batch, 0, r, c].reshape(n * per_image, size * size)


def pyramid_swd(images_a: torch.Tensor, images_b: torch.Tensor, levels: int = 3, per_image: int = 16,
                directions: int = 512, seed: int = 0) -> dict[int, float]:
    """Karras et al.'s sliced Wasserstein distance at each resolution of the Laplacian pyramid (×10³, as the paper
    reports it): random 7×7 patches of each band, each patch dimension normalised by the two sets' joint mean and
    standard deviation, then :func:`sliced_wasserstein`. Keys are the band's size in pixels (28, 14, 7)."""
    if images_a.shape != images_b.shape:
        raise ValueError(f"compare equally many images of one shape, got {tuple(images_a.shape)} and {tuple(images_b.shape)}")
    distances = {}
    for band_a, band_b in zip(laplacian_pyramid(images_a, levels), laplacian_pyramid(images_b, levels)):
        size = min(7, band_a.shape[-1])
        patches_a = random_patches(band_a, size, per_image, seed)
        patches_b = random_patches(band_b, size, per_image, seed)          # the same places in both sets
        both = torch.cat([patches_a, patches_b])
        mean, std = both.mean(0), both.std(0).clamp(min=1e-8)
        distances[band_a.shape[-1]] = 1e3 * sliced_wasserstein((patches_a - mean) / std, (patches_b - mean) / std,
                                                                directions, seed)
    return distances


# --- Memorisation: how close are the samples to the training digits? ---

def memorisation_ratio(samples: torch.Tensor, train: torch.Tensor, held_out: torch.Tensor) -> dict[str, float]:
    """Median pixel distance from each sample to its nearest training image, divided by the same for real
    held-out images: about 1 for a model that draws new digits, far below 1 for one that copies training digits.
    Also returns the share of samples closer to a training image than any held-out digit is (``copies``)."""
    for name, images in (("samples", samples), ("train", train), ("held_out", held_out)):
        check_digit_batch(images)
    sample_distance, _ = nearest_neighbours(samples.flatten(1), train.flatten(1))
    real_distance, _ = nearest_neighbours(held_out.flatten(1), train.flatten(1))
    return {"ratio": (sample_distance.median() / real_distance.median()).item(),
            "sample_median": sample_distance.median().item(), "real_median": real_distance.median().item(),
            "copies": (sample_distance < real_distance.min()).double().mean().item()}


# --- A classifier two-sample test ---

class TwoSampleNet(nn.Module):
    """A small CNN that outputs one logit per 28×28 image: "real" (positive) or "generated" (negative)."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2),              # N×w×14×14
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.LeakyReLU(0.2),      # N×2w×7×7
            nn.Flatten(), nn.Linear(2 * width * 49, 1),                                  # N×1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def two_sample_test(real: torch.Tensor, fake: torch.Tensor, epochs: int = 8, seed: int = 0) -> dict[str, float]:
    """Train :class:`TwoSampleNet` to tell ``real`` from ``fake`` images on half of each, and return its accuracy on
    the other halves: 0.5 when the two sets cannot be told apart, near 1 when every sample gives itself away."""
    check_digit_batch(real)
    check_digit_batch(fake)
    if min(len(real), len(fake)) < 4:
        raise ValueError("the two-sample test needs at least 4 images of each kind (half to train, half to test)")
    count = min(len(real), len(fake))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        real, fake = real[torch.randperm(len(real))[:count]], fake[torch.randperm(len(fake))[:count]]
        half = count // 2
        train_x = torch.cat([real[:half], fake[:half]])
        train_y = torch.cat([torch.ones(half), torch.zeros(half)]).to(train_x.device)
        test_x = torch.cat([real[half:], fake[half:]])
        test_y = torch.cat([torch.ones(count - half), torch.zeros(count - half)]).to(test_x.device)
        net = TwoSampleNet().to(train_x.device)
        optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
        for _ in range(epochs):
            for x, y in Minibatches(train_x, train_y, batch_size=64):
                loss = F.binary_cross_entropy_with_logits(net(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        with torch.no_grad():
            accuracy = ((net(test_x) > 0).float() == test_y).double().mean().item()
    return {"accuracy": accuracy, "test_images": len(test_y)}


# --- Every metric at once, on one set of images ---

def all_metrics(judge, images: torch.Tensor, train: torch.Tensor, k: int = 3, seed: int = 0) -> dict[str, float]:
    """Every number of notebook 08 for ``images`` (N×1×28×28 in [0, 1]) against the judge's held-out digits, the
    first N of them: the Inception-style score, Fréchet distance and confident share (``judge``, a
    :class:`~course_utils.evaluation.leaderboard.Judge`), precision and recall in the classifier's features, the sliced
    Wasserstein distance at 28, 14 and 7 pixels, the memorisation ratio against ``train``, and the two-sample
    test's accuracy."""
    reference = judge.reference[:len(images)]
    if len(reference) < len(images):
        raise ValueError(f"compare at most {len(judge.reference)} images (the held-out digits), got {len(images)}")
    quality = judge(images)
    features_real = classifier_features(judge.classifier, reference)
    features_fake = classifier_features(judge.classifier, images)
    swd = pyramid_swd(reference, images, seed=seed)
    return {"inception_score": quality["inception_score"], "frechet_distance": quality["frechet_distance"],
            "confident_share": quality["confident_share"],
            **precision_recall(features_real, features_fake, k),
            **{f"swd_{size}": value for size, value in swd.items()},
            "memorisation": memorisation_ratio(images, train, reference)["ratio"],
            "two_sample_accuracy": two_sample_test(reference, images, seed=seed)["accuracy"]}


# --- Tables of those numbers ---

METRIC_COLUMNS = {key: METRICS[key].title for key in ("inception_score", "frechet_distance", "precision", "recall",
                                                      "swd_28", "swd_7", "memorisation", "two_sample_accuracy")}
"""The columns of notebook 08's tables (metric → heading, from :data:`course_utils.evaluation.tables.METRICS`): ↑ higher is
better, ↓ lower; the memorisation ratio should be near 1 and the two-sample accuracy near 0.5."""
