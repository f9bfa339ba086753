"""The semi-supervised GAN's pieces (issue 17, notebook 07): the K-logit identity against an explicit K+1 softmax,
each loss term on hand-made logits, the label draw, feature matching, and bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_utils.training.semi_supervised import (
    draw_labelled,
    feature_matching_loss,
    generated_loss,
    probability_real,
    supervised_loss,
    unlabelled_loss,
    unsupervised_loss,
)


def test_k_logits_with_a_fake_logit_fixed_at_zero_are_an_explicit_k_plus_1_softmax():
    logits = torch.randn(64, 10, generator=torch.Generator().manual_seed(0)) * 4
    explicit = F.softmax(torch.cat([logits, torch.zeros(64, 1)], dim=1), dim=1)     # class K+1 = "fake", logit 0
    assert torch.allclose(probability_real(logits), 1 - explicit[:, 10], atol=1e-6)
    assert torch.allclose(F.softmax(logits, dim=1), explicit[:, :10] / (1 - explicit[:, 10:]), atol=1e-6), \
        "given 'real', the K classes keep their softmax"


def test_adding_a_constant_to_every_logit_moves_only_the_real_vs_fake_verdict():
    logits = torch.randn(8, 10, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(supervised_loss(logits, torch.arange(8)), supervised_loss(logits + 5, torch.arange(8)), atol=1e-5)
    assert (probability_real(logits + 5) > probability_real(logits)).all()


def test_each_loss_term_on_hand_made_logits():
    labels = torch.tensor([2, 0])
    logits = torch.tensor([[0.0, 0.0, math.log(8.0)], [math.log(3.0), 0.0, 0.0]])    # p(class 2) = 0.8; p(class 0) = 0.6
    assert supervised_loss(logits, labels).item() == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2, rel=1e-6)
    real = torch.tensor([[math.log(3.0), -50.0, -50.0]])                              # Z = 3: D = 3/4
    fake = torch.tensor([[-50.0, math.log(0.25), -50.0]])                            # Z = 1/4: D = 1/5
    expected = -math.log(3 / 4) - math.log(1 - 1 / 5)
    assert unsupervised_loss(real, fake).item() == pytest.approx(expected, rel=1e-5)
    assert unlabelled_loss(real).item() == pytest.approx(-math.log(3 / 4), rel=1e-5)
    assert generated_loss(fake).item() == pytest.approx(-math.log(1 - 1 / 5), rel=1e-5)
    assert probability_real(real).item() == pytest.approx(0.75, rel=1e-6)


def test_the_unsupervised_loss_stays_finite_for_extreme_logits():
    huge = torch.full((4, 10), 200.0)
    assert math.isfinite(unsupervised_loss(huge, -huge).item()) and unsupervised_loss(huge, -huge).item() < 1e-6
    assert math.isfinite(unsupervised_loss(-huge, huge).item())


def test_feature_matching_compares_the_mean_features():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert feature_matching_loss(real, real.flip(0)).item() == 0.0, "the same mean, in any order"
    assert feature_matching_loss(real, torch.zeros(5, 2)).item() == pytest.approx(2.0 ** 2 + 3.0 ** 2)
    with pytest.raises(ValueError, match="same shape per example"):
        feature_matching_loss(real, torch.zeros(2, 3))


def test_the_label_draw_is_balanced_disjoint_complete_and_reproducible():
    labels = torch.arange(10).repeat(40)[torch.randperm(400, generator=torch.Generator().manual_seed(2))]
    labelled, unlabelled = draw_labelled(labels, per_class=3, seed=7)
    assert torch.bincount(labels[labelled], minlength=10).tolist() == [3] * 10
    assert set(labelled.tolist()).isdisjoint(unlabelled.tolist()) and len(labelled) + len(unlabelled) == 400
    again, _ = draw_labelled(labels, per_class=3, seed=7)
    other, _ = draw_labelled(labels, per_class=3, seed=8)
    assert torch.equal(labelled, again) and not torch.equal(labelled, other)


@pytest.mark.parametrize("per_class, message", [(0, "whole number ≥ 1"), (41, "at most 40 per class"),
                                                (2.5, "whole number ≥ 1")])
def test_bad_label_counts_get_a_clear_error(per_class, message):
    with pytest.raises(ValueError, match=message):
        draw_labelled(torch.arange(10).repeat(40), per_class=per_class, seed=0)


def test_a_label_set_missing_a_class_is_refused():
    with pytest.raises(ValueError, match=r"no example of class\(es\) \[9\]"):
        draw_labelled(torch.arange(9).repeat(5), per_class=1, seed=0)


# --- the networks and the step ---

from course_utils.models.semi_supervised_gan import (  # noqa: E402
    SemiSupervisedDiscriminator,
    SemiSupervisedGAN,
    SemiSupervisedGenerator,
)
from course_utils.training.semi_supervised import (  # noqa: E402
    ABLATION,
    LabelledAndUnlabelled,
    SemiSupervisedRecipe,
    baseline_recipe,
    make_semi_supervised_step,
)


def test_the_discriminator_gives_k_logits_and_its_features_and_its_noise_only_trains():
    torch.manual_seed(0)
    discriminator, images = SemiSupervisedDiscriminator(), torch.rand(5, 1, 28, 28)
    logits, features = discriminator(images)
    assert logits.shape == (5, 10) and features.shape == (5, 250)
    assert not torch.equal(discriminator(images)[0], logits), "training mode: fresh noise on every call"
    discriminator.eval()
    assert torch.equal(discriminator(images)[0], discriminator(images)[0]), "eval mode: no noise"
    with pytest.raises(ValueError, match="N×1×28×28"):
        discriminator(torch.rand(5, 784))


def test_the_generator_draws_images_in_the_unit_range():
    generator = SemiSupervisedGenerator()
    images = generator(generator.sample_latent(7))
    assert images.shape == (7, 1, 28, 28) and images.min() >= 0 and images.max() <= 1


@pytest.mark.parametrize("feature_matching, steps", [(True, 240), (False, 5)])
def test_a_short_run_on_100_labels_beats_chance_by_far(bundled_mnist, feature_matching, steps):
    (images, labels), (test_images, test_labels) = bundled_mnist
    torch.manual_seed(0)
    labelled, _ = draw_labelled(labels, per_class=10, seed=0)
    generator, discriminator = SemiSupervisedGenerator(), SemiSupervisedDiscriminator()
    step = make_semi_supervised_step(generator, discriminator, torch.optim.Adam(generator.parameters(), 3e-3, betas=(0.5, 0.999)),
                                     torch.optim.Adam(discriminator.parameters(), 3e-3, betas=(0.5, 0.999)),
                                     feature_matching=feature_matching)
    for _ in range(steps):                                        # 240 steps: six epochs of 4,000 unlabelled digits
        pick = labelled[torch.randint(len(labelled), (100,))]
        values = step(images[pick], labels[pick], images[torch.randint(len(images), (100,))])
    assert all(math.isfinite(value.item()) for value in values.values())
    assert all(p.requires_grad for p in discriminator.parameters()), "D is trainable again after G's step"
    discriminator.eval()
    with torch.no_grad():
        accuracy = (discriminator(test_images)[0].argmax(1) == test_labels).float().mean().item()
    if feature_matching:
        assert accuracy > 0.5, f"after {steps} steps on 100 labels the test accuracy is {accuracy:.2f}"


def _step_for(model, **terms):
    return make_semi_supervised_step(model.generator, model.discriminator,
                                     torch.optim.Adam(model.generator.parameters(), 1e-3),
                                     torch.optim.Adam(model.discriminator.parameters(), 1e-3), **terms)


@pytest.mark.parametrize("name", list(ABLATION))
def test_each_ablation_row_trains_only_its_terms(name):
    torch.manual_seed(0)
    model = SemiSupervisedGAN()
    before = {key: value.clone() for key, value in model.generator.state_dict().items()}
    values = _step_for(model, **ABLATION[name])(torch.rand(6, 1, 28, 28), torch.arange(6), torch.rand(8, 1, 28, 28))
    generator_moved = any(not torch.equal(before[key], value) for key, value in model.generator.state_dict().items())
    assert generator_moved == ABLATION[name].get("fake_term", True), "G trains exactly when there are fakes"
    assert SemiSupervisedRecipe(**ABLATION[name]).method == name
    if name == "labelled only":
        assert values["d_unsupervised"].item() == 0.0 and set(values) == {"d_supervised", "d_unsupervised"}
    expected_g_key = {"+ fakes (non-saturating G)": "g_loss", "+ feature matching": "feature_gap"}.get(name)
    assert (expected_g_key in values) if expected_g_key else not ({"g_loss", "feature_gap"} & set(values))


def test_the_baseline_is_the_labelled_term_alone_and_a_generator_loss_needs_fakes():
    assert baseline_recipe(per_class=5).method == "labelled only" and baseline_recipe(per_class=5).per_class == 5
    with pytest.raises(ValueError, match="trains no G"):
        _step_for(SemiSupervisedGAN(), fake_term=False, feature_matching=False)


def test_the_labelled_and_unlabelled_batches():
    labelled, labels = torch.rand(10, 1, 28, 28), torch.arange(10)
    pool = torch.arange(25.0).view(25, 1, 1, 1).expand(25, 1, 28, 28)
    batches = LabelledAndUnlabelled(labelled, labels, pool, batch_size=10, steps=7, max_shift=0)
    seen = [(x, y, u) for x, y, u in batches]
    assert len(batches) == len(seen) == 7 and all(x.shape == (10, 1, 28, 28) and u.shape == x.shape for x, _, u in seen)
    assert all(torch.equal(x, labelled[y]) for x, y, _ in seen), "max_shift=0: each labelled digit with its own label"
    first_pass = torch.cat([u[:, 0, 0, 0] for _, _, u in seen[:2]])
    assert len(set(first_pass.tolist())) == 20, "the pool is walked without repeats until it runs out"
    with pytest.raises(ValueError, match="fewer than one batch"):
        LabelledAndUnlabelled(labelled, labels, pool[:5], batch_size=10, steps=1, max_shift=0)


def test_calling_the_model_classifies_and_its_samples_are_repeatable():
    model = SemiSupervisedGAN().eval()
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    images = model.sample(4, rng=1)
    assert torch.equal(images, model.sample(4, rng=1)) and images.shape == (4, 1, 28, 28)
    assert images.min() >= 0 and images.max() <= 1
    z = model.sample_latent(1000, rng=0)
    assert z.min() >= 0 and z.max() <= 1 and abs(z.mean().item() - 0.5) < 0.01, "the paper's uniform prior"


def test_the_label_draw_and_the_unlabelled_pool_never_touch_the_test_digits(bundled_mnist):
    from course_utils.engine.data import bundled_split_indices

    (_, labels), _ = bundled_mnist
    split = bundled_split_indices()                              # indices into the 5,000 shipped digits
    labelled, unlabelled = draw_labelled(labels, per_class=10, seed=0)
    used = split["train"][torch.cat([labelled, unlabelled]).numpy()]
    assert len(set(used.tolist())) == len(labels) == 4000
    assert set(used.tolist()).isdisjoint(split["test"].tolist()), "no test digit is labelled or unlabelled training data"
