"""How notebook 03's VAE is trained (``VAERecipe``: Adam with a one-cycle learning rate, large on-device minibatches),
shared by the notebook and ``benchmarks/vae.py``, and the bounds it is evaluated with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..engine.captured import adam, graphs_enabled
from ..engine.config import budget
from ..engine.data import PIXELS, Minibatches, flatten_digits, load_mnist, random_shift
from ..engine.recipe import Recipe
from ..engine.train import History, train
from ..maths.likelihood import binarized_test_digits
from ..maths.losses import importance_weighted_bound, negative_elbo
from ..models.generative import evaluating
from ..models.vae import VAE


@dataclass(frozen=True)
class VAERecipe(Recipe):
    """The VAE's size and the course's fast training recipe.

    ``images_seen`` sets the training length in images rather than epochs: 300,000 is 75 epochs of the 4,000
    bundled training digits or 5 of full MNIST — enough to converge, stopping before a few thousand digits overfit.
    ``binarized`` trains on binarized digits instead (each minibatch binarized afresh) and scores on the held-out
    digits binarized once, so its bounds compare with notebook 11's exact likelihoods of the same 0/1 images.
    """

    name = "VAE"
    capturable = False
    not_captured_because = ("its one-cycle schedule also cycles Adam's β₁ at every step (OneCycleLR's cycle_momentum), "
                            "a Python number a CUDA graph would freeze at its first value; without the cycling it "
                            "would train other VAEs than the ones notebooks 03 and 11 measure")
    latent_dim: int = 20
    hidden: int = 400
    images_seen: int = field(default_factory=lambda: budget(full=300_000, quick=8_000))
    batch_size: int = 128
    max_lr: float = 6e-3
    shifted_fraction: float = 0.5
    binarized: bool = False

    def build(self) -> VAE:
        return VAE(self.latent_dim, self.hidden)

    def fit(self, model: VAE, device) -> dict:
        """Train on the training split; ``info`` holds the held-out ``neg_elbo`` (nats per test image), the ``epochs``
        and the training time in seconds."""
        images, _ = self.training_data(device)
        history = self.train_on(model, images, description=f"VAE, {self.latent_dim}-D latent")
        test_images = binarized_test_digits(device) if self.binarized else load_mnist("test", device=device)[0]
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
        optimizer = _adam(model, self.max_lr, rows.device)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.max_lr, total_steps=max(1, epochs * len(batches)))

        def step(x):
            if self.binarized:
                x = torch.bernoulli(x)                      # a fresh binarization of every minibatch
            shifted = int(self.shifted_fraction * len(x))
            if shifted:
                x = torch.cat([random_shift(x[:shifted].view(-1, 1, 28, 28), max_shift=1).view(shifted, PIXELS), x[shifted:]])
            logits, mu, logvar = model(x)
            terms = negative_elbo(logits, x, mu, logvar)
            loss = terms["loss"].mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return {name: value.mean() for name, value in terms.items()}

        return train(step, batches, epochs, model=model, schedule=schedule, capture=self.capturable,
                     on_epoch_end=on_epoch_end, progress=progress, description=description)


def _adam(model: nn.Module, lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam ready for a captured step on CUDA (:func:`~course_utils.engine.captured.adam`); elsewhere with the fused
    single-kernel update where this PyTorch offers it (else the default)."""
    if graphs_enabled(device):
        return adam(model.parameters(), device=device, lr=lr)
    try:                                      # on the CPU nothing else is needed for capture: there is none
        return adam(model.parameters(), device=device, lr=lr, options={"fused": True})
    except (RuntimeError, TypeError, ValueError):
        return adam(model.parameters(), device=device, lr=lr)


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
