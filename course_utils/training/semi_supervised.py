"""The semi-supervised GAN's training (Salimans et al., 2016; notebook 07): the K+1-class losses, feature matching, the
step, the recipes of the notebook and its supervised baseline, and the recorded label-count curve.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..engine.captured import adam
from ..engine.config import budget
from ..engine.data import load_mnist, random_shift
from ..engine.recipe import Recipe
from ..engine.train import History, train
from ..models.semi_supervised_gan import (
    SemiSupervisedDiscriminator,
    SemiSupervisedGAN,
    SemiSupervisedGenerator,
)
from .classifier import accuracy
from .gan import frozen


def draw_labelled(labels: torch.Tensor, per_class: int, seed: int, num_classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of ``per_class`` examples of every class, drawn with ``seed``, and of all the other examples: the
    labelled set (its labels are kept) and the unlabelled pool (its labels are thrown away). Same seed, same draw."""
    if not isinstance(per_class, numbers.Integral) or isinstance(per_class, bool) or per_class < 1:
        raise ValueError(f"per_class must be a whole number ≥ 1 (labelled examples of each digit), got {per_class!r}")
    counts = torch.bincount(labels.cpu(), minlength=num_classes)
    missing = [k for k in range(num_classes) if counts[k] == 0]
    if missing:
        raise ValueError(f"the labels have no example of class(es) {missing}: a balanced draw needs every class; "
                         "load the whole training split, not a slice of it")
    if per_class > counts.min():
        raise ValueError(f"asked for {per_class} labelled examples per class, but class {int(counts.argmin())} has only "
                         f"{int(counts.min())}: ask for at most {int(counts.min())} per class")
    rng = torch.Generator().manual_seed(seed)
    chosen = [torch.nonzero(labels.cpu() == k).flatten()[torch.randperm(int(counts[k]), generator=rng)[:per_class]]
              for k in range(num_classes)]
    labelled = torch.cat(chosen).sort().values
    unlabelled = torch.ones(len(labels), dtype=torch.bool)
    unlabelled[labelled] = False
    return labelled, torch.nonzero(unlabelled).flatten()


def probability_real(logits: torch.Tensor) -> torch.Tensor:
    """D(x) = Z / (Z + 1) with Z = Σ_k exp(l_k): the K-logit discriminator's probability that x is real (shape N)."""
    return torch.sigmoid(torch.logsumexp(logits, dim=1))


def supervised_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the labelled real digits over the K classes: −E log p(y | x, y < K+1)."""
    return F.cross_entropy(logits, labels)


def unlabelled_loss(real_logits: torch.Tensor) -> torch.Tensor:
    """−E log D(x) over unlabelled real digits: each should be "one of the K classes, whichever", i.e. not fake.
    log D = LSE − softplus(LSE), with LSE = log Z the log-sum-exp of the K logits."""
    lse = torch.logsumexp(real_logits, dim=1)
    return -(lse - F.softplus(lse)).mean()


def generated_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """−E log(1 − D(G(z))) over the generator's samples: each should be "fake". log(1 − D) = −softplus(LSE)."""
    return F.softplus(torch.logsumexp(fake_logits, dim=1)).mean()


def unsupervised_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """−E_real log D(x) − E_fake log(1 − D(G(z))): unlabelled digits are "real", the generator's samples "fake"."""
    return unlabelled_loss(real_logits) + generated_loss(fake_logits)


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """‖E f(x_real) − E f(G(z))‖²: G matches the mean of an intermediate layer of D instead of fooling its output."""
    if real_features.shape[1:] != fake_features.shape[1:]:
        raise ValueError(f"real and fake features must have the same shape per example, got {tuple(real_features.shape)} "
                         f"and {tuple(fake_features.shape)}")
    return (real_features.flatten(1).mean(0) - fake_features.flatten(1).mean(0)).pow(2).sum()


def make_semi_supervised_step(generator: SemiSupervisedGenerator, discriminator: SemiSupervisedDiscriminator,
                              g_optimizer: torch.optim.Optimizer, d_optimizer: torch.optim.Optimizer, *,
                              feature_matching: bool = True, unlabelled_term: bool = True,
                              fake_term: bool = True) -> Callable:
    """Return ``step(labelled, labels, unlabelled)``: D learns from the three terms (cross-entropy on the labelled
    digits, "real" for the unlabelled ones, "fake" for G's samples), then G takes a step of feature matching on fresh
    samples (or, with ``feature_matching=False``, the non-saturating loss −log D(G(z))).

    ``unlabelled_term=False`` drops the unlabelled digits' "real" term and ``fake_term=False`` the fakes (and G's
    step): the ablation of notebook 07; with both off, D is a plain classifier of the labelled digits. The three
    batches go through D as one, so its matrix products run on 3× the rows at once."""
    if fake_term is False and feature_matching is False:
        raise ValueError("feature_matching=False chooses G's loss, but fake_term=False trains no G: leave "
                         "feature_matching at its default, or keep the fakes")

    def step(labelled: torch.Tensor, labels: torch.Tensor, unlabelled: torch.Tensor) -> dict[str, torch.Tensor]:
        parts = {"labelled": labelled}
        if unlabelled_term:
            parts["unlabelled"] = unlabelled
        if fake_term:
            with torch.no_grad():
                parts["fake"] = generator(generator.sample_latent(unlabelled.shape[0], unlabelled.device))
        logits = dict(zip(parts, discriminator(torch.cat(list(parts.values())))[0].split(
            [part.shape[0] for part in parts.values()])))
        d_supervised = supervised_loss(logits["labelled"], labels)
        d_unsupervised = labelled.new_zeros(())
        if unlabelled_term:
            d_unsupervised = d_unsupervised + unlabelled_loss(logits["unlabelled"])
        if fake_term:
            d_unsupervised = d_unsupervised + generated_loss(logits["fake"])
        d_optimizer.zero_grad(set_to_none=True)
        (d_supervised + d_unsupervised).backward()
        d_optimizer.step()
        values = {"d_supervised": d_supervised.detach(), "d_unsupervised": d_unsupervised.detach()}
        if fake_term:
            values.update(generator_step(unlabelled))
        return values

    def generator_step(unlabelled: torch.Tensor) -> dict[str, torch.Tensor]:
        """G's update; it logs the feature-matching gap relative to the size of the real features (the raw loss
        grows with D's features), or the non-saturating loss."""
        count = unlabelled.shape[0]
        with frozen(discriminator):
            fake = generator(generator.sample_latent(count, unlabelled.device))
            logits, features = discriminator(torch.cat([unlabelled, fake]))
            if feature_matching:
                real_mean = features[:count].detach().mean(0)
                g_loss = feature_matching_loss(features[:count].detach(), features[count:])
                logged = g_loss.detach().sqrt() / real_mean.norm()   # the gap relative to the features' size
            else:                                       # −log D(G(z)) = softplus(LSE) − LSE
                lse = torch.logsumexp(logits[count:], dim=1)
                g_loss = logged = (nn.functional.softplus(lse) - lse).mean()
            g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            g_optimizer.step()
        return {"feature_gap" if feature_matching else "g_loss": logged.detach()}

    return step


class LabelledAndUnlabelled:
    """Batches of (labelled digits, their labels, unlabelled digits), ``steps`` of them per epoch. The labelled
    digits are drawn with replacement and randomly shifted by up to ``max_shift`` pixels; the unlabelled ones come
    from a pool walked through in a fresh shuffled order each time it runs out."""

    def __init__(self, labelled: torch.Tensor, labels: torch.Tensor, unlabelled: torch.Tensor, *, batch_size: int,
                 steps: int, max_shift: int):
        if len(unlabelled) < batch_size:
            raise ValueError(f"the unlabelled pool has {len(unlabelled)} digits, fewer than one batch of {batch_size}")
        self.labelled, self.labels, self.unlabelled = labelled, labels, unlabelled
        self.batch_size, self.steps, self.max_shift = batch_size, steps, max_shift
        self.order, self.position = torch.randperm(len(unlabelled), device=unlabelled.device), 0

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            if self.position + self.batch_size > len(self.order):
                self.order, self.position = torch.randperm(len(self.unlabelled), device=self.unlabelled.device), 0
            unlabelled = self.unlabelled[self.order[self.position:self.position + self.batch_size]]
            self.position += self.batch_size
            pick = torch.randint(len(self.labelled), (self.batch_size,), device=self.labelled.device)
            yield random_shift(self.labelled[pick], self.max_shift), self.labels[pick], unlabelled


@dataclass(frozen=True)
class SemiSupervisedRecipe(Recipe):
    """Notebook 07's semi-supervised GAN (or, with terms switched off, its ablations and its supervised baseline).

    ``per_class`` labelled digits of each class are drawn with ``label_seed`` from the training digits; the rest are
    the unlabelled pool (``per_class=None``: every digit is labelled, and also serves as the unlabelled stream). The paper's MNIST setup (Salimans et al., 2016): batches of 100, Adam with lr 3·10⁻³ and
    β₁ = 0.5, the learning rate falling linearly to 0 over the last third of training. The labelled digits are
    randomly shifted by up to ``max_shift`` pixels in every method, the baseline included. An epoch is as many steps
    as batches in the training digits (40 of 100 for the 4,000 bundled ones), whatever the number of labels, so every
    method and label count takes the same number of steps.
    """

    name = "semi-supervised GAN"
    uses_labels = True
    per_class: int | None = 10
    label_seed: int = 0
    unlabelled_term: bool = True
    fake_term: bool = True
    feature_matching: bool = True
    max_shift: int = 2
    lr: float = 3e-3
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 100
    epochs: int = field(default_factory=lambda: budget(full=80, quick=2))
    train_images: int | None = field(default_factory=lambda: budget(full=None, quick=1000))

    def build(self) -> SemiSupervisedGAN:
        return SemiSupervisedGAN()

    @property
    def method(self) -> str:
        """What this recipe trains, in words: its row name in :data:`ABLATION`."""
        terms = {name: getattr(self, name) for name in ("unlabelled_term", "fake_term", "feature_matching")}
        return next((name for name, fields in ABLATION.items() if terms == {**dict.fromkeys(terms, True), **fields}),
                    "custom terms")

    def fit(self, model: SemiSupervisedGAN, device) -> dict:
        """Train on the training digits (labels kept for the drawn ones only); ``info`` holds the test accuracy
        after every epoch, its final and best values, the labelled indices and the training time."""
        images, labels = self.training_data(device)
        test_images, test_labels = load_mnist("test", device=device)
        return fit_semi_supervised(model, images, labels, test_images, test_labels, self)

    def train_steps(self, model: SemiSupervisedGAN, images: torch.Tensor, labels: torch.Tensor, *,
                    on_epoch_end=None, progress: bool = True) -> History:
        """Train ``model`` in place with :func:`make_semi_supervised_step` on the drawn labelled digits and the
        unlabelled pool, the learning rate falling linearly to 0 over the last third of the epochs."""
        labelled, unlabelled = self.split(labels)
        model.to(images.device)
        g_optimizer = adam(model.generator.parameters(), device=images.device, lr=self.lr, betas=self.betas)
        d_optimizer = adam(model.discriminator.parameters(), device=images.device, lr=self.lr, betas=self.betas)
        step = make_semi_supervised_step(model.generator, model.discriminator, g_optimizer, d_optimizer,
                                         feature_matching=self.feature_matching, unlabelled_term=self.unlabelled_term,
                                         fake_term=self.fake_term)
        steps = len(images) // self.batch_size
        batches = LabelledAndUnlabelled(images[labelled], labels[labelled], images[unlabelled],
                                        batch_size=self.batch_size, steps=steps, max_shift=self.max_shift)

        def share_of_lr(step: int) -> float:                  # after each epoch: 1 until the last third, then → 0
            return min(1.0, 3 * ((self.epochs - step // steps) / self.epochs))

        stepped = (g_optimizer, d_optimizer) if self.fake_term else (d_optimizer,)     # G learns only from fakes
        schedules = [torch.optim.lr_scheduler.LambdaLR(optimizer, share_of_lr) for optimizer in stepped]
        return train(step, batches, self.epochs, model=model, schedule=schedules, capture=self.capturable,
                     on_epoch_end=on_epoch_end, progress=progress, description=self.method)

    def split(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The indices of the labelled digits (``per_class`` of each class, drawn with ``label_seed``) and of the
        unlabelled pool; with ``per_class=None`` every digit is labelled and is the unlabelled stream too."""
        if self.per_class is None:
            everything = torch.arange(len(labels), device=labels.device)
            return everything, everything
        return draw_labelled(labels, self.per_class, self.label_seed)


def fit_semi_supervised(model: SemiSupervisedGAN, images: torch.Tensor, labels: torch.Tensor,
                        test_images: torch.Tensor, test_labels: torch.Tensor, recipe: SemiSupervisedRecipe, *,
                        progress: bool = True) -> dict:
    """Train ``model`` in place with the recipe (:meth:`SemiSupervisedRecipe.train_on`), measuring the test accuracy
    after every epoch; return the curve, the final and best accuracies, the labelled indices, and the seconds."""
    curve: list[float] = []

    def measure(epoch: int, history: History) -> None:
        curve.append(accuracy(model, test_images, test_labels))
        model.train()

    history = recipe.train_on(model, images, labels, on_epoch_end=measure, progress=progress)
    return {"test_accuracy": curve[-1] if curve else accuracy(model, test_images, test_labels),
            "best_test_accuracy": max(curve, default=0.0), "accuracy_curve": curve,
            "labelled": recipe.split(labels)[0].tolist(), "train_seconds": history.seconds}


ABLATION = {
    "labelled only": {"unlabelled_term": False, "fake_term": False},
    "+ unlabelled as real": {"fake_term": False},
    "+ fakes (non-saturating G)": {"feature_matching": False},
    "+ feature matching": {},
}
"""Notebook 07's ablation, one term added per row: the recipe fields that switch the later terms off."""


def baseline_recipe(**fields) -> SemiSupervisedRecipe:
    """The supervised baseline: the same network, labelled digits, shifts and steps, with only the labelled term."""
    return SemiSupervisedRecipe(**ABLATION["labelled only"], **fields)


def notebook_recipes(draws: int | None = None) -> dict[tuple[str, int], SemiSupervisedRecipe]:
    """Every model notebook 07 loads, keyed by (row name, label draw): the semi-supervised GAN and the supervised
    baseline on ``draws`` label draws (3 in full mode, 1 in quick mode), and the two middle rows of the ablation
    on draw 0."""
    draws = budget(full=3, quick=1) if draws is None else draws
    recipes = {}
    for draw in range(draws):
        recipes["semi-supervised GAN", draw] = SemiSupervisedRecipe(label_seed=draw)
        recipes["supervised baseline", draw] = baseline_recipe(label_seed=draw)
    for name in ("+ unlabelled as real", "+ fakes (non-saturating G)"):
        recipes[name, 0] = SemiSupervisedRecipe(**ABLATION[name])
    return recipes


RECORDED = Path(__file__).resolve().parents[1] / "recorded" / "semi_supervised_labels.json"
"""The label-count curve measured by ``benchmarks/semi_supervised.py --record`` (too long to train in class)."""


def recorded_results(path: Path = RECORDED) -> list[dict]:
    """The benchmark's recorded records (method, labels, accuracy_mean, accuracy_std, draws, seconds), for the
    label-count curve of notebook 07."""
    if not path.exists():
        raise FileNotFoundError(f"no recorded results at {path}: run benchmarks/semi_supervised.py with --record {path}")
    return json.loads(path.read_text())["records"]
