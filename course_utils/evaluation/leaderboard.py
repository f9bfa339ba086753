"""Every generative model of the course, by name, scored the same way: the code behind ``benchmarks/sample_quality.py``.

A model is named by its key (``vae``, ``mlp_gan``, ``dcgan``; notebook 06's ``cgan``, ``wgan_gp``, ``sngan``;
notebook 07's ``semi_supervised``, whose generator was trained to help a classifier, not to draw well; notebook 10's
flow-matching ``diffusion`` and its class-conditional, guided ``diffusion_cond``; notebook 11's ``pixelcnn`` and
``realnvp``, trained for likelihood; notebook 12's ``vqvae_prior`` and ``vqvae_prior_cond``, a PixelCNN over a VQ-VAE's
codes, and ``latent_flow``, flow matching on its latents) and
defined by its recipe's full-mode (or, with ``COURSE_QUICK=1``, quick-mode) values. :func:`score_model` trains it once
(or loads it from the cache), draws samples with a fixed seed, and judges them with
:func:`course_utils.evaluation.metrics.quality_scores` against the held-out test digits, the same numbers for every model; a
class-conditional model draws every class equally often and is also scored on ``label_accuracy``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from pathlib import Path

import torch

from ..engine.checkpoints import pretrained
from ..engine.data import load_mnist
from ..engine.recipe import Recipe
from ..training.classifier import ClassifierRecipe
from ..training.conditional import CGANRecipe
from ..training.dcgan import DCGANRecipe, SNGANRecipe
from ..training.flow_matching import FlowRecipe
from ..training.latent_models import CodePriorRecipe, ConditionalCodePriorRecipe, LatentFlowRecipe
from ..training.likelihood import PixelCNNRecipe, RealNVPRecipe
from ..training.mlp_gan import MLPGANRecipe
from ..training.semi_supervised import SemiSupervisedRecipe
from ..training.vae import VAERecipe
from ..training.wgan import WGANGPRecipe
from .metrics import quality_scores
from .tables import metrics_table

RECIPES: dict[str, Callable[..., Recipe]] = {"vae": VAERecipe, "mlp_gan": MLPGANRecipe, "dcgan": DCGANRecipe,
                                             "cgan": CGANRecipe, "wgan_gp": WGANGPRecipe, "sngan": SNGANRecipe,
                                             "semi_supervised": SemiSupervisedRecipe, "diffusion": FlowRecipe,
                                             "diffusion_cond": functools.partial(FlowRecipe, conditional=True),
                                             "pixelcnn": PixelCNNRecipe, "realnvp": RealNVPRecipe,
                                             "vqvae_prior": CodePriorRecipe,
                                             "vqvae_prior_cond": ConditionalCodePriorRecipe,
                                             "latent_flow": LatentFlowRecipe}

COURSE_MODELS = {"VAE (03)": "vae", "MLP GAN (04)": "mlp_gan", "DCGAN (05)": "dcgan", "conditional GAN (06)": "cgan",
                 "WGAN-GP (06)": "wgan_gp", "SN-GAN (06)": "sngan", "semi-supervised GAN (07)": "semi_supervised",
                 "flow matching (10)": "diffusion", "flow matching, guided (10)": "diffusion_cond",
                 "PixelCNN (11)": "pixelcnn", "RealNVP flow (11)": "realnvp", "VQ-VAE + code prior (12)": "vqvae_prior",
                 "VQ-VAE + code prior, conditional (12)": "vqvae_prior_cond", "latent flow matching (12)": "latent_flow"}
"""Notebook 08's leaderboard, display name → model key: every generative model the course trains (``make warmup``
caches each)."""


def recipe_for(name: str, **overrides) -> Recipe:
    """The recipe of the model called ``name``, with some fields changed (a variant gets its own cache file)."""
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; the course's generative models are {', '.join(RECIPES)}")
    recipe = RECIPES[name]()
    unknown = set(overrides) - {field.name for field in dataclasses.fields(recipe)}
    if unknown:
        raise ValueError(f"{type(recipe).__name__} has no field(s) {sorted(unknown)}; its fields are "
                         f"{[field.name for field in dataclasses.fields(recipe)]}")
    return dataclasses.replace(recipe, **overrides)


class Judge:
    """The course classifier and the held-out test digits that every sample set is compared with."""

    def __init__(self, device: torch.device | str | None = None):
        self.device = device
        self.classifier, self.classifier_info = pretrained(ClassifierRecipe(), device, verbose=False)
        self.reference, _ = load_mnist("test", device=device)

    def __call__(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        return quality_scores(self.classifier, images, self.reference, labels)

    def reference_rows(self, samples: int, seed: int = 0) -> dict[str, dict[str, float]]:
        """Scores of real training digits (what a perfect copy of the training data would get; they are not the
        reference) and of uniform noise, for the same number of images as the models."""
        train_images, _ = load_mnist("train", device=self.device)
        noise = torch.rand(samples, 1, 28, 28, generator=torch.Generator().manual_seed(seed)).to(train_images.device)
        return {"real digits (training split)": self(train_images[:samples]), "uniform noise": self(noise)}


def samples_of(name: str, device=None, samples: int = 1000, seed: int = 0,
               overrides: dict | None = None, verbose: bool = True) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
    """Train (or load) the model called ``name`` and draw ``samples`` images with ``seed``: returns the images, the
    class asked for each (``model.default_labels(samples)``: a class-conditional model is asked for every class
    equally often; None for the others) and the model's training ``info``. ``verbose=False`` leaves out the line
    saying whether the model was loaded or trained."""
    model, info = pretrained(recipe_for(name, **(overrides or {})), device, verbose=verbose)
    labels = model.default_labels(samples)
    if labels is None:
        return model.sample(samples, rng=seed), None, info
    return model.sample(samples, rng=seed, labels=labels), labels, info


def score_model(name: str, judge: Judge, samples: int = 1000, seed: int = 0, overrides: dict | None = None) -> dict:
    """Train (or load) the model called ``name``, draw ``samples`` images with ``seed`` and score them.

    ``overrides`` changes recipe fields (the recipe's own ``seed`` among them: it decides the training run, while
    ``seed`` here decides which latent vectors are drawn). Returns the benchmark's record: ``model``, the numbers of
    ``quality_scores``, ``train_seconds`` (how long the cached model took to train) and ``samples``. A
    class-conditional model's record adds ``label_accuracy``: the share of samples the classifier calls the class
    that was asked for.
    """
    images, labels, info = samples_of(name, judge.device, samples, seed, overrides)
    quality = judge(images, labels)
    return {"model": name, **quality, "train_seconds": float(info.get("train_seconds", float("nan"))), "samples": samples}


SCORE_COLUMNS = ("inception_score", "frechet_distance", "confident_share", "class_min", "class_max")
"""The classifier's numbers every course model is shown with (``quality_scores``)."""


def scores_table(rows: dict[str, dict]) -> str:
    """Scores as a Markdown table, one row per image set: the benchmark's table and the notebooks' alike. If any row
    has a ``label_accuracy`` (a class-conditional model), a column "asked-for class" shows it (— for the others);
    the last column is the training time (— where there is none)."""
    labelled = any("label_accuracy" in row for row in rows.values())
    columns = [*SCORE_COLUMNS, *(["label_accuracy"] if labelled else []), "train_seconds"]
    return metrics_table(rows, columns, required=False)


RECORDED_SCORES = Path(__file__).resolve().parents[1] / "recorded" / "sample_quality.json"
"""Scores of course models measured by ``benchmarks/sample_quality.py --record`` in full mode, for notebooks that
compare with a model they do not train themselves (notebook 11 puts its likelihood models beside the GANs')."""


def recorded_scores(path: Path = RECORDED_SCORES) -> dict[str, dict]:
    """The recorded benchmark rows, display name (from :data:`COURSE_MODELS`) → the record's numbers."""
    if not path.exists():
        raise FileNotFoundError(f"no recorded scores at {path}: run benchmarks/sample_quality.py in full mode with "
                                f"--record {path}")
    names = {key: name for name, key in COURSE_MODELS.items()}
    return {names.get(record["model"], record["model"]): record for record in json.loads(path.read_text())["records"]}
