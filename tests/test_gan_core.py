import copy
import math

import pytest
import torch
from torch import nn

from course_utils.engine.data import Minibatches
from course_utils.engine.train import RunningAverage, recalibrate_batch_norm, train, update_average
from course_utils.maths.latent import sample_latent
from course_utils.maths.losses import (
    discriminator_hinge_loss,
    discriminator_loss,
    generator_hinge_loss,
    generator_loss_non_saturating,
    generator_loss_saturating,
)
from course_utils.training.gan import discriminator_logits, make_gan_step


def test_losses_match_their_formulas():
    real, fake = torch.tensor([0.3, -1.2]), torch.tensor([2.0, -0.5])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()
    assert discriminator_loss(real, fake).item() == pytest.approx(expected_d.item(), rel=1e-6)
    assert generator_loss_saturating(fake).item() == pytest.approx(torch.log(1 - d_fake).mean().item(), rel=1e-6)
    assert generator_loss_non_saturating(fake).item() == pytest.approx(-torch.log(d_fake).mean().item(), rel=1e-6)
    # An undecided D (D = 1/2 everywhere) gives V = −log 4, i.e. a discriminator loss of log 4.
    assert discriminator_loss(torch.zeros(5), torch.zeros(5)).item() == pytest.approx(math.log(4))


def test_saturating_gradient_vanishes_where_the_non_saturating_one_does_not():
    logits = torch.tensor([-8.0], requires_grad=True)  # D(G(z)) ≈ 0.0003: D easily rejects the fake
    (grad_sat,) = torch.autograd.grad(generator_loss_saturating(logits), logits)
    (grad_ns,) = torch.autograd.grad(generator_loss_non_saturating(logits), logits)
    assert abs(grad_sat.item()) < 1e-3 and abs(grad_ns.item()) > 0.99


def test_discriminator_logits_shape_check():
    assert discriminator_logits(nn.Linear(3, 1), torch.zeros(4, 3)).shape == (4,)
    with pytest.raises(ValueError, match="one logit per example"):
        discriminator_logits(nn.Linear(3, 2), torch.zeros(4, 3))


def test_generator_update_leaves_the_discriminator_alone():
    torch.manual_seed(0)
    generator, discriminator = nn.Linear(2, 3), nn.Linear(3, 1)
    generator_before, reference = copy.deepcopy(generator), copy.deepcopy(discriminator)
    g_opt = torch.optim.SGD(generator.parameters(), lr=0.1)
    d_opt = torch.optim.SGD(discriminator.parameters(), lr=0.1)
    real = torch.randn(8, 3)
    torch.manual_seed(1)
    make_gan_step(generator, discriminator, g_opt, d_opt, latent_dim=2)(real)
    # Replay only the D update, with the same noise: D must end up exactly there, untouched by the G update.
    torch.manual_seed(1)
    fake = generator_before(sample_latent(8, 2)).detach()
    discriminator_loss(reference(real)[:, 0], reference(fake)[:, 0]).backward()
    with torch.no_grad():
        for p in reference.parameters():
            p -= 0.1 * p.grad
    for p, q in zip(discriminator.parameters(), reference.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
    assert not torch.equal(generator.weight, generator_before.weight), "G was updated"
    assert all(p.requires_grad for p in discriminator.parameters()), "D is unfrozen again after the step"


def test_logged_values_are_probabilities_and_losses():
    generator, discriminator = nn.Linear(2, 3), nn.Linear(3, 1)
    step = make_gan_step(generator, discriminator, torch.optim.SGD(generator.parameters(), lr=0.01),
                         torch.optim.SGD(discriminator.parameters(), lr=0.01), latent_dim=2)
    values = step(torch.randn(16, 3), torch.zeros(16))
    assert set(values) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert 0 <= values["d_real"] <= 1 and 0 <= values["d_fake"] <= 1


def test_unknown_loss():
    with pytest.raises(ValueError, match="loss must be one of"):
        make_gan_step(nn.Linear(1, 1), nn.Linear(1, 1), None, None, 1, loss="wasserstein")


def test_hinge_losses_have_a_margin_of_one():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, -0.5, 1.0])
    # real: max(0, 1 − s) = 0, 0.5, 2; fake: max(0, 1 + s) = 0, 0.5, 2 — examples beyond the margin add nothing
    assert discriminator_hinge_loss(real, fake).item() == pytest.approx(2.5 / 3 + 2.5 / 3)
    assert discriminator_hinge_loss(torch.full((4,), 1.0), torch.full((4,), -1.0)).item() == 0.0
    assert generator_hinge_loss(fake).item() == pytest.approx(2.5 / 3)
    scores = torch.tensor([5.0], requires_grad=True)
    (gradient,) = torch.autograd.grad(generator_hinge_loss(scores), scores)
    assert gradient.item() == -1.0, "G's gradient never vanishes, however sure D is"


def test_a_short_1d_gan_moves_the_samples_towards_the_data():
    torch.manual_seed(0)
    data = 3.0 + 0.5 * torch.randn(2048, 1)
    generator = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    discriminator = nn.Sequential(nn.Linear(1, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    g_opt = torch.optim.Adam(generator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    before = generator(sample_latent(1000, 4)).mean().item()
    train(make_gan_step(generator, discriminator, g_opt, d_opt, latent_dim=4), Minibatches(data, batch_size=64),
          epochs=10, progress=False)
    after = generator(sample_latent(1000, 4)).mean().item()
    assert abs(after - 3.0) < 0.5 and abs(after - 3.0) < 0.25 * abs(before - 3.0)


def test_update_average_is_an_exponential_moving_average_and_copies_buffers():
    model, average = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    with torch.no_grad():
        model.weight.fill_(1.0), average.weight.fill_(0.0)
        model.running_mean.fill_(5.0)
    update_average(average, model, decay=0.75)
    assert torch.allclose(average.weight, torch.full((3,), 0.25)), "0.75·0 + 0.25·1"
    update_average(average, model, decay=0.75)
    assert torch.allclose(average.weight, torch.full((3,), 0.4375)), "0.75·0.25 + 0.25·1"
    assert torch.equal(average.running_mean, model.running_mean), "batch-norm statistics are copied, not averaged"
    update_average(average, model, decay=0.0)
    assert torch.equal(average.weight, model.weight), "decay 0: the average is the model itself"
    with pytest.raises(ValueError, match="decay must be in"):
        update_average(average, model, decay=1.0)


def test_the_running_average_weighs_only_the_steps_it_has_seen():
    network, average = nn.Linear(2, 1, bias=False), nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        average.weight.fill_(1e6)                        # the untrained start: it must count for nothing
    running, decay, seen = RunningAverage(network, average, decay=0.9), 0.9, []
    for step in range(1, 6):
        with torch.no_grad():
            network.weight.fill_(float(step))
        running.update()
        seen.append(float(step))
        weights = torch.tensor([decay ** (len(seen) - 1 - k) for k in range(len(seen))])
        expected = (weights * torch.tensor(seen)).sum() / weights.sum()
        assert torch.allclose(average.weight, expected.expand(1, 2)), f"after {step} steps"
    assert int(running.updates) == 5


def test_recalibrated_batch_norm_statistics_are_those_of_the_generators_own_activations():
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())
    generator.latent_dim = 4
    with torch.no_grad():
        generator[1].running_mean.fill_(100.0)                # stale statistics, copied from another network
    recalibrate_batch_norm(generator, latent_dim=4, batches=50, batch_size=200)
    with torch.no_grad():
        hidden = generator[0](torch.randn(20_000, 4))
    assert torch.allclose(generator[1].running_mean, hidden.mean(0), atol=0.05)
    assert torch.allclose(generator[1].running_var, hidden.var(0), rtol=0.1)      # two estimates from different noise
    assert generator[1].momentum == 0.1 and not generator.training, "momentum restored, ready to sample"


def test_g_step_draws_fresh_noise_and_d_step_builds_no_graph_into_g():
    seen = []

    class Recording(nn.Linear):
        def forward(self, z):
            seen.append((z.clone(), torch.is_grad_enabled()))
            return super().forward(z)

    generator, discriminator = Recording(2, 3), nn.Linear(3, 1)
    step = make_gan_step(generator, discriminator, torch.optim.SGD(generator.parameters(), lr=0.1),
                         torch.optim.SGD(discriminator.parameters(), lr=0.1), latent_dim=2)
    step(torch.randn(8, 3))
    (d_noise, d_grad), (g_noise, g_grad) = seen
    assert not torch.equal(d_noise, g_noise), "G improves on a new batch of noise, not on the fakes D just saw"
    assert not d_grad and g_grad, "D's fakes are made without a graph through G; G's own are made with one"
