"""The fully-connected MNIST VAE of Kingma & Welling (2014): 784 → 400 → (μ, log σ²) of 20 dims; 20 → 400 → 784.

The encoder outputs a diagonal Gaussian q(z|x); the decoder outputs the logits of independent Bernoulli
distributions p(x|z), one per pixel. ``VAERecipe`` holds the course's fast training recipe (Adam with a one-cycle
learning rate, large on-device minibatches), shared by notebook 03 and ``benchmarks/vae.py``: ``recipe.train_on``
runs it through the course's engine.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import torch
from torch import nn

from ..config import budget
from ..data import PIXELS, Minibatches, check_input_dtype, flatten_digits, load_mnist, random_shift
from ..losses import importance_weighted_bound, negative_elbo, reparameterize
from ..latent import check_latents
from ..recipe import Recipe
from ..train import History, train
from .generative import GenerativeModel, evaluating


class VAE(GenerativeModel):
    """Encoder 784 → ``hidden`` → (μ, log σ²) of ``latent_dim``; decoder ``latent_dim`` → ``hidden`` → 784 logits."""

    def __init__(self, latent_dim: int = 20, hidden: int = 400):
        super().__init__()
        if not isinstance(latent_dim, numbers.Integral) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        self.latent_dim = latent_dim = int(latent_dim)
        self.encoder = nn.Sequential(nn.Linear(PIXELS, hidden), nn.ReLU())
        self.to_mu = nn.Linear(hidden, latent_dim)
        self.to_logvar = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, PIXELS))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters of q(z|x) for images N×1×28×28 (or flat N×784): ``(mu, logvar)``, each N×latent_dim."""
        rows = flatten_digits(x)
        check_input_dtype(rows, self)
        hidden = self.encoder(rows)
        return self.to_mu(hidden), self.to_logvar(hidden)

    def decoder_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of p(x|z), N×784, for latent codes N×latent_dim (what training and the bounds need)."""
        check_latents(z, self.latent_dim)
        check_input_dtype(z, self)
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, draw one reparameterised z, decode: returns ``(logits, mu, logvar)``."""
        mu, logvar = self.encode(x)
        return self.decoder_logits(reparameterize(mu, logvar)), mu, logvar

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """``decode(z)``: the decoder's pixel means (probabilities of ink) for latent codes z ~ N(0, I) (checked by
        ``decode``), as images N×1×28×28."""
        with evaluating(self):
            return torch.sigmoid(self.decoder_logits(z)).view(-1, 1, 28, 28)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the mean code μ(x) of each image: the model's best guess of x, N×1×28×28."""
        return self.decode(self.encode(x)[0])


@dataclass(frozen=True)
class VAERecipe(Recipe):
    """The VAE's size and the course's fast training recipe.

    ``images_seen`` sets the training length in images rather than epochs: 300,000 is 75 epochs of the 4,000
    bundled training digits or 5 of full MNIST — enough to converge, stopping before a few thousand digits overfit.
    """

    name = "VAE"
    latent_dim: int = 20
    hidden: int = 400
    images_seen: int = field(default_factory=lambda: budget(full=300_000, quick=8_000))
    batch_size: int = 128
    max_lr: float = 6e-3
    shifted_fraction: float = 0.5

    def build(self) -> VAE:
        return VAE(self.latent_dim, self.hidden)

    def fit(self, model: VAE, device) -> dict:
        """Train on the training split; ``info`` holds the held-out ``neg_elbo`` (nats per test image), the ``epochs``
        and the training time in seconds."""
        images, _ = self.training_data(device)
        history = self.train_on(model, images, description=f"VAE, {self.latent_dim}-D latent")
        test_images, _ = load_mnist("test", device=device)
        return {"neg_elbo": evaluate_vae(model, test_images)["neg_elbo"], "epochs": self.epochs_for(len(images)),
                "train_seconds": history.seconds}

    def train_steps(self, model: VAE, images: torch.Tensor, labels=None, *, on_epoch_end=None, progress: bool = True,
                    description: str = "VAE") -> History:
        """Train ``model`` in place by maximising the ELBO; returns the history (``loss``, ``reconstruction``, ``kl``).

        Flat images stay on the model's device, minibatches of ``batch_size``, Adam with a one-cycle learning rate
        that warms up to ``max_lr`` and anneals to almost zero (Smith & Topin, 2019), and ``shifted_fraction`` of
        every minibatch moved by up to one pixel, so 5,000 digits overfit later. Losses are nats per image:
        ``loss`` = ``reconstruction`` + ``kl`` = −ELBO.
        """
        rows = flatten_digits(images).to(model.device)
        epochs = self.epochs_for(len(rows))
        batches = Minibatches(rows, batch_size=self.batch_size, drop_last=len(rows) > self.batch_size)
        optimizer = _adam(model, self.max_lr)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.max_lr, total_steps=max(1, epochs * len(batches)))

        def step(x):
            shifted = int(self.shifted_fraction * len(x))
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

        return train(step, batches, epochs, model=model, on_epoch_end=on_epoch_end, progress=progress,
                     description=description)


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
    rows = flatten_digits(images).to(model.device)
    totals = {"neg_elbo": 0.0, "reconstruction": 0.0, "kl": 0.0}
    if samples:
        totals["neg_iwae"] = 0.0
        batch_size = max(1, min(batch_size, 20_000 // samples))   # k copies of a batch stay small enough for the cache
    with evaluating(model):
        for x in Minibatches(rows, batch_size=batch_size, shuffle=False):
            logits, mu, logvar = model(x)
            terms = negative_elbo(logits, x, mu, logvar)
            totals["neg_elbo"] += terms["loss"].sum().item()
            totals["reconstruction"] += terms["reconstruction"].sum().item()
            totals["kl"] += terms["kl"].sum().item()
            if samples:
                totals["neg_iwae"] -= importance_weighted_bound(model, x, samples).sum().item()
    return {name: value / len(rows) for name, value in totals.items()}
