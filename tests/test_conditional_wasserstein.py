"""Building blocks of notebook 06: conditional batch norm, the exact 1-D Wasserstein distance, the gradient penalty."""

import math

import pytest
import torch
from torch import nn

from course_utils.engine.data import check_labels
from course_utils.maths.densities import gaussian_pdf, grid, js_divergence, wasserstein_1
from course_utils.maths.losses import gradient_penalty
from course_utils.models.conditional import ConditionalBatchNorm2d


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


# --- the WGAN-GP game, power iteration, Lipschitz ratios ---

from course_utils.maths.lipschitz import lipschitz_ratios, power_iteration
from course_utils.training.wgan import make_critic_step, make_wgan_gp_step  # noqa: E402


@pytest.mark.parametrize("shift, weight", [(1.0, 10.0), (3.0, 10.0), (3.0, 100.0)])
def test_a_linear_critic_with_the_penalty_estimates_w1_with_the_bias_the_soft_constraint_predicts(shift, weight):
    """At the optimum of weight·(w − 1)² − w·W the slope is w = 1 + W / (2·weight): the estimate overshoots by that."""
    torch.manual_seed(0)
    critic = nn.Linear(1, 1)
    with torch.no_grad():
        critic.weight.fill_(0.1)       # in 1-D the penalty has two wells, slope +1 and −1: start on the right side
    step = make_critic_step(critic, torch.optim.Adam(critic.parameters(), lr=1e-2, betas=(0.5, 0.9)), weight)
    for _ in range(800):
        step(torch.randn(512, 1) * 0.5 + shift, torch.randn(512, 1) * 0.5)
    with torch.no_grad():
        estimate = (critic(torch.randn(50_000, 1) * 0.5 + shift).mean() - critic(torch.randn(50_000, 1) * 0.5).mean()).item()
    x = grid(-8, 12, 4001)
    exact = wasserstein_1(gaussian_pdf(x, shift, 0.5), gaussian_pdf(x, 0.0, 0.5), x).item()
    assert estimate == pytest.approx(exact * (1 + exact / (2 * weight)), rel=0.02)
    if weight >= 100:
        assert estimate == pytest.approx(exact, rel=0.05)


def test_one_call_takes_n_critic_critic_steps_each_on_its_own_batch_then_one_generator_step():
    torch.manual_seed(0)
    G, D = nn.Linear(2, 3), nn.Linear(3, 1)
    g_opt, d_opt = torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1)
    order, seen = [], []
    g_opt.register_step_post_hook(lambda *_: order.append("G"))
    d_opt.register_step_post_hook(lambda *_: order.append("D"))
    D.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].detach().clone()))
    step = make_wgan_gp_step(G, D, g_opt, d_opt, latent_dim=2, n_critic=3)
    real = torch.randn(3 * 16, 3)
    values = step(real)
    assert order == ["D", "D", "D", "G"], "three critic updates, then one of G, in one call"
    real_batches_seen = [x for x in seen if any(torch.equal(x, chunk) for chunk in real.chunk(3))]
    assert [x.shape[0] for x in real_batches_seen] == [16, 16, 16], "each critic step scores its own 16 real digits"
    assert {"wasserstein", "penalty", "gradient_norm", "g_loss"} <= set(values)
    assert all(p.requires_grad for p in D.parameters()), "D must be trainable again after G's step"
    with pytest.raises(ValueError, match=r"n_critic = 3 batches of real digits at once.*got 16 digits"):
        step(torch.randn(16, 3))


@pytest.mark.parametrize("n_critic", [0, -2, 2.5, True])
def test_n_critic_must_be_a_whole_number_of_at_least_one(n_critic):
    with pytest.raises(ValueError, match=r"n_critic must be a whole number ≥ 1"):
        make_wgan_gp_step(nn.Linear(2, 3), nn.Linear(3, 1), torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1),
                          torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1), latent_dim=2, n_critic=n_critic)


def test_power_iteration_finds_the_largest_singular_value():
    weight = torch.randn(64, 32, 4, 4, generator=torch.Generator().manual_seed(0))
    exact = torch.linalg.matrix_norm(weight.flatten(1), ord=2).item()
    assert power_iteration(weight, iterations=30, rng=torch.Generator().manual_seed(1)) == pytest.approx(exact, rel=0.01)


def test_a_spectrally_normalised_critic_is_1_lipschitz_on_every_pair():
    torch.manual_seed(0)
    sn = nn.utils.parametrizations.spectral_norm
    critic = nn.Sequential(sn(nn.Linear(784, 256)), nn.LeakyReLU(0.2), sn(nn.Linear(256, 64)), nn.LeakyReLU(0.2),
                           sn(nn.Linear(64, 1)))
    with torch.no_grad():
        for _ in range(50):                       # training-mode passes run the power iteration to convergence
            critic(torch.randn(2, 784))
    critic.eval()
    x, y = torch.rand(10_000, 784), torch.rand(10_000, 784)
    assert lipschitz_ratios(critic, x, y).max().item() <= 1 + 1e-4
    assert math.prod(power_iteration(layer.weight) for layer in critic if isinstance(layer, nn.Linear)) <= 1 + 1e-4


def test_lipschitz_ratios_need_paired_rows():
    with pytest.raises(ValueError, match=r"pair up row by row, got shapes \(2, 3\) and \(4, 3\)"):
        lipschitz_ratios(nn.Linear(3, 1), torch.randn(2, 3), torch.randn(4, 3))


# --- the conditional generator and the projection discriminator ---

from course_utils.models.conditional import ConditionalGenerator, ProjectionDiscriminator  # noqa: E402


def test_the_conditional_generator_draws_a_28x28_image_per_latent_and_class():
    torch.manual_seed(0)
    G = ConditionalGenerator(latent_dim=16, width=8)
    z = torch.randn(6, 16)
    images = G(z, torch.tensor([0, 1, 2, 3, 4, 5]))
    assert images.shape == (6, 1, 28, 28) and images.abs().max() <= 1
    with torch.no_grad():
        for norm in (G.norm1, G.norm2):
            norm.scale_shift.weight.normal_()
    G.eval()
    same_z = z[:1].expand(2, -1)
    two_classes, one_class = G(same_z, torch.tensor([3, 8])), G(same_z, torch.tensor([3, 3]))
    assert not torch.allclose(two_classes[0], two_classes[1]), "the class must change the image drawn from one z"
    assert torch.allclose(one_class[0], one_class[1]), "one z and one class give one image"


def test_the_projection_discriminator_adds_the_class_embedding_s_inner_product_with_the_features():
    torch.manual_seed(0)
    D = ProjectionDiscriminator(width=8).eval()
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    for a, b in [(0, 7), (3, 5)]:
        ya, yb = torch.full((4,), a), torch.full((4,), b)
        with torch.no_grad():
            phi = D.features(x)
            embeddings = D.class_embedding.weight
            expected = phi @ (embeddings[a] - embeddings[b])
            assert torch.allclose(D(x, ya) - D(x, yb), expected, atol=1e-5)


@pytest.mark.parametrize("model, args", [
    (ConditionalGenerator(width=8), (torch.randn(2, 16), torch.tensor([1, 12]))),
    (ProjectionDiscriminator(width=8), (torch.rand(2, 1, 28, 28), torch.tensor([0.0, 1.0]))),
    (ProjectionDiscriminator(width=8), (torch.rand(2, 1, 28, 28), torch.tensor([1]))),
])
def test_conditional_networks_refuse_bad_labels(model, args):
    with pytest.raises(ValueError, match="label"):
        model(*args)


def test_the_conditional_step_trains_both_players_and_hands_d_back_trainable():
    from course_utils.training.conditional import make_conditional_hinge_step

    torch.manual_seed(0)
    G, D = ConditionalGenerator(width=8), ProjectionDiscriminator(width=8)
    g_before = [p.detach().clone() for p in G.parameters()]
    d_before = [p.detach().clone() for p in D.parameters()]
    step = make_conditional_hinge_step(G, D, torch.optim.Adam(G.parameters(), lr=1e-3),
                                       torch.optim.Adam(D.parameters(), lr=1e-3))
    values = step(torch.rand(8, 1, 28, 28) * 2 - 1, torch.arange(8))
    assert set(values) == {"d_loss", "g_loss"} and torch.isfinite(values["d_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(g_before, G.parameters())), "G did not learn"
    assert any(not torch.equal(a, b) for a, b in zip(d_before, D.parameters())), "D did not learn"
    assert G.norm1.scale_shift.weight.grad is not None, "the class embeddings of G must get gradients"
    assert all(p.requires_grad for p in D.parameters())
    with pytest.raises(ValueError, match="label"):
        step(torch.rand(8, 1, 28, 28), torch.arange(4))
