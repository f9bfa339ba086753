"""Recipes: frozen, plain data, a stable hash that changes with every field, quick-mode budgets, and the model they build."""

import dataclasses
import hashlib
import importlib
import json
import math
import pkgutil
import subprocess
import sys
import typing

import numpy as np
import pytest
import torch

import course_utils
from course_utils.engine.recipe import LIMITS, Limit, Recipe
from course_utils.maths.losses import GAN_LOSSES
from course_utils.models.autoencoder import DigitAutoencoder
from course_utils.models.classifier import DigitClassifier
from course_utils.models.conditional import ConditionalGAN
from course_utils.models.dcgan import DCGAN
from course_utils.models.label_to_image import LabelToImage
from course_utils.models.mlp_gan import MLPGAN
from course_utils.models.vae import VAE
from course_utils.training.autoencoder import AutoencoderRecipe
from course_utils.training.classifier import ClassifierRecipe
from course_utils.training.conditional import CGANRecipe
from course_utils.training.dcgan import DCGANRecipe, SNGANRecipe
from course_utils.training.flow_matching import TIME_SAMPLINGS, FlowRecipe
from course_utils.training.label_to_image import LabelToImageRecipe
from course_utils.training.mlp_gan import MLPGANRecipe
from course_utils.training.progressive import ProgressiveRecipe
from course_utils.training.semi_supervised import SemiSupervisedRecipe
from course_utils.training.vae import VAERecipe
from course_utils.training.wgan import WGANGPRecipe


def _course_recipes() -> list[type[Recipe]]:
    """Every recipe class in the package, found by importing each ``course_utils`` module: a new recipe is covered
    without editing this file."""
    for module in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        importlib.import_module(module.name)
    found, todo = set(), [Recipe]
    while todo:
        for subclass in todo.pop().__subclasses__():
            found.add(subclass)
            todo.append(subclass)
    return sorted((cls for cls in found if cls.__module__.startswith("course_utils.")), key=lambda cls: cls.__qualname__)


RECIPES = _course_recipes()
FIELDS = [(cls, field.name) for cls in RECIPES for field in dataclasses.fields(cls)]


def _ids(recipe_type) -> str:
    return recipe_type.__name__


def _per_field(pairs) -> list:
    """``(recipe class, field name)`` pairs as test parameters named ``Class.field``."""
    return [pytest.param(cls, name, id=f"{cls.__name__}.{name}") for cls, name in pairs]


def _hint(cls, name):
    return typing.get_type_hints(cls)[name]


def _kinds(hint) -> set:
    """The plain types an annotation is made of: ``tuple[float, float] | None`` → {tuple, float, NoneType}."""
    args = [arg for arg in typing.get_args(hint) if arg is not Ellipsis]
    return {typing.get_origin(hint) or hint}.union(*(_kinds(arg) for arg in args))


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


def _another(value, limit: Limit | None):
    """A different value of the same kind, still in range: what a student might change in a recipe."""
    if value is None:
        return 7
    if isinstance(value, bool):
        return not value
    if isinstance(value, tuple):                            # reversed: same length, same elements, same sum
        return value[::-1] if value[::-1] != value else (_another(value[0], limit),) + value[1:]
    if isinstance(value, str):
        others = [choice for choice in (limit.allowed() if limit and limit.choices else ()) if choice != value]
        return others[0] if others else value + "-changed"
    if isinstance(value, float):
        return value / 2 if value else 0.5                  # halved: a decay or a share stays below 1
    return value + 1


@pytest.mark.parametrize("recipe_type", RECIPES, ids=_ids)
def test_changing_any_field_changes_the_key(recipe_type):
    recipe = recipe_type()
    keys = {recipe.key()}
    for field in dataclasses.fields(recipe):
        limit = recipe_type.limits.get(field.name)
        changed = _another(getattr(recipe, field.name), limit)
        try:
            variant = dataclasses.replace(recipe, **{field.name: changed})
        except ValueError:                                  # e.g. an even kernel size: the next value is valid
            variant = dataclasses.replace(recipe, **{field.name: _another(changed, limit)})
        keys.add(variant.key())
    assert len(keys) == len(dataclasses.fields(recipe)) + 1, "every field takes part in the cache key"


def test_the_key_is_the_same_in_a_fresh_process():
    code = "from course_utils.training.dcgan import DCGANRecipe; print(DCGANRecipe().key())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == DCGANRecipe().key() and out.startswith("dcgan-")


def _hash_of(recipe, **extra) -> str:
    cls = type(recipe)
    payload = {"recipe": f"{cls.__module__}.{cls.__qualname__}", **extra, **recipe.fields()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def test_a_new_revision_of_the_training_code_changes_the_key_and_revision_0_keeps_the_old_one():
    @dataclasses.dataclass(frozen=True)
    class Revised(DCGANRecipe):
        revision = 1

    plain, revised = DCGANRecipe(average_decay=0.0), Revised(average_decay=0.0)
    assert plain.key() == f"dcgan-{_hash_of(plain)}", "revision 0 leaves the keys of existing caches as they were"
    assert revised.key() == f"dcgan-{_hash_of(revised, revision=1)}" != f"dcgan-{_hash_of(revised)}", \
        "a revised recipe no longer finds the model its old code cached"


def test_a_recipe_that_averages_its_weights_is_one_revision_on_since_the_average_was_normalised():
    averaged = DCGANRecipe()
    assert averaged.average_decay > 0
    assert averaged.key() == f"dcgan-{_hash_of(averaged, revision=1)}"


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
    assert AutoencoderRecipe(latent_dim=3).build().encoder[-1].out_features == 3
    assert LabelToImageRecipe(hidden=10).build().net[0].out_features == 10
    assert MLPGANRecipe(latent_dim=5).build().generator.latent_dim == 5


# --- every recipe is checked when it is built (issue 29) ---

def test_every_recipe_of_the_course_is_found():
    assert set(BUILDS) | {FlowRecipe, ProgressiveRecipe, SemiSupervisedRecipe} <= set(RECIPES)


@pytest.mark.parametrize("quick", ["0", "1"])
@pytest.mark.parametrize("recipe_type", RECIPES, ids=_ids)
def test_the_default_recipes_pass_their_own_checks(recipe_type, quick, monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", quick)
    recipe = recipe_type()
    assert dataclasses.replace(recipe) == recipe
    if hasattr(recipe_type, "as_in_the_paper"):
        recipe_type.as_in_the_paper()


@pytest.mark.parametrize("recipe_type, name", _per_field(FIELDS))
def test_a_string_in_any_field_is_refused_naming_the_field(recipe_type, name):
    limit = recipe_type.limits.get(name)
    if _kinds(_hint(recipe_type, name)) == {str} and not (limit and limit.choices):
        pytest.skip("any string fits a free-text field")
    bad = "abc"
    with pytest.raises(ValueError, match=rf"^{recipe_type.__name__}\({name}='abc'\) is refused: {name}\b.*Fix: "):
        recipe_type(**{name: bad})
    with pytest.raises(ValueError, match=rf"\({name}='abc'\)"):
        dataclasses.replace(recipe_type(), **{name: bad})


@pytest.mark.parametrize("recipe_type, name", _per_field((cls, name) for cls, name in FIELDS
                                                          if _kinds(_hint(cls, name)) & {int, float}))
def test_nan_in_any_numeric_field_is_refused_naming_the_field(recipe_type, name):
    with pytest.raises(ValueError, match=rf"^{recipe_type.__name__}\({name}=nan\).*{name}"):
        recipe_type(**{name: math.nan})
    default = getattr(recipe_type(), name)
    if isinstance(default, tuple):                          # a NaN inside a tuple of numbers
        with pytest.raises(ValueError, match=rf"{name}\[0\] must be a (finite|whole) number"):
            recipe_type(**{name: (math.nan,) + default[1:]})


COUNTS = [(cls, name) for cls, name in FIELDS if cls.limits.get(name) and cls.limits[name].low == 1]


def test_the_counts_named_in_the_issue_are_counts():
    counts = {name for name, limit in LIMITS.items() if limit.low == 1 and not limit.low_open}
    assert counts >= {"batch_size", "epochs", "images_seen", "train_images", "latent_dim", "width", "hidden",
                      "g_hidden", "d_hidden", "channels", "n_critic", "steps", "per_class", "warmup_steps"}


@pytest.mark.parametrize("recipe_type, name", _per_field(COUNTS))
def test_a_count_of_zero_is_refused(recipe_type, name):
    default = getattr(recipe_type(), name)
    zero = (0,) + default[1:] if isinstance(default, tuple) else 0
    with pytest.raises(ValueError, match=rf"{name}(\[0\])? \(.*\) must be ≥ 1, not 0"):
        recipe_type(**{name: zero})
    recipe_type(**{name: (1,) + default[1:] if isinstance(default, tuple) else 1})


@pytest.mark.parametrize("recipe_type, name", _per_field((cls, name) for cls, name in FIELDS
                                                          if tuple in _kinds(_hint(cls, name))))
def test_a_list_for_a_tuple_field_is_the_same_recipe(recipe_type, name):
    recipe = recipe_type()
    from_list = recipe_type(**{name: list(getattr(recipe, name))})
    assert isinstance(getattr(from_list, name), tuple)
    assert from_list == recipe and from_list.key() == recipe.key() and hash(from_list) == hash(recipe)


@pytest.mark.parametrize("recipe_type, name", _per_field(FIELDS))
def test_every_field_of_a_course_recipe_has_a_range_or_is_a_bool(recipe_type, name):
    kinds = _kinds(_hint(recipe_type, name)) - {type(None)}
    assert kinds == {bool} or name in recipe_type.limits, \
        f"{recipe_type.__name__}.{name} has no row in the range table: add it to LIMITS in course_utils/engine/recipe.py"


def test_the_vocabularies_are_the_ones_the_code_uses():
    from course_utils.models.classifier import DigitClassifier
    from course_utils.models.dcgan import NORMALISATIONS
    from course_utils.models.flow import SOLVERS
    assert LIMITS["loss"].allowed() == tuple(GAN_LOSSES)
    assert LIMITS["normalisation"].allowed() == NORMALISATIONS
    assert LIMITS["time_sampling"].allowed() == TIME_SAMPLINGS
    assert LIMITS["solver"].allowed() == tuple(SOLVERS)
    with torch.no_grad():
        layers = DigitClassifier(width=4, hidden=8).features(torch.rand(1, 1, 28, 28))
    assert LIMITS["feature_layers"].allowed() == tuple(layers)


@pytest.mark.parametrize("seconds", [math.nan, math.inf, -1, 0])
def test_a_progressive_gan_without_a_sensible_time_budget_is_refused(seconds):
    # NaN used to cache an untrained model, -1 never ended
    with pytest.raises(ValueError, match=r"ProgressiveRecipe\(seconds=.*\) is refused: seconds .*Fix: .*seconds="):
        ProgressiveRecipe(seconds=seconds)


def test_betas_as_a_list_or_a_tuple_name_the_same_model():
    as_list, as_tuple = DCGANRecipe(betas=[0, 0.9]), DCGANRecipe(betas=(0, 0.9))
    assert as_list == as_tuple == DCGANRecipe() and as_list.key() == as_tuple.key() == DCGANRecipe().key()
    assert as_list.betas == (0.0, 0.9) and all(type(beta) is float for beta in as_list.betas)


# the course's DCGANRecipe under the same class name, defined in this module
SameNameRecipe = dataclasses.dataclass(frozen=True)(
    type("DCGANRecipe", (DCGANRecipe,), {"__module__": __name__, "__qualname__": "DCGANRecipe"}))


def test_a_recipe_class_of_the_same_name_in_another_module_gets_its_own_cache_file():
    assert SameNameRecipe.__qualname__ == DCGANRecipe.__qualname__ and SameNameRecipe().fields() == DCGANRecipe().fields()
    assert SameNameRecipe().key() != DCGANRecipe().key() and SameNameRecipe().key().startswith("dcgan-")


@pytest.mark.parametrize("value, problem", [(True, "not True"), (2.5, "not the float 2.5"), (2.0, "write 2"),
                                            ("32", "not the str '32'"), (None, "not None"), (-1, "must be ≥ 1")])
def test_a_batch_size_must_be_a_whole_number(value, problem):
    with pytest.raises(ValueError, match=rf"DCGANRecipe\(batch_size={value!r}\).*batch_size.*{problem}.*batch_size=32"):
        DCGANRecipe(batch_size=value)
    with pytest.raises(ValueError, match="batch_size"):
        dataclasses.replace(DCGANRecipe(), batch_size=value)


def test_a_learning_rate_must_be_a_positive_number():
    with pytest.raises(ValueError, match=r"ClassifierRecipe\(lr='abc'\).*lr must be a number"):
        ClassifierRecipe(lr="abc")
    with pytest.raises(ValueError, match="write it without quotes"):
        ClassifierRecipe(lr="1e-3")
    for bad in (0, -1e-3, True, math.inf):
        with pytest.raises(ValueError, match=r"\(lr="):
            ClassifierRecipe(lr=bad)
    assert ClassifierRecipe(lr=1).lr == 1.0 and type(ClassifierRecipe(lr=1).lr) is float
    assert ClassifierRecipe(lr=1).key() == ClassifierRecipe(lr=1.0).key()


def test_numpy_numbers_become_python_numbers():
    recipe = DCGANRecipe(batch_size=np.int64(32), g_lr=np.float64(2e-4), betas=np.array([0.0, 0.9]), seed=np.int32(0))
    assert type(recipe.batch_size) is int and type(recipe.g_lr) is float and type(recipe.seed) is int
    assert recipe == DCGANRecipe() and recipe.key() == DCGANRecipe().key()
    with pytest.raises(ValueError, match="batch_size"):
        DCGANRecipe(batch_size=np.float64(32.0))


@pytest.mark.parametrize("fields, problem", [
    ({"betas": (0.5,)}, r"betas must be a tuple of 2 numbers, not 1 of them"),
    ({"betas": (0.5, 1.0)}, r"betas\[1\] .* must be in \[0, 1\), not 1.0"),
    ({"betas": "0.5, 0.9"}, r"betas must be a tuple of 2 numbers, not the str"),
    ({"average_decay": 1.0}, r"average_decay .* must be in \[0, 1\)"),
    ({"loss": "hinj"}, r"loss .* must be one of .*'hinge'.*, not 'hinj'"),
    ({"normalisation": "layer"}, r"normalisation .* must be one of 'batch', 'spectral', 'none'"),
    ({"train_images": 0}, r"train_images .* must be ≥ 1"),
    ({"train_images": 64.0}, r"train_images must be a whole number \(int\) or None"),
])
def test_dcgan_fields_out_of_range_are_refused(fields, problem):
    with pytest.raises(ValueError, match=problem):
        DCGANRecipe(**fields)
    assert DCGANRecipe(train_images=None).train_images is None


@pytest.mark.parametrize("fields, problem", [
    ({"phases": (0.2, 0.2, 0.2, 0.2, 0.3)}, r"phases .* must add up to 1, but adds up to 1.1"),
    ({"phases": (-0.1, 0.1, 0.2, 0.3, 0.5)}, r"phases\[0\] .* must be ≥ 0"),
    ({"phases": (0.25, 0.25, 0.25, 0.25)}, r"phases must be a tuple of 5 numbers"),
    ({"channels": (32, 16, 0)}, r"channels\[2\] .* must be ≥ 1"),
    ({"grow": 1}, r"grow must be True or False, not the int 1"),
])
def test_progressive_fields_out_of_range_are_refused(fields, problem):
    with pytest.raises(ValueError, match=problem):
        ProgressiveRecipe(**fields)
    assert ProgressiveRecipe(phases=[0.2, 0.2, 0.2, 0.2, 0.2]).phases == (0.2,) * 5


@pytest.mark.parametrize("recipe_type, fields, problem", [
    (FlowRecipe, {"solver": "rk45"}, r"solver .* must be one of 'euler', 'heun'"),
    (FlowRecipe, {"time_sampling": "beta"}, r"time_sampling .* must be one of"),
    (FlowRecipe, {"drop_label": 1.5}, r"drop_label .* must be in \[0, 1\]"),
    (FlowRecipe, {"guidance": -1.0}, r"guidance .* must be ≥ 0"),
    (FlowRecipe, {"warmup_steps": 0}, r"warmup_steps .* must be ≥ 1"),
    (ClassifierRecipe, {"dropout": 1.0}, r"dropout .* must be in \[0, 1\)"),
    (ClassifierRecipe, {"max_shift": -1}, r"max_shift .* must be ≥ 0"),
    (VAERecipe, {"shifted_fraction": 1.5}, r"shifted_fraction .* must be in \[0, 1\]"),
    (VAERecipe, {"max_lr": 0.0}, r"max_lr .* must be > 0"),
    (WGANGPRecipe, {"penalty_weight": 0.0}, r"penalty_weight .* must be > 0"),
    (SemiSupervisedRecipe, {"per_class": 0}, r"per_class .* must be ≥ 1"),
    (SemiSupervisedRecipe, {"label_seed": -1}, r"label_seed .* must be ≥ 0"),
    (AutoencoderRecipe, {"feature_layers": ("conv3",)}, r"feature_layers\[0\] .* must be one of 'conv1', 'conv2'"),
    (AutoencoderRecipe, {"feature_layers": ()}, r"feature_layers .* needs at least 1"),
    (AutoencoderRecipe, {"feature_layers": "conv1"}, r"feature_layers must be a tuple of strings"),
    (MLPGANRecipe, {"g_hidden": (256, 0)}, r"g_hidden\[1\] .* must be ≥ 1"),
])
def test_other_fields_out_of_range_are_refused(recipe_type, fields, problem):
    with pytest.raises(ValueError, match=problem):
        recipe_type(**fields)
    assert SemiSupervisedRecipe(per_class=None).per_class is None and FlowRecipe(solver="heun").solver == "heun"


@dataclasses.dataclass(frozen=True)
class ThermostatRecipe(Recipe):
    """A recipe of this test's own, with a field the range table does not know and one whose range it adds."""

    name = "thermostat"
    limits = {**Recipe.limits, "temperature": Limit("the temperature, in kelvin", low=0, low_open=True)}
    temperature: float = 300.0
    label: str = "room"
    offset: float = 0.0
    sizes: tuple[int, ...] = (1, 2)


def test_a_new_recipe_is_checked_without_code_of_its_own():
    assert ThermostatRecipe(offset=-5).offset == -5.0, "a field without a range is only type-checked"
    for fields, problem in [({"offset": math.nan}, "offset must be a finite number"),
                            ({"offset": "1"}, "offset must be a number"),
                            ({"label": 3}, "label must be a string"),
                            ({"sizes": (1, 2.5)}, r"sizes\[1\] must be a whole number"),
                            ({"temperature": 0}, r"temperature \(the temperature, in kelvin\) must be > 0")]:
        with pytest.raises(ValueError, match=rf"^ThermostatRecipe\(.*{problem}"):
            ThermostatRecipe(**fields)
    assert ThermostatRecipe(sizes=[3]).sizes == (3,)
