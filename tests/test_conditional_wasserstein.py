"""Building blocks of notebook 06: conditional batch norm, the exact 1-D Wasserstein distance, the gradient penalty."""

import math

import pytest
import torch
from torch import nn

from course_utils.densities import gaussian_pdf, grid, js_divergence, wasserstein_1
from course_utils.losses import gradient_penalty
from course_utils.models.conditional import ConditionalBatchNorm2d, check_labels


def test_conditional_batch_norm_applies_the_gamma_and_beta_of_each_example_s_class():
    torch.manual_seed(0)
    layer = ConditionalBatchNorm2d(num_features=3, num_classes=10)
    with torch.no_grad():
        layer.scale_shift.weight.normal_()
    x = torch.randn(4, 3, 5, 5)
    x[1] = x[0]
    labels = torch.tensor([2, 7, 2, 2])
    out = layer(x, labels)
    normalised = nn.functional.batch_norm(x, None, None, training=True)
    gamma, beta = layer.scale_shift.weight[:, :3], layer.scale_shift.weight[:, 3:]
    for i, c in enumerate(labels):
        assert torch.allclose(out[i], gamma[c, :, None, None] * normalised[i] + beta[c, :, None, None], atol=1e-5)
    assert not torch.allclose(out[0], out[1]), "the same input with two classes must come out differently"
    same_class = layer(torch.cat([x[:1], x[:1], x[2:]]), torch.tensor([2, 2, 2, 2]))
    assert torch.allclose(same_class[0], same_class[1]), "the same input and class must come out the same"


def test_a_fresh_conditional_batch_norm_is_plain_batch_norm():
    layer, x = ConditionalBatchNorm2d(4), torch.randn(6, 4, 3, 3)
    assert torch.allclose(layer(x, torch.arange(6)), nn.BatchNorm2d(4)(x), atol=1e-6)


@pytest.mark.parametrize("labels, message", [
    (torch.tensor([0, 10]), r"class labels must lie in 0 … 9, got values from 0 to 10"),
    (torch.tensor([-1, 3]), r"got values from -1 to 3"),
    (torch.tensor([0.0, 1.0]), r"integer class indices, got dtype torch.float32; use labels.long\(\)"),
    (torch.tensor([1, 2, 3]), r"one label per example, a tensor of shape \(2,\), got \(3,\)"),
    ([1, 2], r"a tensor of class indices, got list; use torch.tensor\(labels\)"),
])
def test_bad_labels_get_a_clear_error(labels, message):
    with pytest.raises(ValueError, match=message):
        ConditionalBatchNorm2d(3)(torch.randn(2, 3, 4, 4), labels)


def test_check_labels_accepts_any_integer_dtype():
    assert check_labels(torch.tensor([3, 9], dtype=torch.int32), 2).tolist() == [3, 9]


@pytest.mark.parametrize("shift", [0.5, 2.0, 5.0])
def test_wasserstein_1_of_a_shifted_density_is_the_shift(shift):
    x = grid(-12, 12, 4001)
    p, q = gaussian_pdf(x, 0.0, 0.5), gaussian_pdf(x, shift, 0.5)
    assert wasserstein_1(p, q, x).item() == pytest.approx(shift, rel=1e-3)
    assert wasserstein_1(p, p, x).item() == pytest.approx(0.0, abs=1e-9)


def test_jsd_saturates_where_wasserstein_keeps_growing():
    x = grid(-12, 12, 4001)
    p = gaussian_pdf(x, 0.0, 0.3)
    far = [gaussian_pdf(x, shift, 0.3) for shift in (4.0, 8.0)]
    jsd = [js_divergence(p, q, x).item() for q in far]
    assert jsd == pytest.approx([math.log(2)] * 2, abs=1e-6), "disjoint supports: JSD is log 2, whatever the distance"
    assert [wasserstein_1(p, q, x).item() for q in far] == pytest.approx([4.0, 8.0], rel=1e-3)


def test_gradient_penalty_of_a_linear_critic_is_known_in_closed_form():
    w = torch.tensor([[3.0, 4.0]])                                   # ∇D = w everywhere, ‖w‖ = 5
    critic = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(w)
    penalty, norms = gradient_penalty(critic, torch.randn(8, 2), torch.randn(8, 2), weight=10.0,
                                      rng=torch.Generator().manual_seed(0))
    assert torch.allclose(norms, torch.full((8,), 5.0))
    assert penalty.item() == pytest.approx(10.0 * (5.0 - 1.0) ** 2)
    penalty.backward()
    assert critic.weight.grad is not None and critic.weight.grad.norm() > 0, "the penalty must train the critic"


def test_gradient_penalty_samples_between_real_and_fake():
    seen = []
    def critic(mixed):
        seen.append(mixed.detach().clone())
        return (mixed ** 2).sum(dim=1)
    real, fake = torch.zeros(500, 1), torch.ones(500, 1)
    gradient_penalty(critic, real, fake, rng=torch.Generator().manual_seed(1))
    points = seen[0].flatten()
    assert points.min() >= 0 and points.max() <= 1 and 0.4 < points.mean() < 0.6 and points.std() > 0.25


@pytest.mark.parametrize("weight", [0.0, -1.0])
def test_gradient_penalty_refuses_a_weight_that_is_not_positive(weight):
    with pytest.raises(ValueError, match="penalty weight must be positive"):
        gradient_penalty(nn.Linear(2, 1), torch.randn(2, 2), torch.randn(2, 2), weight=weight)


def test_gradient_penalty_refuses_batches_of_different_shapes():
    with pytest.raises(ValueError, match=r"same shape, got \(2, 2\) and \(3, 2\)"):
        gradient_penalty(nn.Linear(2, 1), torch.randn(2, 2), torch.randn(3, 2))
