"""Every generative model offers the same four verbs with the same meaning: latent_dim, sample_latent, decode, sample."""

import dataclasses
import functools
import importlib
import math
import pkgutil
import re
import typing
from collections.abc import Callable

import numpy as np
import pytest
import torch

import course_utils
from course_utils.engine.recipe import Recipe
from course_utils.engine.train import History
from course_utils.models.generative import GenerativeModel, evaluating
from course_utils.training.conditional import CGANRecipe
from course_utils.training.dcgan import DCGANRecipe, SNGANRecipe
from course_utils.training.flow_matching import FlowRecipe
from course_utils.training.mlp_gan import MLPGANRecipe
from course_utils.training.record import Snapshots, training_record
from course_utils.training.semi_supervised import SemiSupervisedRecipe
from course_utils.training.vae import VAERecipe
from course_utils.training.wgan import WGANGPRecipe

RECIPES = [VAERecipe(), VAERecipe(latent_dim=2), MLPGANRecipe(), DCGANRecipe(width=8), CGANRecipe(width=8),
           WGANGPRecipe(width=8), SNGANRecipe(width=8), FlowRecipe(width=8, steps=2),
           FlowRecipe(conditional=True, width=8, steps=2)]
VERBS = {"latent_dim", "sample_latent", "decode", "sample"}


@pytest.fixture(params=RECIPES, ids=lambda r: f"{r.name}-{getattr(r, 'latent_dim', '')}{'-cond' if getattr(r, 'conditional', 0) else ''}")
def model(request):
    torch.manual_seed(0)
    return request.param.build(), request.param


def test_the_recipe_builds_a_generative_model_with_its_latent_width(model):
    model, recipe = model
    assert isinstance(model, GenerativeModel) and VERBS <= set(dir(model))
    assert model.latent_dim == recipe.latent_dim


def test_sample_latent_is_the_standard_normal_prior_on_the_models_device(model):
    model, _ = model
    z = model.sample_latent(4000)
    assert z.shape == (4000, model.latent_dim) and z.device == model.device
    assert abs(z.mean().item()) < 0.05 and abs(z.std().item() - 1) < 0.05
    assert torch.equal(model.sample_latent(3, rng=1), model.sample_latent(3, rng=1))


def test_decode_gives_digit_images_in_the_unit_range_without_gradients(model):
    model, _ = model
    images = model.decode(model.sample_latent(6, rng=0))
    assert images.shape == (6, 1, 28, 28) and images.dtype == torch.float32
    assert 0 <= images.min() and images.max() <= 1
    assert not images.requires_grad


def test_decode_runs_in_eval_mode_and_restores_the_training_mode(model):
    model, _ = model
    z = model.sample_latent(8, rng=0)
    model.train()
    batch, one = model.decode(z), model.decode(z[:1])
    assert torch.allclose(batch[:1], one, atol=1e-6), "eval mode: an image does not depend on the rest of its batch"
    assert model.training and all(m.training for m in model.modules()), "decode leaves a training model training"
    model.eval()
    model.decode(z)
    assert not model.training


def test_sample_is_decode_of_sample_latent_and_a_seed_repeats_it(model):
    model, _ = model
    assert torch.equal(model.sample(5, rng=3), model.decode(model.sample_latent(5, rng=3)))
    assert torch.equal(model.sample(5, rng=torch.Generator().manual_seed(3)), model.sample(5, rng=3))
    assert not torch.equal(model.sample(5, rng=3), model.sample(5, rng=4))


def test_decode_explains_a_latent_of_the_wrong_width(model):
    model, _ = model
    with pytest.raises(ValueError, match=f"N×{model.latent_dim}"):
        model.decode(torch.zeros(2, model.latent_dim + 1))


def test_a_model_that_does_not_say_how_to_decode_is_refused():
    class Incomplete(GenerativeModel):
        def __init__(self):
            super().__init__()
            self.latent_dim = 2
            self.layer = torch.nn.Linear(2, 2)

    with pytest.raises(NotImplementedError, match="Incomplete must say how it decodes"):
        Incomplete().sample(1)


def test_evaluating_restores_the_mode_even_after_an_error():
    module = torch.nn.Dropout().train()
    with pytest.raises(RuntimeError), evaluating(module):
        assert not module.training
        raise RuntimeError("boom")
    assert module.training


def test_snapshots_show_the_same_latents_at_the_chosen_epochs_and_the_record_keeps_them():
    model = MLPGANRecipe().build()
    snapshots = Snapshots(model, count=3, seed=5, epochs={1, 3})
    for epoch in range(4):
        snapshots(epoch, None)
    assert snapshots.epochs == [1, 3] and len(snapshots.images) == 2
    assert torch.equal(snapshots.latents, model.sample_latent(3, rng=5))
    history = History()
    history["d_loss"], history.steps, history.elapsed, history.seconds = [0.5, 0.4], [20, 40], [0.7, 1.4], 1.5
    record = training_record(history, snapshots)
    assert record["history"] == {"d_loss": [0.5, 0.4], "steps": [20, 40], "elapsed": [0.7, 1.4]}
    assert record["snapshots"].shape == (2, 3, 1, 28, 28) and record["snapshot_epochs"].tolist() == [1, 3]
    assert record["train_seconds"] == 1.5 and record["device"] == "cpu"


# --- The contract, checked once in GenerativeModel, for every generative model of the course ---
#
# The models are found, not listed: every module of course_utils is imported and every GenerativeModel subclass is
# collected, so a model added later is tested too. Each is built untrained with its recipe's defaults (a recipe whose
# build() says it returns that class, the one in the model's own module first), or with the class's own defaults if
# no recipe builds it. A class that other course models derive from (GAN) is a base, not a model, unless a recipe
# builds it. A recipe with a ``conditional`` field also gives the class-conditional variant.

def _subclasses(cls: type) -> set[type]:
    return {sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))}


def _in_course(cls: type) -> bool:
    return cls.__module__.startswith("course_utils.")


def _course_generative_models() -> dict[str, Callable[[], object]]:
    """Test id → a function that makes the model (or the recipe that builds it)."""
    for module in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        importlib.import_module(module.name)
    recipes: dict[type, list[type[Recipe]]] = {}
    for recipe in sorted(filter(_in_course, _subclasses(Recipe)), key=lambda r: (r.__module__, r.__qualname__)):
        built = typing.get_type_hints(recipe.build).get("return")
        if isinstance(built, type) and issubclass(built, GenerativeModel):
            recipes.setdefault(built, []).append(recipe)
    makers: dict[str, Callable[[], object]] = {}
    for model in sorted(filter(_in_course, _subclasses(GenerativeModel)), key=lambda m: m.__qualname__):
        if model in recipes:
            recipe = min(recipes[model], key=lambda r: r.__module__ != model.__module__)
            makers[model.__name__] = recipe
            if "conditional" in {field.name for field in dataclasses.fields(recipe)}:
                makers[f"{model.__name__}-conditional"] = functools.partial(recipe, conditional=True)
        elif not any(map(_in_course, _subclasses(model))):          # a model no recipe builds: its own defaults
            makers[model.__name__] = model
    return makers


COURSE_MODELS = _course_generative_models()


@pytest.fixture(scope="module", params=list(COURSE_MODELS))
def course_model(request) -> GenerativeModel:
    torch.manual_seed(0)
    made = COURSE_MODELS[request.param]()
    return (made.build() if isinstance(made, Recipe) else made).eval()


def test_every_course_generative_model_is_found_and_built():
    found = {name.split("-")[0] for name in COURSE_MODELS}
    assert {"VAE", "MLPGAN", "DCGAN", "ConditionalGAN", "SemiSupervisedGAN", "ProgressiveGAN", "FlowModel"} <= found
    assert "GAN" not in found and "FlowModel-conditional" in COURSE_MODELS


def test_sample_of_zero_is_an_empty_batch_of_digits_on_the_models_device(course_model):
    empty = course_model.sample(0)
    assert empty.shape == (0, 1, 28, 28) and empty.is_floating_point() and empty.device == course_model.device
    assert course_model.sample(np.int64(0)).shape == (0, 1, 28, 28)
    assert course_model.sample_latent(0).shape == (0, course_model.latent_dim)


@pytest.mark.parametrize("bad", [-1, 2.5, 2.0, True, np.float64(3.0), "3", None], ids=repr)
def test_a_count_that_is_not_an_integer_of_at_least_zero_is_refused_naming_n(course_model, bad):
    expected = rf"^n must be an integer ≥ 0 \(how many to draw\), got {re.escape(repr(bad))}"
    for draw in (course_model.sample, course_model.sample_latent, course_model.default_labels):
        with pytest.raises(ValueError, match=expected):
            draw(bad)


def test_sample_gives_digit_images_in_the_unit_range_and_takes_numpy_counts(course_model):
    images = course_model.sample(3, rng=0)
    assert images.shape == (3, 1, 28, 28) and images.dtype == torch.float32 and images.device == course_model.device
    assert 0 <= images.min() and images.max() <= 1 and not images.requires_grad
    assert torch.equal(course_model.sample(np.int64(3), rng=np.int64(0)), images)


def _latents(model: GenerativeModel, **changes) -> torch.Tensor:
    return model.sample_latent(2, rng=0).to(**changes)


@pytest.mark.parametrize("bad, message", [
    (lambda m: torch.zeros(2, m.latent_dim + 1), r"expected latent vectors shaped N×{d}, got \(2, {d1}\)"),
    (lambda m: torch.zeros(m.latent_dim), r"shaped N×{d}, got \({d},\); one vector needs \.unsqueeze\(0\)"),
    (lambda m: [0.0] * m.latent_dim, r"expected latent vectors shaped N×{d}, got list"),
    (lambda m: _latents(m, dtype=torch.int64), r"got z of dtype int64, but its weights are float32: latent vectors "
                                               r"are floating-point numbers; convert z with z\.float\(\)"),
    (lambda m: _latents(m, dtype=torch.bool), r"got z of dtype bool, but its weights are float32"),
    (lambda m: _latents(m, dtype=torch.float64), r"got z of dtype float64, but its weights are float32: convert z "
                                                 r"with z\.float\(\)"),
    (lambda m: _latents(m).index_fill(1, torch.tensor([0]), math.nan), r"got z with 2 NaN or infinite value\(s\)"),
    (lambda m: _latents(m).index_fill(0, torch.tensor([1]), math.inf), r"got z with {d} NaN or infinite value\(s\)"),
    (lambda m: _latents(m, device="meta"), r"got z on meta, but the model is on cpu: move it with "
                                           r"z\.to\(model\.device\)"),
], ids=["width", "one-vector", "list", "int64", "bool", "float64", "nan", "inf", "device"])
def test_decode_checks_the_width_dtype_device_and_values_of_z_for_every_model(course_model, bad, message):
    d = course_model.latent_dim
    with pytest.raises(ValueError, match=rf"^{type(course_model).__name__}\.decode .*" + message.format(d=d, d1=d + 1)):
        course_model.decode(bad(course_model))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_decode_refuses_latents_on_another_device_and_samples_on_its_own_on_the_gpu(course_model):
    model = course_model.to("cuda")
    try:
        with pytest.raises(ValueError, match=r"got z on cpu, but the model is on cuda:0: move it with z\.to"):
            model.decode(torch.zeros(2, model.latent_dim))
        assert model.sample(0).device == model.device == model.sample(2, rng=0).device
        labels = model.default_labels(4)
        assert labels is None or labels.device == model.device
    finally:
        course_model.to("cpu")


def test_the_number_of_classes_and_the_default_labels_agree_with_what_sample_draws(course_model):
    labels = course_model.default_labels(5)
    if course_model.num_classes is None:
        assert labels is None
        return
    assert course_model.num_classes == 10
    assert labels.shape == (5,) and not labels.is_floating_point() and labels.device == course_model.device
    assert 0 <= labels.min() and labels.max() < course_model.num_classes
    assert torch.equal(course_model.sample(5, rng=0), course_model.sample(5, rng=0, labels=labels)), \
        "sample(n) draws default_labels(n) when it is given no labels"
    assert course_model.default_labels(0).shape == (0,)
    assert torch.bincount(course_model.default_labels(1000), minlength=10).tolist() == [100] * 10, \
        "every class equally often"


def test_sample_latent_draws_from_the_prior_the_model_states(course_model):
    z = course_model.sample_latent(4000, rng=0)
    assert z.shape == (4000, course_model.latent_dim) and z.dtype == torch.float32 and z.device == course_model.device
    if course_model.prior == "uniform":
        assert 0 <= z.min() and z.max() <= 1 and abs(z.mean().item() - 0.5) < 0.01
    else:
        assert course_model.prior == "normal" and abs(z.mean().item()) < 0.05 and abs(z.std().item() - 1) < 0.05


def test_the_semi_supervised_gan_samples_from_the_uniform_prior_its_generator_trains_on():
    model = SemiSupervisedRecipe().build()
    assert model.prior == model.generator.prior == "uniform"
    trained_on = model.generator.sample_latent(4000)                 # what make_semi_supervised_step feeds G
    sampled = model.sample_latent(4000, rng=0)
    for z in (trained_on, sampled):
        assert 0 <= z.min() and z.max() <= 1 and abs(z.mean().item() - 0.5) < 0.01


def test_a_model_that_writes_its_own_decode_or_sample_latent_is_refused_when_it_is_defined():
    with pytest.raises(TypeError, match="defines decode, which GenerativeModel keeps .* write _decode"):
        class OwnDecode(GenerativeModel):
            def decode(self, z):
                return z

    with pytest.raises(TypeError, match="defines sample_latent, which GenerativeModel keeps .* set the class attribute"):
        class OwnPrior(GenerativeModel):
            def sample_latent(self, n, rng=None):
                return torch.rand(n, 2)

    with pytest.raises(TypeError, match="prior must be one of"):
        class UnknownPrior(GenerativeModel):
            prior = "laplace"


def test_a_new_model_gets_the_checks_by_writing_only_its_decode_hook():
    class Tiny(GenerativeModel):
        latent_dim = 3

        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(3, 784)

        def _decode(self, z):
            return torch.sigmoid(self.layer(z)).view(-1, 1, 28, 28)

    model = Tiny()
    assert model.sample(2, rng=0).shape == (2, 1, 28, 28) and model.sample(0).shape == (0, 1, 28, 28)
    assert model.num_classes is None and model.default_labels(4) is None
    with pytest.raises(ValueError, match=r"Tiny\.decode got z with 1 NaN"):
        model.decode(torch.tensor([[0.0, math.nan, 1.0]]))
    with pytest.raises(ValueError, match="n must be an integer ≥ 0"):
        model.sample(-2)


@pytest.mark.parametrize("name, overrides", [("vae", {}), ("cgan", {}), ("diffusion", {"steps": 2}),
                                             ("diffusion_cond", {"steps": 2})])
def test_the_leaderboard_asks_a_model_for_its_default_labels(monkeypatch, name, overrides):
    from course_utils.evaluation import leaderboard

    monkeypatch.setattr(leaderboard, "pretrained",
                        lambda recipe, device, verbose=True: (recipe.build(), {"train_seconds": 1.0}))
    images, labels, info = leaderboard.samples_of(name, samples=20, seed=0, overrides=overrides)
    model = leaderboard.recipe_for(name, **overrides).build()
    assert images.shape == (20, 1, 28, 28) and info == {"train_seconds": 1.0}
    if model.num_classes is None:
        assert labels is None
    else:
        assert torch.equal(labels, model.default_labels(20)) and torch.bincount(labels).tolist() == [2] * 10
