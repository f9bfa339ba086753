"""Notebook 11's likelihood table: each likelihood model of the course scored on the same held-out digits, the code
behind ``benchmarks/likelihood.py``.

The PixelCNN (``pixelcnn``) and the VAE trained on binarized digits (``vae``) are scored on the held-out digits
binarized once, the PixelCNN by its exact −log p(x), the VAE by its importance-weighted bound; the RealNVP flow
(``realnvp``) on the held-out digits dequantized once, by its exact −log p(y), which bounds the 8-bit digits'
−log P(x) (reported in bits per dimension).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import torch

from ..engine.checkpoints import pretrained
from ..engine.recipe import Recipe
from ..maths.likelihood import binarized_test_digits, bits_per_dim
from ..training.likelihood import PixelCNNRecipe, RealNVPRecipe, discrete_bits_per_dim
from ..training.vae import VAERecipe, evaluate_vae

LIKELIHOOD_MODELS: dict[str, tuple[str, Callable[[], Recipe]]] = {
    "pixelcnn": ("binarized", PixelCNNRecipe),
    "realnvp": ("dequantized", RealNVPRecipe),
    "vae": ("binarized", functools.partial(VAERecipe, binarized=True)),
}
"""Model key → (the data it is scored on, its recipe)."""


@torch.no_grad()
def vae_bound(model, images: torch.Tensor, samples: int, seed: int = 0) -> float:
    """The VAE's importance-weighted bound on −log p(x) with ``samples`` samples, nats per image, repeatable."""
    with torch.random.fork_rng(devices=[model.device] if model.device.type == "cuda" else []):
        torch.manual_seed(seed)
        return evaluate_vae(model, images, samples=samples)["neg_iwae"]


def likelihood_record(name: str, device=None, importance_samples: int = 1000) -> dict:
    """Train (or load) the likelihood model ``name`` and score it: ``model``, ``data`` ("binarized" or
    "dequantized"), ``test_nll_nats``, ``bits_per_dim``, ``train_seconds`` and ``sample_seconds_64`` (the time to
    draw 64 samples)."""
    if name not in LIKELIHOOD_MODELS:
        raise ValueError(f"unknown likelihood model {name!r}; choose from {', '.join(LIKELIHOOD_MODELS)}")
    data, recipe = LIKELIHOOD_MODELS[name]
    model, info = pretrained(recipe(), device)
    if name == "vae":
        nll = vae_bound(model, binarized_test_digits(model.device), importance_samples)
    else:
        nll = float(info["test_nll"])
    started = time.perf_counter()
    model.sample(64, rng=0)
    if model.device.type == "cuda":
        torch.cuda.synchronize(model.device)
    return {"model": name, "data": data, "test_nll_nats": nll,
            "bits_per_dim": float(bits_per_dim(nll) if data == "binarized" else discrete_bits_per_dim(nll)),
            "train_seconds": float(info.get("train_seconds", float("nan"))),
            "sample_seconds_64": time.perf_counter() - started}
