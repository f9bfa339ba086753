"""Loss functions of the course, each written out so the formula on the slide is visible in the code."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

# --- The perceptual loss (notebook 02) ---

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


# --- VAE: Gaussian KL and the ELBO (notebook 03) ---

LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor, per_dimension: bool = False) -> torch.Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) in nats for each row: ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1).

    ``mu`` and ``logvar`` (log σ², which keeps σ² positive without constraints) are N×d; returns N values ≥ 0, or
    with ``per_dimension=True`` the N×d terms before the sum (how many nats each latent dimension costs).
    """
    _check_gaussian(mu, logvar)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)
    return kl if per_dimension else kl.sum(dim=-1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """A sample z = μ + σ·ε with ε ~ N(0, I): random, yet differentiable in μ and log σ² (``eps`` may be given)."""
    _check_gaussian(mu, logvar)
    eps = torch.randn_like(mu) if eps is None else eps
    if eps.shape[-mu.ndim:] != mu.shape:
        raise ValueError(f"eps must end in the shape of mu {tuple(mu.shape)}, got {tuple(eps.shape)}")
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; μ, diag σ²), summed over the last dimension (μ = 0, log σ² = 0 gives the standard normal prior)."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(dim=-1)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) = Σ_pixels x·log p + (1 − x)·log(1 − p) with p = sigmoid(logits), for each row (N×784 → N).

    Computed from logits, which never takes the log of an exact 0. Pixel intensities in [0, 1] are used as targets.
    """
    if logits.shape != x.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and images {tuple(x.shape)} must have the same shape; "
                         "flatten the images to N×784 first")
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=-1)


def negative_elbo(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> dict[str, torch.Tensor]:
    """The VAE loss per image, in nats: ``reconstruction`` = −log p(x|z), ``kl`` = KL(q(z|x) ‖ p(z)), and their
    sum ``loss`` = −ELBO (each a tensor of N values; average them for the minibatch loss)."""
    reconstruction = -bernoulli_log_likelihood(logits, x)
    kl = gaussian_kl(mu, logvar)
    return {"loss": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}


def importance_weighted_bound(model, x: torch.Tensor, samples: int) -> torch.Tensor:
    """The importance-weighted lower bound on log p(x) with ``samples`` draws from q(z|x) (Burda et al., 2016).

    log p(x) ≥ E[log (1/k) Σ_i p(x, z_i) / q(z_i|x)], which equals the ELBO for k = 1 and tightens as k grows.
    ``model`` needs ``encode(x) → (mu, logvar)`` and ``decoder_logits(z)``; returns N values (nats per image).
    """
    if not isinstance(samples, numbers.Integral) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    samples = int(samples)
    mu, logvar = model.encode(x)
    x = x.reshape(x.shape[0], -1)
    z = reparameterize(mu, logvar, torch.randn(samples, *mu.shape, device=mu.device, dtype=mu.dtype))
    logits = model.decoder_logits(z.reshape(-1, mu.shape[-1])).view(samples, *x.shape)
    log_weights = (bernoulli_log_likelihood(logits, x.expand_as(logits))
                   + gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z))
                   - gaussian_log_density(z, mu, logvar))
    return torch.logsumexp(log_weights, dim=0) - math.log(samples)


def _check_gaussian(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    if not isinstance(mu, torch.Tensor) or not isinstance(logvar, torch.Tensor):
        raise ValueError("mu and logvar must be tensors")
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have the same shape")
    if mu.ndim == 0:
        raise ValueError("mu and logvar need at least one dimension (the latent dimensions, last)")


# --- GAN losses (notebooks 04 and 05) ---
# All take the discriminator's logits l, with D(x) = sigmoid(l): computing log D from logits never takes log(0).

def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy for D, real → 1 and fake → 0: −E[log D(x)] − E[log(1 − D(G(z)))] = −V(G, D)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """The minimax generator loss E[log(1 − D(G(z)))], which G minimises; flat when D confidently rejects fakes."""
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def generator_loss_non_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """−E[log D(G(z))]: the fakes labelled "real"; same fixed point as the minimax loss, strong gradients early on."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def discriminator_hinge_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The hinge loss for D (Lim & Ye, 2017; Miyato et al., 2018): E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))].

    D's outputs are scores, not probabilities. An example already on the right side by a margin of 1 adds nothing, so
    D stops pushing the real and fake scores apart once they are separated and spends its effort on the examples it
    still gets wrong.
    """
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def generator_hinge_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """G's side of the hinge game: raise D's score of the fakes, −E[D(G(z))] (no margin: G always gains by it)."""
    return -fake_scores.mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, weight: float = 10.0,
                     rng: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """WGAN-GP's penalty (Gulrajani et al., 2017): weight · E[(‖∇D(x̂)‖ − 1)²] at x̂ = εx + (1 − ε)G(z), ε ~ U(0, 1)
    per example; it pushes the critic towards slope 1 along the lines between real and fake samples, where the
    optimal 1-Lipschitz critic has it. Returns ``(penalty, gradient norms)``; the graph is kept for the critic's step.
    """
    if not weight > 0:
        raise ValueError(f"the penalty weight must be positive (the paper uses 10), got {weight}")
    if real.shape != fake.shape:
        raise ValueError(f"real and fake batches must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    shape = (real.shape[0],) + (1,) * (real.ndim - 1)                        # one ε per example
    epsilon = torch.rand(shape, generator=rng, device=real.device if rng is None else rng.device).to(real)
    mixed = (epsilon * real.detach() + (1 - epsilon) * fake.detach()).requires_grad_(True)
    (gradients,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    norms = gradients.flatten(1).norm(dim=1)
    return weight * (norms - 1).pow(2).mean(), norms.detach()


GAN_LOSSES = {"non-saturating": (discriminator_loss, generator_loss_non_saturating),
              "saturating": (discriminator_loss, generator_loss_saturating),
              "hinge": (discriminator_hinge_loss, generator_hinge_loss)}
"""The games the course plays: name → (D's loss, G's loss), both functions of D's raw outputs."""
