"""How notebook 12's VQ-VAE is trained and judged: reconstruction plus the two vector-quantization losses, and unused
codes restarted from the encoder's outputs.

A code that no encoder output is nearest to receives no gradient from the codebook loss, so it never moves and stays
unused for good (a "dead" code), and the model has fewer codes than it was given. ``restart_dead_codes`` moves every
code unused over the last ``restart_every`` steps onto an encoder output of the current batch, where it will be
chosen (a simple form of the resets of Dhariwal et al., 2020, and Williams et al., 2020).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..engine.captured import adam
from ..engine.config import budget
from ..engine.data import Minibatches, load_mnist
from ..engine.recipe import Recipe
from ..engine.train import History, train
from ..models.generative import evaluating
from ..models.vqvae import VQVAE, vq_losses
from .likelihood import cosine_schedule


@torch.no_grad()
def restart_dead_codes(codebook: torch.Tensor, counts: torch.Tensor, z_e: torch.Tensor) -> torch.Tensor:
    """Move every codebook row whose ``counts`` (uses since the last restart) is 0 onto a randomly chosen encoder
    output of the batch ``z_e`` (N×D×H×W), in place; returns how many were restarted (a tensor: no wait for the GPU)."""
    vectors = z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])
    picks = vectors[torch.randint(len(vectors), (len(codebook),), device=vectors.device)]
    dead = counts == 0
    codebook.copy_(torch.where(dead[:, None], picks, codebook))
    return dead.sum()


def code_counts(indices: torch.Tensor, codebook_size: int) -> torch.Tensor:
    """How often each of the ``codebook_size`` codes occurs in ``indices``: ``bincount`` without its wait for the
    GPU (it reads the largest index on the host), so a captured training step can count."""
    flat = indices.flatten()
    return torch.zeros(codebook_size, dtype=torch.long, device=flat.device).scatter_add_(0, flat, torch.ones_like(flat))


def code_statistics(indices: torch.Tensor, codebook_size: int) -> dict[str, torch.Tensor]:
    """``usage`` (the share of the codebook that ``indices`` use) and ``perplexity`` (exp of the entropy of the
    codes' frequencies: K if all K are used equally, 1 if a single code is)."""
    frequencies = code_counts(indices, codebook_size).float() / indices.numel()
    entropy = -(frequencies * frequencies.clamp_min(1e-12).log()).sum()
    return {"usage": (frequencies > 0).float().mean(), "perplexity": entropy.exp()}


@torch.no_grad()
def evaluate_vqvae(model: VQVAE, images: torch.Tensor, batch_size: int = 500) -> dict[str, float]:
    """On held-out digits: the reconstructions' pixel ``mse``, and the codebook's ``usage`` and ``perplexity`` over
    all their codes."""
    squared, codes = 0.0, []
    with evaluating(model):
        for batch in Minibatches(images, batch_size=batch_size, shuffle=False):
            indices = model.codes(batch)
            squared += F.mse_loss(model.decode_codes(indices), batch, reduction="sum").item()
            codes.append(indices)
    statistics = code_statistics(torch.cat(codes), model.codebook_size)
    return {"mse": squared / images[0].numel() / len(images),
            **{name: value.item() for name, value in statistics.items()}}


@dataclass(frozen=True)
class VQVAERecipe(Recipe):
    """Notebook 12's VQ-VAE and its training: binary cross-entropy of the reconstruction per pixel, the codebook loss
    and ``commitment`` × the commitment loss, Adam with a warm-up and a cosine decay, and (``restart_dead``) unused
    codes restarted every ``restart_every`` steps."""

    name = "VQ-VAE"
    codebook_size: int = 64
    code_dim: int = 8
    width: int = 32
    commitment: float = 0.25
    restart_dead: bool = True
    restart_every: int = field(default_factory=lambda: budget(full=50, quick=5))
    batch_size: int = 64
    images_seen: int = field(default_factory=lambda: budget(full=120_000, quick=1_280))
    train_images: int | None = field(default_factory=lambda: budget(full=None, quick=640))
    lr: float = 2e-3
    warmup_steps: int = 50

    def build(self) -> VQVAE:
        return VQVAE(self.codebook_size, self.code_dim, self.width)

    def fit(self, model: VQVAE, device) -> dict:
        """Train on the training digits; ``info`` holds the curves, the training time and :func:`evaluate_vqvae` of the
        held-out digits."""
        images, _ = self.training_data(device)
        history = self.train_on(model, images)
        test_images, _ = load_mnist("test", device=device)
        return {"history": {**{name: list(values) for name, values in history.items()}, "steps": list(history.steps)},
                "train_seconds": history.seconds, **evaluate_vqvae(model, test_images)}

    def train_steps(self, model: VQVAE, images: torch.Tensor, labels=None, *, on_epoch_end=None,
                    progress: bool = True) -> History:
        """Minimise reconstruction + codebook + ``commitment`` × commitment loss; returns the history (the three
        losses, and the batch's code ``usage`` and ``perplexity``, and ``restarted``: codes moved per restart)."""
        data = images.to(model.device)
        batches = Minibatches(data, batch_size=self.batch_size, drop_last=len(data) > self.batch_size)
        epochs = self.epochs_for(len(data))
        optimizer = adam(model.parameters(), device=model.device, lr=self.lr)
        schedule = cosine_schedule(optimizer, max(1, epochs * len(batches)), self.warmup_steps)
        counts = torch.zeros(self.codebook_size, dtype=torch.long, device=model.device)
        latest: dict[str, torch.Tensor] = {}

        def step(x):
            out = model(x)
            reconstruction = F.binary_cross_entropy_with_logits(out["logits"], x)
            codebook, commit = vq_losses(out["z_e"], out["z_q"])
            loss = reconstruction + codebook + self.commitment * commit
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            counts.add_(code_counts(out["indices"], self.codebook_size))
            latest["z_e"] = out["z_e"]              # a captured step refills this same tensor at every replay
            return {"reconstruction": reconstruction, "codebook": codebook, "commitment": commit,
                    **code_statistics(out["indices"], self.codebook_size)}

        def restart(step_number: int) -> dict[str, torch.Tensor] | None:
            """Every ``restart_every`` steps, outside the step (how many codes are dead differs every time)."""
            if not self.restart_dead or step_number % self.restart_every:
                return None
            restarted = restart_dead_codes(model.quantizer.codebook, counts, latest["z_e"])
            counts.zero_()
            return {"restarted": restarted}

        return train(step, batches, epochs, model=model, schedule=schedule, after_step=restart,
                     capture=self.capturable, on_epoch_end=on_epoch_end, progress=progress, description=self.name)
