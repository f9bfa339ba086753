"""The GAN theory of notebook 04, checked on 1-D densities: D*, C(G) = −log 4 + 2·JSD, and the toy mixtures."""

import math

import pytest
import torch

from course_utils.maths.densities import (
    LOG_4,
    GaussianMixture,
    check_density,
    discriminator_gap,
    gaussian_pdf,
    generator_criterion,
    grid,
    integrate,
    js_divergence,
    kernel_density,
    kl_divergence,
    optimal_discriminator,
    perturb_discriminator,
    ring_of_gaussians,
    two_bumps,
    value_function,
)

X = grid(-12, 12, 4001)
PAIRS = [
    (two_bumps().pdf(X), gaussian_pdf(X, 0.0, 1.0)),
    (gaussian_pdf(X, 0.0, 1.0), gaussian_pdf(X, 3.0, 0.5)),
    (gaussian_pdf(X, -1.0, 2.0), gaussian_pdf(X, 1.0, 2.0)),
    (two_bumps().pdf(X), two_bumps().pdf(X - 0.3)),
]


def test_integration_and_known_kl():
    assert integrate(gaussian_pdf(X, 0.5, 1.3), X).item() == pytest.approx(1.0, abs=1e-9)
    # KL between two Gaussians has a closed form: log(s2/s1) + (s1² + (m1 − m2)²) / (2 s2²) − ½.
    p, q = gaussian_pdf(X, 0.0, 1.0), gaussian_pdf(X, 1.0, 2.0)
    expected = math.log(2.0) + (1 + 1) / (2 * 4) - 0.5
    assert kl_divergence(p, q, X).item() == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize("p_data, p_g", PAIRS)
def test_criterion_is_minus_log_4_plus_twice_jsd(p_data, p_g):
    c = generator_criterion(p_data, p_g, X).item()
    jsd = js_divergence(p_data, p_g, X).item()
    assert c == pytest.approx(-LOG_4 + 2 * jsd, abs=1e-4)
    m = (p_data + p_g) / 2
    assert c == pytest.approx(-LOG_4 + kl_divergence(p_data, m, X).item() + kl_divergence(p_g, m, X).item(), abs=1e-4)
    assert 0 < jsd <= math.log(2) and c > -LOG_4 + 1e-4


def test_minimum_only_when_the_densities_coincide():
    p_data = gaussian_pdf(X, 0.0, 1.0)
    shifts = torch.linspace(-3, 3, 61)
    values = torch.stack([generator_criterion(p_data, gaussian_pdf(X, s.item(), 1.0), X) for s in shifts])
    assert value_function(p_data, p_data, optimal_discriminator(p_data, p_data), X).item() == pytest.approx(-LOG_4, abs=1e-8)
    assert values.min().item() == pytest.approx(-LOG_4, abs=1e-8)
    assert shifts[values.argmin()].item() == pytest.approx(0.0, abs=1e-6)
    assert (values[shifts.abs() > 0.05] > -LOG_4 + 1e-4).all()
    assert torch.allclose(optimal_discriminator(p_data, p_data), torch.full_like(X, 0.5))


@pytest.mark.parametrize("p_data, p_g", PAIRS)
def test_optimal_discriminator_beats_perturbed_ones(p_data, p_g):
    torch.manual_seed(0)
    d_star = optimal_discriminator(p_data, p_g)
    best = generator_criterion(p_data, p_g, X).item()
    rng = torch.Generator().manual_seed(0)
    for scale in (0.01, 0.1, 1.0):
        for _ in range(20):
            d = perturb_discriminator(d_star, X, scale, rng=rng)
            assert not torch.allclose(d, d_star)
            assert value_function(p_data, p_g, d, X).item() < best


def test_pointwise_maximiser():
    y = torch.linspace(1e-4, 1 - 1e-4, 100_001, dtype=torch.float64)
    for a, b in [(0.2, 0.8), (1.0, 1.0), (3.0, 0.5)]:
        peak = y[(a * y.log() + b * (1 - y).log()).argmax()].item()
        assert peak == pytest.approx(a / (a + b), abs=1e-4)


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="one value per grid point"):
        integrate(torch.zeros(3, dtype=torch.float64), X)
    with pytest.raises(ValueError, match="integrates to"):
        kl_divergence(2 * gaussian_pdf(X, 0, 1), gaussian_pdf(X, 0, 1), X)
    with pytest.raises(ValueError, match="negative"):
        check_density(gaussian_pdf(X, 0, 1) - 0.01, X)
    with pytest.raises(ValueError, match="probabilities"):
        value_function(gaussian_pdf(X, 0, 1), gaussian_pdf(X, 0, 1), torch.full_like(X, 1.5), X)
    with pytest.raises(ValueError, match="std must be positive"):
        gaussian_pdf(X, 0, 0)


def test_mixtures_sample_and_integrate():
    bumps = two_bumps()
    assert integrate(bumps.pdf(X), X).item() == pytest.approx(1.0, abs=1e-9)
    samples = bumps.sample(20_000, rng=torch.Generator().manual_seed(0))
    assert samples.shape == (20_000, 1)
    assert (samples[:, 0] > 0).float().mean().item() == pytest.approx(0.7, abs=0.02)
    ring = ring_of_gaussians(8, radius=2.0, std=0.05)
    points = ring.sample(1000)
    assert points.shape == (1000, 2)
    assert (points.norm(dim=1) - 2.0).abs().max().item() < 0.5
    with pytest.raises(ValueError, match="K×dim"):
        GaussianMixture(torch.zeros(3), 1.0, torch.ones(3))


def test_kernel_density_recovers_a_density_and_the_gap_measures_distance():
    samples = two_bumps().sample(5000, rng=torch.Generator().manual_seed(1))
    estimate = kernel_density(samples, X)
    assert integrate(estimate, X).item() == pytest.approx(1.0, abs=1e-3)
    assert js_divergence(two_bumps().pdf(X), estimate / integrate(estimate, X), X).item() < 0.01
    p, q = two_bumps().pdf(X), gaussian_pdf(X, 0, 1)
    d_star = optimal_discriminator(p, q)
    assert discriminator_gap(d_star, d_star, p, q, X).item() == 0.0
    assert discriminator_gap(torch.full_like(X, 0.5), d_star, p, q, X).item() > 0.2
