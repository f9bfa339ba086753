"""Train and cache every model the notebooks load, so a live demo starts in seconds: ``python -m course_utils.warmup``.

Each model is defined by its recipe and goes through :func:`course_utils.engine.checkpoints.pretrained`, so this trains only
what is not cached yet. Quick-mode recipes differ from full-mode ones (fewer epochs), so run it in the mode you will
present in; a test checks that these are exactly the recipes the notebooks ask for.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from pathlib import Path

from .engine.checkpoints import pretrained
from .engine.config import cache_dir, quick_mode
from .engine.device import describe_device, get_device
from .engine.recipe import Recipe
from .evaluation.leaderboard import COURSE_MODELS, recipe_for
from .training.classifier import ClassifierRecipe
from .training.conditional import CGANRecipe
from .training.dcgan import CheckpointedDCGANRecipe, DCGANRecipe, SNGANRecipe
from .training.flow_matching import FlowRecipe
from .training.latent_models import CodePriorRecipe, ConditionalCodePriorRecipe, LatentFlowRecipe
from .training.likelihood import PixelCNNRecipe, RealNVPRecipe
from .training.mlp_gan import MLPGANRecipe
from .training.progressive import ProgressiveRecipe
from .training.semi_supervised import notebook_recipes as semi_supervised_recipes
from .training.vae import VAERecipe
from .training.vqvae import VQVAERecipe
from .training.wgan import WGANGPRecipe


def course_recipe_classes() -> list[type[Recipe]]:
    """Every concrete recipe class defined in ``course_utils`` (one that says how to build its model), found by
    importing every module of the package: the engine-contract tests and ``benchmarks/captured_steps.py`` cover a
    new recipe without being edited."""
    for module in pkgutil.walk_packages([str(Path(__file__).parent)], "course_utils."):
        importlib.import_module(module.name)
    found, todo = [], [Recipe]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("course_utils.") and cls.build is not Recipe.build and cls not in found:
            found.append(cls)
    return sorted(found, key=lambda cls: cls.__qualname__)


def notebook_recipes() -> dict[str, Recipe]:
    """The recipe of every model a notebook loads with ``pretrained`` (or, in notebook 08's leaderboard, with
    ``samples_of``), in the current (quick or full) mode, each once."""
    recipes = {
        "digit classifier (notebooks 02, 05)": ClassifierRecipe(),
        "2-D VAE (notebook 03)": VAERecipe(latent_dim=2),
        "MLP GAN on MNIST (notebook 04)": MLPGANRecipe(),
        "DCGAN (notebook 05)": DCGANRecipe(),
        "DCGAN with the paper's recipe (notebook 05)": DCGANRecipe.as_in_the_paper(),
        "conditional GAN (notebook 06)": CGANRecipe(),
        "WGAN-GP (notebook 06)": WGANGPRecipe(),
        "the paper's DCGAN with checkpoints (notebook 06)": CheckpointedDCGANRecipe.as_in_the_paper(),
        "SN-GAN (notebook 06)": SNGANRecipe(),
        **{f"{name}, label draw {draw} (notebook 07)": recipe for (name, draw), recipe in semi_supervised_recipes().items()},
        "progressive GAN, grown (notebook 09)": ProgressiveRecipe(grow=True),
        "progressive GAN, at 28×28 from the start (notebook 09)": ProgressiveRecipe(grow=False),
        "class-conditional flow-matching U-Net (notebook 10)": FlowRecipe(conditional=True),
        "PixelCNN (notebook 11)": PixelCNNRecipe(),
        "RealNVP flow (notebook 11)": RealNVPRecipe(),
        "VAE on binarized digits (notebook 11)": VAERecipe(binarized=True),
        "VQ-VAE (notebook 12)": VQVAERecipe(),
        "VQ-VAE without restarts of unused codes (notebook 12)": VQVAERecipe(restart_dead=False),
        "PixelCNN prior over the codes (notebook 12)": CodePriorRecipe(),
        "class-conditional PixelCNN prior over the codes (notebook 12)": ConditionalCodePriorRecipe(),
        "latent flow matching (notebook 12)": LatentFlowRecipe(),
    }
    warmed = {recipe.key() for recipe in recipes.values()}
    for name, key in COURSE_MODELS.items():
        if recipe_for(key).key() not in warmed:
            recipes[f"{name.split(' (')[0]} (notebook 08's leaderboard)"] = recipe_for(key)
    return recipes


def warm_all(device=None) -> dict[str, float]:
    """Load or train each model of :func:`notebook_recipes`; returns the seconds each took."""
    device = device or get_device()
    seconds = {}
    for name, recipe in notebook_recipes().items():
        start = time.perf_counter()
        pretrained(recipe, device)
        seconds[name] = time.perf_counter() - start
        print(f"{name}: ready in {seconds[name]:.1f} s", flush=True)
    return seconds


def main() -> None:
    print(f"Warming the model cache in {cache_dir()} ({'quick' if quick_mode() else 'full'} mode, "
          f"{describe_device()}).")
    seconds = warm_all()
    print(f"All {len(seconds)} models are cached ({sum(seconds.values()):.0f} s); the notebooks now load them in seconds.")


if __name__ == "__main__":
    main()
