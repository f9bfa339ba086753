"""How notebook 12's two generators of VQ-VAE latents are trained: the PixelCNN prior over the code grids
(unconditional or class-conditional) and flow matching on the continuous latents. Both load the trained VQ-VAE with
``pretrained`` (their recipes :meth:`~course_utils.engine.recipe.Recipe.requires` it), keep it frozen inside the model,
and see each minibatch of digits shifted by up to a pixel before it is encoded, so 4,000 digits give many more grids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..engine.captured import adam
from ..engine.checkpoints import pretrained
from ..engine.config import budget
from ..engine.data import Minibatches, load_mnist, random_shift
from ..engine.recipe import Recipe
from ..engine.train import History, RunningAverage, train
from ..models.code_prior import CodePrior
from ..models.generative import evaluating
from ..models.latent_flow import LatentFlow
from .flow_matching import flow_matching_loss
from .likelihood import GATED_LIMITS, cosine_schedule, refuse_even_kernel
from .record import Snapshots, progress_epochs, training_record
from .vqvae import VQVAERecipe


def load_autoencoder(recipe: Recipe, model, device) -> bool:
    """Put the trained VQ-VAE that ``recipe`` requires into ``model.autoencoder``; False if its training was
    interrupted (Ctrl-C), so that the caller stops too and nothing built on a partial autoencoder is cached."""
    autoencoder, info = pretrained(recipe.requires()[0], device, verbose=False)
    model.autoencoder.load_state_dict(autoencoder.state_dict())
    return not info.get("interrupted", False)


@torch.no_grad()
def test_code_nll(model: CodePrior, batch_size: int = 500) -> float:
    """The prior's −log p(c) in nats per held-out digit's code grid (given its label, if conditional)."""
    images, labels = load_mnist("test", device=model.device)
    total = 0.0
    with evaluating(model):
        for x, y in Minibatches(images, labels, batch_size=batch_size, shuffle=False):
            total -= model.log_prob(model.autoencoder.codes(x), y if model.num_classes else None).sum().item()
    return total / len(images)


@dataclass(frozen=True)
class CodePriorRecipe(Recipe):
    """Notebook 12's PixelCNN over the VQ-VAE's 7×7 code grids: maximum likelihood (cross-entropy over the K codes at
    each of the 49 positions), Adam with a warm-up and a cosine decay. ``conditional`` gives it the class, dropped to
    "no label" ``drop_label`` of the time, and draws with classifier-free guidance ``guidance``.

    Calibrated on the bundled digits, two CPU cores, 1,000 unconditional samples scored by the course's judge (score
    ↑, Fréchet distance ↓): 64 channels × 5 layers with 3-wide kernels, 120,000 images, 6.86 / 50.1 (79 s); 5-wide
    kernels 7.19 / 42.5 (132 s); 200,000 images 7.21 / 43.7; a codebook of 32 instead of 64, 7.16 / 40.5; digits
    shifted by up to 2 pixels instead of 1, 6.88 / 63.2; not shifted at all, 7.31 / 42.2, but the held-out NLL
    doubled (207 nats: the prior learns the 4,000 training grids by heart); 96 × 6 with 5-wide kernels, 160,000
    images, 7.62 / 34.2 (334 s). The recipe keeps that network and 136,000 images, to stay under five minutes."""

    name = "code prior"
    limits = GATED_LIMITS
    conditional: bool = False
    channels: int = 96
    layers: int = 6
    kernel_size: int = 5
    max_shift: int = 1
    drop_label: float = 0.1
    guidance: float = 2.0
    batch_size: int = 64
    images_seen: int = field(default_factory=lambda: budget(full=136_000, quick=1_280))
    train_images: int | None = field(default_factory=lambda: budget(full=None, quick=640))
    lr: float = 2e-3
    warmup_steps: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        refuse_even_kernel(self)

    @property
    def uses_labels(self) -> bool:
        """A class-conditional prior learns from the labels; an unconditional one ignores them."""
        return self.conditional

    def requires(self) -> tuple[Recipe, ...]:
        return (VQVAERecipe(),)

    def build(self) -> CodePrior:
        return CodePrior(self.requires()[0].build(), self.channels, self.layers, self.kernel_size,
                         10 if self.conditional else None, self.guidance if self.conditional else 1.0)

    def fit(self, model: CodePrior, device) -> dict:
        """Load the VQ-VAE, train the prior on the training digits' codes; ``info`` holds the curves, the time and the
        held-out ``test_nll`` (nats per code grid)."""
        if not load_autoencoder(self, model, device):
            return {}
        images, labels = self.training_data(device)
        snapshots = Snapshots(model, count=16, epochs=progress_epochs(self.epochs_for(len(images))))
        history = self.train_on(model, images, labels, on_epoch_end=snapshots)
        return {**training_record(history, snapshots), "test_nll": test_code_nll(model)}

    def train_steps(self, model: CodePrior, images: torch.Tensor, labels: torch.Tensor | None, *, on_epoch_end=None,
                    progress: bool = True) -> History:
        """Minimise −log p(c) in nats per code grid, the grids encoded afresh from each minibatch shifted by up to
        ``max_shift`` pixels; returns the history (``nll``)."""
        data = images.to(model.device)
        tensors = (data, labels.to(model.device)) if self.conditional else (data,)
        batches = Minibatches(*tensors, batch_size=self.batch_size, drop_last=len(data) > self.batch_size)
        epochs = self.epochs_for(len(data))
        optimizer = adam(model.network.parameters(), device=model.device, lr=self.lr)
        schedule = cosine_schedule(optimizer, max(1, epochs * len(batches)), self.warmup_steps)

        def step(x, y=None):
            codes = model.autoencoder.codes(random_shift(x, self.max_shift) if self.max_shift else x)    # N×7×7
            if y is not None:                     # "no label" (class 10) for drop_label of them: for guidance
                y = torch.where(torch.rand(len(y), device=y.device) < self.drop_label, torch.full_like(y, 10), y)
            logits = model.network(codes, y)                                                          # N×K×7×7
            nll = F.cross_entropy(logits, codes, reduction="sum") / len(x)                            # nats per grid
            optimizer.zero_grad(set_to_none=True)
            nll.backward()
            optimizer.step()
            return {"nll": nll}

        return train(step, batches, epochs, model=model, schedule=schedule, capture=self.capturable,
                     on_epoch_end=on_epoch_end, progress=progress,
                     description=f"{self.name}{', class-conditional' if self.conditional else ''}")


@dataclass(frozen=True)
class ConditionalCodePriorRecipe(CodePriorRecipe):
    """Notebook 12's class-conditional code prior: the class known, a smaller network suffices.

    Calibrated as :class:`CodePriorRecipe` (1,000 samples, 100 of each class): 64 × 5 with 5-wide kernels, 120,000
    images (105 s), the class given to the first layer only, 92 % of the samples show the asked-for digit; given to
    every layer, 93 %; trained with 10 % of the labels dropped and drawn with guidance s: s = 1, 93.0 % (Fréchet
    distance 16.2); 1.5, 97.9 % (17.4); 2, 99.2 % (22.9); 3, 99.5 % (42.8)."""

    conditional: bool = True
    channels: int = 64
    layers: int = 5
    images_seen: int = field(default_factory=lambda: budget(full=120_000, quick=1_280))


@dataclass(frozen=True)
class LatentFlowRecipe(Recipe):
    """Notebook 12's flow matching on the VQ-VAE's latents: notebook 10's loss (logit-normal times) on the encoder's
    D×7×7 outputs, each channel scaled to unit spread, Adam with a warm-up and a cosine decay, a running average that
    samples.

    Calibrated on the bundled digits, two CPU cores, 1,000 samples scored by the course's judge (score ↑, Fréchet
    distance ↓): 4 residual blocks of 64 channels, one spread for all channels, no attention, 120,000 images, 5.44 /
    108.6 (116 s); a spread per channel and self-attention halfway, 5.83 / 96.4 (73 s) — 20 Euler steps, 60, or 30
    Heun steps change it by 4 at most; 6 blocks, attention halfway, 240,000 images, 6.60 / 58.7 (160 s); attention
    after every second block, 360,000 images, 7.04 / 46.8 (299 s), and 240,000 at learning rate 4·10⁻³, 6.80 /
    56.3. Still improving with every image; the recipe stops at 240,000 to keep notebook 12's first run near ten
    minutes (its timed run: 6.74 / 54.8 after 239 s)."""

    name = "latent flow matching"
    width: int = 64
    blocks: int = 6
    max_shift: int = 1
    batch_size: int = 64
    images_seen: int = field(default_factory=lambda: budget(full=240_000, quick=1_280))
    train_images: int | None = field(default_factory=lambda: budget(full=None, quick=640))
    lr: float = 2e-3
    warmup_steps: int = 100
    average_decay: float = 0.999
    time_sampling: str = "logit_normal"
    steps: int = 20
    solver: str = "euler"

    def requires(self) -> tuple[Recipe, ...]:
        return (VQVAERecipe(),)

    def build(self) -> LatentFlow:
        return LatentFlow(self.requires()[0].build(), self.width, self.blocks, self.steps, self.solver)

    def fit(self, model: LatentFlow, device) -> dict:
        """Load the VQ-VAE, train the flow on the training digits' latents; ``info`` holds the curves, the time and
        snapshots."""
        if not load_autoencoder(self, model, device):
            return {}
        images, _ = self.training_data(device)
        snapshots = Snapshots(model, count=16, epochs=progress_epochs(self.epochs_for(len(images))))
        history = self.train_on(model, images, on_epoch_end=snapshots)
        return training_record(history, snapshots)

    def train_steps(self, model: LatentFlow, images: torch.Tensor, labels=None, *, on_epoch_end=None,
                    progress: bool = True) -> History:
        """Set the latents' ``centre`` and ``spread`` from the training digits, then train ``model.network`` with flow
        matching on the latents of each minibatch (shifted by up to ``max_shift`` pixels); returns the history
        (``loss``)."""
        data = images.to(model.device)
        with torch.no_grad():
            latents = torch.cat([model.autoencoder.encode(batch) for batch in Minibatches(data, batch_size=500, shuffle=False)])
            model.centre.copy_(latents.mean(dim=(0, 2, 3), keepdim=True))
            model.spread.copy_(latents.std(dim=(0, 2, 3), keepdim=True))
        batches = Minibatches(data, batch_size=self.batch_size, drop_last=len(data) > self.batch_size)
        epochs = self.epochs_for(len(data))
        optimizer = adam(model.network.parameters(), device=model.device, lr=self.lr)
        schedule = cosine_schedule(optimizer, max(1, epochs * len(batches)), self.warmup_steps)

        def step(x):
            z = model.latents(random_shift(x, self.max_shift) if self.max_shift else x)       # N×D×7×7
            loss = flow_matching_loss(model.network, z, time_sampling=self.time_sampling)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return {"loss": loss}

        return train(step, batches, epochs, model=model, average=RunningAverage(model.network, model.average,
                                                                                 self.average_decay),
                     schedule=schedule, capture=self.capturable, on_epoch_end=on_epoch_end, progress=progress,
                     description=self.name)
