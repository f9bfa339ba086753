"""Issue 29: every recipe of the course trains through the one engine and gets the same protections.

The recipes are found by walking the package (:func:`~course_utils.warmup.course_recipe_classes`), so a new
recipe is covered here without editing this file: Ctrl-C after the first step returns the partial model uncached and
the next call trains again; a learning rate ×1000 stops with advice and caches nothing; images ×255 or stored as uint8
are refused at the entry.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from course_utils.engine.checkpoints import pretrained
from course_utils.engine.config import cache_dir
from course_utils.engine.data import load_mnist
from course_utils.engine.recipe import Recipe
from course_utils.engine.train import TrainingDiverged
from course_utils.training.flow_matching import FlowRecipe
from course_utils.warmup import course_recipe_classes


RECIPES = course_recipe_classes()


@pytest.fixture
def quick(monkeypatch):
    """Quick mode and the bundled digits, so each recipe's defaults are its small CI sizes."""
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA", "bundled")


def has_fit(recipe: Recipe) -> bool:
    return type(recipe).fit is not Recipe.fit


def digits(recipe: Recipe, count: int = 640):
    """The first ``count`` bundled training digits and, for a recipe that learns from them, their labels."""
    images, labels = load_mnist("train", source="bundled")
    return images[:count], labels[:count]


def interrupt_after_the_first_step():
    """An optimiser hook that presses Ctrl-C right after the first optimiser step of every run (mid-step for a GAN,
    between D's update and G's); returns the hook's handle and a list with one entry per interruption."""
    seen = []

    def hook(optimizer, args, kwargs):
        seen.append(optimizer)
        raise KeyboardInterrupt

    return register_optimizer_step_post_hook(hook), seen


def test_the_registry_holds_every_model_of_the_course():
    names = {cls.__name__ for cls in RECIPES}
    assert {"ClassifierRecipe", "AutoencoderRecipe", "LabelToImageRecipe", "VAERecipe", "MLPGANRecipe", "DCGANRecipe",
            "SNGANRecipe", "CheckpointedDCGANRecipe", "CGANRecipe", "WGANGPRecipe", "SemiSupervisedRecipe",
            "ProgressiveRecipe", "FlowRecipe"} <= names, names


@pytest.mark.parametrize("recipe_class", RECIPES, ids=lambda cls: cls.__name__)
def test_ctrl_c_after_the_first_step_returns_the_partial_model_uncached(recipe_class, quick, capsys):
    recipe = recipe_class()
    handle, seen = interrupt_after_the_first_step()
    try:
        if has_fit(recipe):
            model, info = pretrained(recipe, verbose=False)
            assert info["interrupted"] and isinstance(model, torch.nn.Module)
            assert not list(cache_dir().glob("models/*.pt")), "an interrupted run was cached"
            pretrained(recipe, verbose=False)                  # trains again from the start: the hook fires again
            assert len(seen) == 2 and not list(cache_dir().glob("models/*.pt"))
        else:
            history = recipe.train_on(recipe.build(), *digits(recipe), progress=False)
            assert history.interrupted and len(seen) == 1
    finally:
        handle.remove()
    assert "Interrupted after" in capsys.readouterr().out


def learning_rates(recipe: Recipe) -> dict[str, float]:
    return {f.name: getattr(recipe, f.name) for f in dataclasses.fields(recipe) if f.name.endswith("lr")}


@pytest.mark.parametrize("recipe_class", RECIPES, ids=lambda cls: cls.__name__)
def test_a_learning_rate_1000_times_too_large_stops_with_advice_and_caches_nothing(recipe_class, quick):
    recipe = recipe_class()
    rates = learning_rates(recipe)
    assert rates, f"{recipe_class.__name__} names no learning rate"
    wild = dataclasses.replace(recipe, **{name: 1000 * value for name, value in rates.items()})
    torch.manual_seed(0)
    with pytest.raises(TrainingDiverged, match="smaller learning rate"):
        if has_fit(wild):
            pretrained(wild, verbose=False)
        else:
            wild.train_on(wild.build(), *digits(wild), progress=False)
    cached = {path.stem for path in cache_dir().glob("models/*.pt")}
    assert cached <= {required.key() for required in wild.requires()}, "a diverged run was cached"


@pytest.mark.parametrize("recipe_class", RECIPES, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("spoil, message", [(lambda x: x * 255, r"divide .* by 255"),
                                            (lambda x: (x * 255).to(torch.uint8), "dtype torch.uint8")],
                         ids=["times 255", "uint8"])
def test_images_times_255_or_uint8_are_refused_at_the_entry(recipe_class, spoil, message, quick):
    recipe = recipe_class()
    images, labels = digits(recipe, 64)
    steps = []
    handle = register_optimizer_step_post_hook(lambda *args: steps.append(1))
    try:
        with pytest.raises(ValueError, match=message):
            recipe.train_on(recipe.build(), spoil(images), labels, progress=False)
    finally:
        handle.remove()
    assert not steps, "a step ran before the images were checked"


@pytest.mark.parametrize("recipe", [cls() for cls in RECIPES if cls().uses_labels] + [FlowRecipe(conditional=True)],
                         ids=lambda recipe: type(recipe).__name__)
def test_a_recipe_that_learns_from_labels_refuses_missing_or_bad_labels(recipe, quick):
    images, labels = digits(recipe, 64)
    with pytest.raises(ValueError, match="labels"):
        recipe.train_on(recipe.build(), images, None, progress=False)
    with pytest.raises(ValueError, match=r"class labels must lie in 0 … 9"):
        recipe.train_on(recipe.build(), images, labels + 10, progress=False)
    with pytest.raises(ValueError, match=r"one label per example, a tensor of shape \(64,\)"):
        recipe.train_on(recipe.build(), images, labels[:10], progress=False)


@pytest.mark.parametrize("recipe_class, rates", [
    ("DCGANRecipe", {"g_lr": 10.0, "d_lr": 10.0}), ("CGANRecipe", {"g_lr": 10.0, "d_lr": 10.0}),
    ("ProgressiveRecipe", {"lr": 10.0}), ("FlowRecipe", {"lr": 10.0}),
], ids=lambda value: value if isinstance(value, str) else "")
def test_a_learning_rate_of_10_is_caught_for_the_models_that_used_to_cache_it(recipe_class, rates, quick):
    """The issue's cases: these four trained to all-black images or a worse loss and were cached as finished."""
    recipe = dataclasses.replace(next(cls for cls in RECIPES if cls.__name__ == recipe_class)(), **rates)
    torch.manual_seed(0)
    with pytest.raises(TrainingDiverged, match="smaller learning rate"):
        pretrained(recipe, verbose=False)
    assert not list(cache_dir().glob("models/*.pt"))
