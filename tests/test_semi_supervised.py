"""The semi-supervised GAN's pieces (issue 17, notebook 07): the K-logit identity against an explicit K+1 softmax,
each loss term on hand-made logits, the label draw, feature matching, and bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_utils.semi_supervised import (draw_labelled, feature_matching_loss, probability_real, supervised_loss,
                                          unsupervised_loss)


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
