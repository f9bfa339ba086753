"""Notebook 06's trained models as recipes: the cGAN (classes on request, label accuracy), the WGAN-GP (checkpoints of
the critic's estimate, last good weights after a divergence), the SN-GAN, and their rows in the benchmark."""

import dataclasses
import math

import pytest
import torch

from course_utils.engine.data import load_mnist
from course_utils.engine.train import History, LastGoodWeights, TrainingDiverged, every_epoch
from course_utils.evaluation.leaderboard import RECIPES, recipe_for, scores_table
from course_utils.evaluation.metrics import class_probabilities
from course_utils.models.conditional import ConditionalGAN
from course_utils.models.dcgan import DCGAN, Discriminator
from course_utils.models.generative import classes_in_order
from course_utils.training import wgan
from course_utils.training.conditional import CGANRecipe
from course_utils.training.dcgan import DCGANRecipe, SNGANRecipe
from course_utils.training.record import Checkpoints, evenly_spaced_epochs
from course_utils.training.wgan import WGANGPRecipe


def test_each_model_of_notebook_06_has_its_own_key_and_cache_file():
    assert {"cgan": CGANRecipe, "wgan_gp": WGANGPRecipe, "sngan": SNGANRecipe}.items() <= RECIPES.items()
    keys = [recipe().key() for recipe in (CGANRecipe, WGANGPRecipe, SNGANRecipe, DCGANRecipe)]
    assert len(set(keys)) == 4 and [key.split("-")[0] for key in keys] == ["cgan", "wgan_gp", "sn_gan", "dcgan"]


def test_the_sngan_is_the_dcgan_recipe_sampling_from_g_itself_for_a_shorter_time():
    sngan, dcgan = SNGANRecipe(), DCGANRecipe()
    changed = {field.name for field in dataclasses.fields(sngan) if getattr(sngan, field.name) != getattr(dcgan, field.name)}
    assert changed == {"average_decay", "images_seen"} and sngan.average_decay == 0
    assert sngan.images_seen < dcgan.images_seen and sngan.normalisation == "spectral" and sngan.loss == "hinge"


def test_the_wgan_gp_critic_has_no_normalisation():
    critic = WGANGPRecipe(width=8).build().discriminator
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in critic.modules())
    assert not any(name.startswith("net.0.parametrizations") for name, _ in critic.named_parameters())
    with pytest.raises(ValueError, match=r"one of \('batch', 'spectral', 'none'\)"):
        Discriminator(normalisation="layer")


# --- the cGAN: every class equally often, or the classes asked for ---

def test_classes_in_order_spread_every_class_evenly():
    assert torch.bincount(classes_in_order(1000)).tolist() == [100] * 10
    assert classes_in_order(1000).diff().min() >= 0, "in class order"
    assert classes_in_order(5).tolist() == [0, 2, 4, 6, 8] and classes_in_order(12).bincount().max() == 2


def test_the_cgan_draws_the_classes_asked_for():
    torch.manual_seed(0)
    gan = CGANRecipe(width=8).build()
    with torch.no_grad():                            # a class-dependent γ, β, so different classes draw differently
        for norm in (gan.average_generator.norm1, gan.average_generator.norm2):
            norm.scale_shift.weight.normal_()
    z = gan.sample_latent(10, rng=1)
    by_class = gan.decode(z[:1].expand(10, -1), torch.arange(10))
    assert by_class.shape == (10, 1, 28, 28) and len({image.sum().item() for image in by_class}) == 10
    assert torch.equal(gan.sample(10, rng=1), gan.decode(z, classes_in_order(10)))
    chosen = torch.full((10,), 7)
    assert torch.equal(gan.sample(10, rng=1, labels=chosen), gan.decode(z, chosen))
    alone, in_a_batch = gan.decode(z[3:4], torch.tensor([3])), gan.decode(z, torch.arange(10))[3:4]
    assert torch.allclose(alone, in_a_batch, atol=1e-5), "eval mode: an image does not depend on its batch"


@pytest.mark.parametrize("labels, message", [
    (torch.tensor([3, 10]), r"class labels must lie in 0 … 9"),
    (torch.tensor([3.0, 1.0]), r"use labels.long\(\)"),
    (torch.tensor([3, 1, 2]), r"one label per example, a tensor of shape \(2,\)"),
])
def test_the_cgan_refuses_bad_labels_with_the_fix(labels, message):
    gan = CGANRecipe(width=8).build()
    with pytest.raises(ValueError, match=message):
        gan.sample(2, labels=labels)
    images, _ = load_mnist("train", source="bundled")
    with pytest.raises(ValueError, match=message):                       # refused before training starts
        CGANRecipe(width=8, images_seen=2, batch_size=2).train_on(gan, images[:2], labels, progress=False)


def test_a_briefly_trained_cgan_draws_the_digit_it_is_asked_for(bundled_mnist, trained_classifier):
    """A two-class cGAN (zeros as class 0, ones as class 1) trained for 500 steps (about 5 s) draws the digit it is
    asked for 99 % of the time (83 % with seed 1); a generator that ignored its label could not pass 50 %.

    Two classes keep the test short: a cGAN learns to draw digits first and to draw them by class later, after
    about 500 steps with two classes and about 1,500 (15 s) with ten."""
    (images, labels), _ = bundled_mnist
    digits = torch.tensor([0, 1])
    chosen = (labels[:, None] == digits).any(1)
    recipe = CGANRecipe(width=8, images_seen=500 * 32, g_lr=1e-3, d_lr=2e-3, average_decay=0.0)
    torch.manual_seed(0)
    gan = ConditionalGAN(recipe.latent_dim, recipe.width, num_classes=2)
    recipe.train_on(gan, images[chosen], labels[chosen], progress=False)
    asked = classes_in_order(200, num_classes=2)
    drawn = class_probabilities(trained_classifier, gan.sample(200, rng=0, labels=asked)).argmax(1)
    assert (drawn == digits[asked]).double().mean().item() >= 0.75


# --- the WGAN-GP: checkpoints of the estimate, bad settings, last good weights ---

def tiny_wgan(**fields) -> WGANGPRecipe:
    """A WGAN-GP recipe of a few milliseconds: 4 epochs of 64 digits, 2 steps each (a step: 2 critic updates on a
    batch of 16 each, then one G update)."""
    return WGANGPRecipe(**{"width": 4, "batch_size": 16, "images_seen": 4 * 64, "n_critic": 2, **fields})


def test_the_wgan_gp_record_keeps_the_estimate_and_the_generator_at_evenly_spaced_checkpoints(monkeypatch):
    monkeypatch.setenv("COURSE_DATA", "bundled")
    recipe = tiny_wgan(checkpoints=2, train_images=64)
    torch.manual_seed(0)
    gan = recipe.build()
    record = recipe.fit(gan, "cpu")
    checkpoints = record["checkpoints"]
    assert checkpoints["epochs"].tolist() == [2, 4] and checkpoints["steps"].tolist() == [4, 8]
    assert set(checkpoints["values"]) >= {"wasserstein", "penalty", "gradient_norm", "g_loss"}
    assert torch.isfinite(checkpoints["values"]["wasserstein"]).all() and len(record["history"]["wasserstein"]) == 4
    fresh = recipe.build()
    fresh.sampler.load_state_dict(checkpoints["generators"][-1])
    assert fresh.sample(4, rng=0).shape == (4, 1, 28, 28)


def test_checkpoints_average_each_logged_value_over_its_epoch():
    model = DCGAN(latent_dim=2, width=4)
    checkpoints, history = Checkpoints(model, epochs={2}), History()
    for epoch, (losses, steps) in enumerate([([1.0, 3.0], [20, 40]), ([5.0, 7.0, 9.0], [60, 80, 90])]):
        history.setdefault("wasserstein", []).extend(losses)
        history.steps.extend(steps)
        checkpoints(epoch, history)
    record = checkpoints.record()
    assert record["epochs"].tolist() == [2] and record["steps"].tolist() == [90]
    assert record["values"]["wasserstein"].tolist() == [7.0], "the mean over epoch 2's logging points only"
    assert record["generators"][0].keys() == model.average_generator.state_dict().keys()
    assert evenly_spaced_epochs(100, 10) == set(range(10, 101, 10)) and evenly_spaced_epochs(3, 10) == {1, 2, 3}


@pytest.mark.parametrize("fields, message", [
    ({"penalty_weight": 0.0}, r"penalty_weight \(the gradient penalty's weight λ\) must be > 0, not 0.0"),
    ({"penalty_weight": -1.0}, r"penalty_weight .* must be > 0"),
    ({"n_critic": 0}, r"n_critic \(critic steps per generator step\) must be ≥ 1, not 0"),
])
def test_bad_wgan_gp_settings_are_refused_when_the_recipe_is_built(fields, message):
    with pytest.raises(ValueError, match=message):
        tiny_wgan(**fields)


def test_a_critic_that_diverges_stops_training_and_leaves_the_last_good_weights(monkeypatch):
    """A critic poisoned with NaN in epoch 3 stops training with advice; the model holds the weights after epoch 2."""
    make_step, calls = wgan.make_wgan_gp_step, []

    def poisoned_after_four_calls(generator, critic, *args, **kwargs):
        step = make_step(generator, critic, *args, **kwargs)

        def poisoned(real):
            calls.append(1)
            if len(calls) == 5:                                # the first step of epoch 3 (2 steps per epoch)
                with torch.no_grad():
                    next(critic.parameters()).fill_(math.nan)
            return step(real)
        return poisoned

    monkeypatch.setattr(wgan, "make_wgan_gp_step", poisoned_after_four_calls)
    images, _ = load_mnist("train", source="bundled")
    torch.manual_seed(0)
    gan, after_epoch = tiny_wgan().build(), {}

    def keep(epoch, history):
        after_epoch[epoch + 1] = {name: value.clone() for name, value in gan.state_dict().items()}

    with pytest.raises(TrainingDiverged, match=r"(?s)smaller learning rate.*last good weights, those of step 4"):
        tiny_wgan().train_on(gan, images[:64], on_epoch_end=keep, progress=False)
    state = gan.state_dict()
    assert all(torch.equal(state[name], value) for name, value in after_epoch[2].items())
    assert all(value.isfinite().all() for value in state.values() if value.is_floating_point())


def test_last_good_weights_put_back_the_copy_kept_at_the_last_good_logging_point():
    model = torch.nn.Linear(2, 2)
    kept = LastGoodWeights(model)
    with torch.no_grad():
        model.weight.add_(1.0)
    kept.keep(5)
    good = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.fill_(math.inf)
    with pytest.raises(TrainingDiverged, match="last good weights, those of step 5"), kept.restoring():
        raise TrainingDiverged("Training diverged at step 9.")
    assert torch.equal(model.weight, good)


def test_too_few_images_for_one_batch_are_refused_before_training():
    images, _ = load_mnist("train", source="bundled")
    with pytest.raises(ValueError, match=r"got 8 examples, fewer than one step of the WGAN-GP takes: 2 batches of "
                                         r"batch_size=16; use batch_size=4 or less"):
        tiny_wgan().train_on(tiny_wgan().build(), images[:8], progress=False)


def test_every_epoch_calls_each_callback_in_turn():
    seen = []
    every_epoch(lambda e, h: seen.append(("a", e)), None, lambda e, h: seen.append(("b", e)))(3, None)
    assert seen == [("a", 3), ("b", 3)]


# --- the benchmark's table ---

def test_the_table_shows_label_accuracy_only_when_a_row_has_it():
    row = {"inception_score": 9.1, "frechet_distance": 20.0, "confident_share": 0.9, "class_min": 90, "class_max": 110}
    assert "asked-for class" not in scores_table({"dcgan": row})
    table = scores_table({"cgan": {**row, "label_accuracy": 0.985, "train_seconds": 100.0}, "dcgan": row})
    assert "| cgan | 9.10 | 20.0 | 90% | 90 | 110 | 98.5% | 100 |" in table
    assert "| dcgan | 9.10 | 20.0 | 90% | 90 | 110 | — | — |" in table
    assert recipe_for("cgan", width=8).width == 8
