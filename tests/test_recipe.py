"""Recipes: frozen, plain data, a stable hash that changes with every field, quick-mode budgets, and the model they build."""

import dataclasses
import json
import subprocess
import sys

import pytest

from course_utils.models.autoencoder import AutoencoderRecipe, DigitAutoencoder
from course_utils.models.classifier import ClassifierRecipe, DigitClassifier
from course_utils.models.conditional import CGANRecipe, ConditionalGAN
from course_utils.models.dcgan import DCGAN, DCGANRecipe
from course_utils.models.label_to_image import LabelToImage, LabelToImageRecipe
from course_utils.models.mlp_gan import MLPGAN, MLPGANRecipe
from course_utils.models.sngan import SNGANRecipe
from course_utils.models.vae import VAE, VAERecipe
from course_utils.models.wgan_gp import WGANGPRecipe

BUILDS = {ClassifierRecipe: DigitClassifier, VAERecipe: VAE, MLPGANRecipe: MLPGAN, DCGANRecipe: DCGAN,
          AutoencoderRecipe: DigitAutoencoder, LabelToImageRecipe: LabelToImage, CGANRecipe: ConditionalGAN,
          WGANGPRecipe: DCGAN, SNGANRecipe: DCGAN}


@pytest.mark.parametrize("recipe_type", BUILDS, ids=lambda t: t.__name__)
def test_a_recipe_is_frozen_plain_data_and_builds_its_model(recipe_type):
    recipe = recipe_type()
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.seed = 1
    assert json.loads(json.dumps(recipe.fields())) == json.loads(json.dumps(dataclasses.asdict(recipe)))
    assert isinstance(recipe.build(), BUILDS[recipe_type])


def _another(value):
    """A different value of the same kind: what a student might change in a recipe."""
    if value is None:
        return 7
    if isinstance(value, tuple):
        return value[:-1]
    if isinstance(value, str):
        return value + "-changed"
    if isinstance(value, float):
        return value * 2 if value else 0.5                  # 0.0 doubled would be 0.0 again
    return value + 1


@pytest.mark.parametrize("recipe_type", BUILDS, ids=lambda t: t.__name__)
def test_changing_any_field_changes_the_key(recipe_type):
    recipe = recipe_type()
    keys = {recipe.key()}
    for field in dataclasses.fields(recipe):
        keys.add(dataclasses.replace(recipe, **{field.name: _another(getattr(recipe, field.name))}).key())
    assert len(keys) == len(dataclasses.fields(recipe)) + 1, "every field takes part in the cache key"


def test_the_key_is_the_same_in_a_fresh_process():
    code = "from course_utils.models.dcgan import DCGANRecipe; print(DCGANRecipe().key())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == DCGANRecipe().key() and out.startswith("dcgan-")


def test_two_recipe_types_with_equal_fields_have_different_keys():
    assert LabelToImageRecipe().fields() != AutoencoderRecipe().fields()
    assert ClassifierRecipe(epochs=3).key() != ClassifierRecipe(epochs=3, lr=1e-3).key()


def test_quick_mode_recipes_train_less(monkeypatch):
    full = [ClassifierRecipe(), VAERecipe(), MLPGANRecipe(), DCGANRecipe(), AutoencoderRecipe(), LabelToImageRecipe()]
    monkeypatch.setenv("COURSE_QUICK", "1")
    quick = [type(recipe)() for recipe in full]
    for big, small in zip(full, quick):
        assert big.key() != small.key(), f"{type(big).__name__}: quick and full mode must not share a cache file"
    assert quick[0].epochs == 2 and quick[1].images_seen == 8_000 and quick[3].images_seen == quick[3].train_images == 640
    assert full[3].train_images is None, "full mode trains on every training digit"


def test_recipes_build_models_of_the_sizes_they_name():
    assert DCGANRecipe(latent_dim=16, width=8).build().generator.net[0].weight.shape == (16, 16, 7, 7)
    assert VAERecipe(latent_dim=2, hidden=50).build().to_mu.weight.shape == (2, 50)
    assert ClassifierRecipe(width=8).build().conv1.out_channels == 8
    assert AutoencoderRecipe(latent=3).build().encoder[-1].out_features == 3
    assert LabelToImageRecipe(hidden=10).build().net[0].out_features == 10
    assert MLPGANRecipe(latent_dim=5).build().generator.latent_dim == 5
