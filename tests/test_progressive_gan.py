"""Notebook 09's progressive GAN: the growth schedule, the fade-in inside both networks, and a short training run."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from course_utils.models.progressive_gan import ProgressiveGAN
from course_utils.training.progressive import ProgressiveRecipe, growth_stage, progressive_record, real_at_stage

PHASES = (0.1, 0.1, 0.1, 0.2, 0.5)


@pytest.mark.parametrize("fraction, stage", [(0.0, (0, 1.0)), (0.05, (0, 1.0)), (0.15, (1, 0.5)), (0.25, (1, 1.0)),
                                             (0.4, (2, 0.5)), (0.5, (2, 1.0)), (0.99, (2, 1.0)), (1.0, (2, 1.0))])
def test_growth_stage_follows_the_five_phases(fraction, stage):
    level, alpha = growth_stage(fraction, PHASES)
    assert level == stage[0] and alpha == pytest.approx(stage[1])


def test_growth_stage_refuses_shares_that_do_not_add_up():
    with pytest.raises(ValueError, match="add up to 1"):
        growth_stage(0.5, (0.5, 0.5, 0.5, 0.0, 0.0))
    with pytest.raises(ValueError, match="five"):
        growth_stage(0.5, (0.5, 0.5))


def test_a_recipe_that_does_not_grow_stays_at_full_size():
    recipe = ProgressiveRecipe(grow=False)
    assert {recipe.stage_at(f) for f in (0.0, 0.3, 0.9)} == {(2, 1.0)}


@pytest.fixture
def gan():
    torch.manual_seed(0)
    return ProgressiveGAN(latent_dim=8, channels=(16, 8, 4))


@pytest.mark.parametrize("level, side", [(0, 7), (1, 14), (2, 28)])
def test_each_stage_makes_and_judges_images_of_its_size(gan, level, side):
    gan.set_stage(level, 1.0)
    images = gan.generator(torch.randn(8, 8))
    assert images.shape == (8, 1, side, side)
    assert gan.discriminator(images).shape == (8,)
    with pytest.raises(ValueError, match=f"N×1×{side}×{side}"):
        gan.discriminator(torch.zeros(8, 1, 28 if side != 28 else 14, 28 if side != 28 else 14))


@pytest.mark.parametrize("level", [1, 2])
def test_at_alpha_zero_the_grown_networks_are_the_old_ones(gan, level):
    """The point of the fade-in: adding a block changes nothing at first. G's image is the old one enlarged, and D
    scores an image as the old D scores its half-size version."""
    z = torch.randn(8, 8)
    gan.set_stage(level - 1, 1.0)
    old_image = gan.generator(z)
    image = torch.randn(8, 1, 7 * 2**level, 7 * 2**level)
    old_score = gan.discriminator(F.avg_pool2d(image, 2))
    gan.set_stage(level, 0.0)
    torch.testing.assert_close(gan.generator(z), F.interpolate(old_image, scale_factor=2))
    torch.testing.assert_close(gan.discriminator(image), old_score)
    gan.set_stage(level, 0.5)
    assert not torch.allclose(gan.generator(z), F.interpolate(old_image, scale_factor=2))


def test_real_images_are_blended_like_the_fakes():
    full = torch.rand(4, 1, 28, 28)
    pyramid = [F.avg_pool2d(full, 4), F.avg_pool2d(full, 2), full]
    index = torch.tensor([2, 0])
    torch.testing.assert_close(real_at_stage(pyramid, index, 2, 1.0), full[index])
    torch.testing.assert_close(real_at_stage(pyramid, index, 2, 0.0), F.interpolate(pyramid[1][index], scale_factor=2))
    assert real_at_stage(pyramid, index, 0, 1.0).shape == (2, 1, 7, 7)


def test_set_stage_refuses_an_unknown_level_or_alpha(gan):
    with pytest.raises(ValueError, match="level is 0, 1 or 2"):
        gan.set_stage(3)
    with pytest.raises(ValueError, match="alpha"):
        gan.set_stage(1, 1.5)


@pytest.mark.parametrize("grow", [True, False])
def test_training_runs_the_schedule_within_its_time(grow):
    torch.manual_seed(0)
    recipe = dataclasses.replace(ProgressiveRecipe(grow=grow), seconds=1.5, channels=(16, 8, 4), latent_dim=8)
    gan = recipe.build()
    images = torch.rand(64, 1, 28, 28)
    record = progressive_record(recipe.train_on(gan, images, progress=False), recipe)
    history = record["history"]
    assert 1.5 <= record["train_seconds"] < 3
    assert record["snapshots"].shape == (5, 16, 1, 28, 28) and len(record["snapshot_stages"]) == 5
    levels = history["level"]
    if grow:
        # the log every 20 steps may first land after the short 7×7 phase on a busy machine; the snapshots, taken at
        # the end of every phase, show that the schedule went through all three levels in order
        assert levels == sorted(levels) and levels[-1] == 2
        assert record["snapshot_stages"][:, 0].tolist() == [0, 1, 1, 2, 2]
    else:
        assert set(levels) == {2} and set(history["alpha"]) == {1.0}
    assert history["images"] == sorted(history["images"]) and record["images_seen"] >= history["images"][-1]
    assert gan.stage == (2, 1.0) and gan.sample(3).shape == (3, 1, 28, 28)
