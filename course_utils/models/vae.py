"""The fully-connected MNIST VAE of Kingma & Welling (2014): 784 → 400 → (μ, log σ²) of 20 dims; 20 → 400 → 784.

The encoder outputs a diagonal Gaussian q(z|x); the decoder outputs the logits of independent Bernoulli
distributions p(x|z), one per pixel. ``fit_vae`` is the course's fast training recipe (Adam with a one-cycle
learning rate, large on-device minibatches), shared by notebook 03 and ``benchmarks/vae.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import pretrained
from ..config import budget
from ..data import Minibatches, load_mnist
from ..losses import importance_weighted_bound, negative_elbo, reparameterize
from ..train import train
from .classifier import random_shift

PIXELS = 28 * 28


class VAE(nn.Module):
    """Encoder 784 → ``hidden`` → (μ, log σ²) of ``latent_dim``; decoder ``latent_dim`` → ``hidden`` → 784 logits."""

    def __init__(self, latent_dim: int = 20, hidden: int = 400):
        super().__init__()
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(nn.Linear(PIXELS, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, PIXELS))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters of q(z|x) for images N×1×28×28 (or flat N×784): ``(mu, logvar)``, each N×latent_dim."""
        hidden = self.encoder(flatten_digits(x))
        return self.to_mu(hidden), self.to_logvar(hidden)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of p(x|z), N×784, for latent codes N×latent_dim (sigmoid gives pixel means)."""
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != self.latent_dim:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"expected latent codes shaped N×{self.latent_dim}, got {shape}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, draw one reparameterised z, decode: returns ``(logits, mu, logvar)``."""
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` new digits N×1×28×28: z from the prior N(0, I), shown as the decoder's pixel means."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator, device="cpu").to(device)
        return self.images(z)

    @torch.no_grad()
    def images(self, z: torch.Tensor) -> torch.Tensor:
        """Decoded pixel means (probabilities of ink) for latent codes, as images N×1×28×28."""
        return torch.sigmoid(self.decode(z)).view(-1, 1, 28, 28)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the mean code μ(x) of each image: the model's best guess of x, N×1×28×28."""
        return self.images(self.encode(x)[0])


def flatten_digits(x: torch.Tensor) -> torch.Tensor:
    """Check that ``x`` holds MNIST images (N×1×28×28 or N×784, float) and return them as N×784 rows."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"expected a tensor of images, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"expected float pixel values in [0, 1], got dtype {x.dtype}; divide uint8 images by 255")
    if x.ndim == 4 and tuple(x.shape[1:]) == (1, 28, 28):
        return x.reshape(x.shape[0], PIXELS)
    if x.ndim == 2 and x.shape[1] == PIXELS:
        return x
    raise ValueError(f"expected MNIST images shaped N×1×28×28 or N×784, got {tuple(x.shape)}; "
                     "a single image needs .unsqueeze(0)")


RECIPE_IMAGES_SEEN = 300_000


def recipe_epochs(num_images: int) -> int:
    """Epochs for :func:`fit_vae` to show the model about 300,000 images: 60 epochs of the 5,000 bundled digits,
    75 of the 4,000-digit training split, 5 of full MNIST — enough to converge, stopping before 5k digits overfit."""
    if num_images < 1:
        raise ValueError(f"need at least one training image, got {num_images}")
    return max(1, round(RECIPE_IMAGES_SEEN / num_images))


def fit_vae(model: VAE, images: torch.Tensor, epochs: int, *, batch_size: int = 128, max_lr: float = 6e-3,
            shifted_fraction: float = 0.5, progress: bool = True, description: str = "VAE"):
    """Train ``model`` in place by maximising the ELBO; returns the history (``loss``, ``reconstruction``, ``kl``).

    The recipe: flat images stay on the model's device, minibatches of ``batch_size``, Adam with a one-cycle
    learning rate that warms up to ``max_lr`` and anneals to almost zero (Smith & Topin, 2019), and
    ``shifted_fraction`` of every minibatch moved by up to one pixel, so 5,000 digits overfit later. Losses are
    nats per image: ``loss`` = ``reconstruction`` + ``kl`` = −ELBO.
    """
    if not 0.0 <= shifted_fraction <= 1.0:
        raise ValueError(f"shifted_fraction must be between 0 and 1, got {shifted_fraction!r}")
    device = next(model.parameters()).device
    rows = flatten_digits(images).to(device)
    batches = Minibatches(rows, batch_size=batch_size, drop_last=len(rows) > batch_size)
    optimizer = _adam(model, max_lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=max(1, epochs * len(batches)))
    model.train()

    def step(x):
        shifted = int(shifted_fraction * len(x))
        if shifted:
            x = torch.cat([random_shift(x[:shifted].view(-1, 1, 28, 28), max_shift=1).view(shifted, PIXELS), x[shifted:]])
        logits, mu, logvar = model(x)
        terms = negative_elbo(logits, x, mu, logvar)
        loss = terms["loss"].mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        return {name: value.mean() for name, value in terms.items()}

    history = train(step, batches, epochs, progress=progress, description=description)
    model.eval()
    return history


def _adam(model: nn.Module, lr: float) -> torch.optim.Adam:
    """Adam with the fused single-kernel update where this PyTorch and device offer it (else the default)."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(model.parameters(), lr=lr)


@torch.no_grad()
def evaluate_vae(model: VAE, images: torch.Tensor, *, samples: int = 0, batch_size: int = 500) -> dict[str, float]:
    """Held-out quality in nats per image: ``neg_elbo`` (−ELBO, one z per image, averaged) and, if ``samples`` > 0,
    ``neg_iwae`` (−log p(x) estimated with that many importance samples; lower, i.e. a tighter bound)."""
    was_training = model.training
    model.eval()
    rows = flatten_digits(images).to(next(model.parameters()).device)
    totals = {"neg_elbo": 0.0, "reconstruction": 0.0, "kl": 0.0}
    if samples:
        totals["neg_iwae"] = 0.0
    if samples:
        batch_size = max(1, min(batch_size, 20_000 // samples))   # k copies of a batch stay small enough for the cache
    for x in Minibatches(rows, batch_size=batch_size, shuffle=False):
        logits, mu, logvar = model(x)
        terms = negative_elbo(logits, x, mu, logvar)
        totals["neg_elbo"] += terms["loss"].sum().item()
        totals["reconstruction"] += terms["reconstruction"].sum().item()
        totals["kl"] += terms["kl"].sum().item()
        if samples:
            totals["neg_iwae"] -= importance_weighted_bound(model, x, samples).sum().item()
    model.train(was_training)
    return {name: value / len(rows) for name, value in totals.items()}


def pretrained_vae(latent_dim: int = 20, device: torch.device | str | None = None) -> tuple[VAE, dict]:
    """A VAE trained with :func:`fit_vae` on the training split, trained on first use and then loaded from the cache.

    ``info`` holds the held-out ``neg_elbo`` (nats per image on the test split) and the ``epochs`` trained.
    """
    def fit(model):
        images, _ = load_mnist("train", device=device)
        epochs = budget(full=recipe_epochs(len(images)), quick=2)
        fit_vae(model, images, epochs, description=f"VAE, {latent_dim}-D latent")
        test_images, _ = load_mnist("test", device=device)
        return {"neg_elbo": evaluate_vae(model, test_images)["neg_elbo"], "epochs": epochs}

    return pretrained(f"vae_{latent_dim}d", lambda: VAE(latent_dim), fit, device=device)

