"""Every generative model offers the same four verbs with the same meaning: latent_dim, sample_latent, decode, sample."""

import pytest
import torch

from course_utils.models.conditional import CGANRecipe
from course_utils.models.dcgan import DCGANRecipe
from course_utils.models.flow import FlowRecipe
from course_utils.models.generative import GenerativeModel, Snapshots, evaluating, training_record
from course_utils.models.mlp_gan import MLPGANRecipe
from course_utils.models.sngan import SNGANRecipe
from course_utils.models.vae import VAERecipe
from course_utils.models.wgan_gp import WGANGPRecipe
from course_utils.train import History

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
    history["d_loss"], history.steps, history.seconds = [0.5, 0.4], [20, 40], 1.5
    record = training_record(history, snapshots)
    assert record["history"] == {"d_loss": [0.5, 0.4], "steps": [20, 40]}
    assert record["snapshots"].shape == (2, 3, 1, 28, 28) and record["snapshot_epochs"].tolist() == [1, 3]
    assert record["train_seconds"] == 1.5 and record["device"] == "cpu"
