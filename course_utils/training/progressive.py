"""How notebook 09 grows the progressive GAN: the schedule (which stage, and the fade-in α, at each moment of a
wall-clock budget), ``ProgressiveRecipe`` and the batches that follow the schedule.

``ProgressiveRecipe(grow=False)`` trains the same final networks at 28×28 from the start. Both recipes train for a
fixed wall time (``seconds``), so notebook 09 can compare them at equal cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..engine.config import budget
from ..engine.data import to_tanh_range
from ..engine.recipe import Recipe
from ..engine.train import History, for_seconds, train
from ..models.progressive_gan import (
    SIDES,
    ProgressiveGAN,
    fade_in,
)
from .gan import adam_pair, make_gan_step, running_average


def growth_stage(fraction: float, phases: tuple[float, ...]) -> tuple[int, float]:
    """(level, α) at ``fraction`` ∈ [0, 1] of training, for ``phases``: the shares of training spent at 7×7 (stable),
    fading in 14×14, stable at 14×14, fading in 28×28 and stable at 28×28 (five numbers that add up to 1)."""
    if len(phases) != 5 or abs(sum(phases) - 1) > 1e-6 or min(phases) < 0:
        raise ValueError(f"phases are five non-negative shares of training (stable 7, fade 14, stable 14, fade 28, "
                         f"stable 28) that add up to 1, got {phases}")
    start = 0.0
    for phase, share in enumerate(phases):
        if fraction < start + share or phase == 4:
            level = (phase + 1) // 2                                   # phases 0 | 1, 2 | 3, 4 → levels 0 | 1 | 2
            fading = phase % 2 == 1
            alpha = min(1.0, max(0.0, (fraction - start) / share)) if fading else 1.0
            return level, alpha
        start += share
    raise AssertionError("unreachable")


def real_at_stage(pyramid: list[torch.Tensor], index: torch.Tensor, level: int, alpha: float) -> torch.Tensor:
    """The real images ``index`` as D sees them at (level, α): at the level's size, and while fading in, blended with
    the half-size version enlarged, just as G's output is, so D cannot tell real from fake by sharpness alone."""
    real = pyramid[level][index]
    if level > 0 and alpha < 1:
        real = fade_in(F.interpolate(pyramid[level - 1][index], scale_factor=2), real, alpha)
    return real


@dataclass(frozen=True)
class ProgressiveRecipe(Recipe):
    """Notebook 09's progressive GAN: the 7 → 14 → 28 schedule (``grow=True``) or the same networks trained at 28×28
    only (``grow=False``), for ``seconds`` of wall time each (quick mode: 4 s).

    Feature maps (32, 16, 8) at 7, 14 and 28 pixels, one 3×3 convolution per level; the non-saturating loss; Adam
    with β = (0, 0.99) as in the paper and lr 10⁻², ten times the paper's: with equalised weights an Adam step moves
    every layer by about lr relative to its size, and a one-minute budget (~3,000 steps of 32) needs big steps
    (measured: lr 10⁻³ → 8·10⁻³ → 1.2·10⁻² took the grown model's Fréchet distance from ~200 to 49 and 47); samples
    from an average of G's weights with decay 0.99 (0.999, the paper's, averages over more steps than a minute has).
    ``phases`` splits the time: stable at 7, fading in 14, stable at 14, fading in 28, stable at 28.
    """

    name = "progressive GAN"
    capturable = False
    not_captured_because = ("the stage follows the clock: the image size changes twice and the fade-in α at every "
                            "step, so one CUDA graph would freeze the first stage (it would need one per size, with α "
                            "as a tensor)")
    grow: bool = True
    latent_dim: int = 32
    channels: tuple[int, int, int] = (32, 16, 8)
    phases: tuple[float, float, float, float, float] = (0.1, 0.1, 0.1, 0.2, 0.5)
    lr: float = 1e-2
    betas: tuple[float, float] = (0.0, 0.99)
    loss: str = "non-saturating"
    batch_size: int = 32
    average_decay: float = 0.99
    seconds: float = field(default_factory=lambda: budget(full=60.0, quick=4.0))
    train_images: int | None = field(default_factory=lambda: budget(full=None, quick=640))

    def build(self) -> ProgressiveGAN:
        return ProgressiveGAN(self.latent_dim, self.channels)

    def stage_at(self, fraction: float) -> tuple[int, float]:
        """(level, α) after ``fraction`` of the training time: the schedule when growing, else (2, 1.0) throughout."""
        return growth_stage(fraction, self.phases) if self.grow else (2, 1.0)

    def fit(self, gan: ProgressiveGAN, device) -> dict:
        """Train on the training digits for ``seconds``; return the record kept with the weights (see
        :func:`progressive_record`)."""
        images, _ = self.training_data(device)
        return progressive_record(self.train_on(gan, images), self)

    def train_steps(self, gan: ProgressiveGAN, images: torch.Tensor, labels=None, *, on_epoch_end=None,
                    progress: bool = True) -> History:
        """The engine's run for ``seconds`` of wall time, the stage following the clock (:class:`GrowingBatches`);
        the history holds the losses and ``history.kept["batches"]`` the batches (their snapshots)."""
        g_optimizer, d_optimizer = adam_pair(gan.generator, gan.discriminator, device=images.device, g_lr=self.lr,
                                             d_lr=self.lr, betas=self.betas)
        step = make_gan_step(gan.generator, gan.discriminator, g_optimizer, d_optimizer, gan.latent_dim, loss=self.loss)
        batches = GrowingBatches(gan, images, self, progress=progress)
        history = train(step, batches, model=gan, average=running_average(gan, self.average_decay),
                        on_epoch_end=on_epoch_end, progress=False, description=self.name)
        if not history.interrupted:
            batches.keep_snapshots(1.0)
        gan.set_stage(2, 1.0)
        if progress:
            print(f"{self.name} ({'grown' if self.grow else '28×28 only'}): done, "
                  f"{batches.steps * self.batch_size:,} images in {history.seconds:.0f} s", flush=True)
        history.kept["batches"] = batches
        return history


class GrowingBatches:
    """The progressive GAN's real digits for a wall-clock budget (:func:`~course_utils.engine.train.for_seconds`): before
    each step the stage follows the clock, ``recipe.stage_at(fraction of the time gone)``, and a batch is drawn at
    that stage's size. At each phase's end it keeps the generator's images for ``snapshot_count`` fixed latents."""

    def __init__(self, gan: ProgressiveGAN, images: torch.Tensor, recipe: ProgressiveRecipe, *,
                 snapshot_count: int = 16, progress: bool = True):
        real = to_tanh_range(images)
        self.pyramid = [F.avg_pool2d(real, 4), F.avg_pool2d(real, 2), real]          # 7×7, 14×14, 28×28 versions
        self.gan, self.recipe, self.progress = gan, recipe, progress
        self.fixed = gan.sample_latent(snapshot_count, rng=5)
        self.phase_ends = torch.tensor(recipe.phases, dtype=torch.float64).cumsum(0).tolist()
        self.snapshots: list[torch.Tensor] = []
        self.snapshot_stages: list[tuple[int, float]] = []
        self.snapshot_seconds: list[float] = []
        self.steps, self.phase = 0, None

    def __iter__(self):
        return for_seconds(self.recipe.seconds, self.draw)

    def draw(self, fraction: float) -> torch.Tensor:
        """The next batch of real digits at the stage for ``fraction`` of the training time."""
        self.keep_snapshots(fraction)
        level, alpha = self.recipe.stage_at(fraction)
        if self.progress and (level, alpha < 1) != self.phase:
            self.phase = (level, alpha < 1)
            print(f"{self.recipe.name} ({'grown' if self.recipe.grow else '28×28 only'}), "
                  f"{fraction * self.recipe.seconds:4.1f} s of {self.recipe.seconds:g}: "
                  f"{'fading in' if alpha < 1 else 'training at'} {SIDES[level]}×{SIDES[level]} "
                  f"({self.steps * self.recipe.batch_size:,} images so far)", flush=True)
        self.gan.set_stage(level, alpha)
        self.steps += 1
        index = torch.randint(len(self.pyramid[2]), (self.recipe.batch_size,), device=self.pyramid[2].device)
        return real_at_stage(self.pyramid, index, level, alpha)

    def keep_snapshots(self, fraction: float) -> None:
        """Decode the fixed latents once for every phase that has ended by ``fraction`` of the training time (at the
        stage's own size, enlarged to 28×28 with nearest-neighbour so the 7×7 ones look as blocky as they are)."""
        while len(self.snapshots) < len(self.phase_ends) and fraction >= self.phase_ends[len(self.snapshots)] - 1e-9:
            self.snapshots.append(F.interpolate(self.gan.decode(self.fixed).cpu(), size=28, mode="nearest"))
            self.snapshot_stages.append(self.gan.stage)
            self.snapshot_seconds.append(fraction * self.recipe.seconds)


def progressive_record(history: History, recipe: ProgressiveRecipe) -> dict:
    """What the progressive GAN keeps beside its weights: every logging point's time, images seen, level, α and
    losses (``history``); the generator's images for the fixed latents at the end of every phase (``snapshots``,
    28×28) with the stage and the second of each (``snapshot_stages``, ``snapshot_seconds``); the time and steps."""
    batches = history.kept["batches"]
    steps = batches.steps
    stages = [recipe.stage_at(min(1.0, second / recipe.seconds)) for second in history.elapsed]
    return {"history": {"seconds": list(history.elapsed), "images": [s * recipe.batch_size for s in history.steps],
                        "level": [float(level) for level, _ in stages], "alpha": [alpha for _, alpha in stages],
                        "d_loss": list(history.get("d_loss", [])), "g_loss": list(history.get("g_loss", []))},
            "snapshots": torch.stack(batches.snapshots) if batches.snapshots else torch.empty(0, len(batches.fixed), 1, 28, 28),
            "snapshot_stages": torch.tensor([[lv, a] for lv, a in batches.snapshot_stages]).reshape(-1, 2),
            "snapshot_seconds": torch.tensor(batches.snapshot_seconds),
            "train_seconds": history.seconds, "steps": steps, "images_seen": steps * recipe.batch_size,
            "device": str(batches.gan.device)}
