"""The VAE of notebook 03: Gaussian KL and ELBO identities, the importance-weighted bound, the model, its training."""

import math

import pytest
import torch

from course_utils.engine.checkpoints import pretrained
from course_utils.maths.losses import (
    bernoulli_log_likelihood,
    gaussian_kl,
    gaussian_log_density,
    importance_weighted_bound,
    negative_elbo,
    reparameterize,
)
from course_utils.models.vae import VAE
from course_utils.training.vae import VAERecipe, evaluate_vae


@pytest.fixture(scope="module")
def trained_vae(bundled_mnist):
    """A 20-D VAE trained with the recipe for 6 epochs on the bundled digits (a few seconds), and its held-out −ELBO before."""
    (images, _), (test_images, _) = bundled_mnist
    torch.manual_seed(0)
    model = VAE()
    before = evaluate_vae(model, test_images)["neg_elbo"]
    history = VAERecipe(images_seen=6 * len(images)).train_on(model, images, progress=False)
    return model, before, history


# --- Gaussian KL, reparameterisation, ELBO terms ---

def test_kl_is_zero_for_the_prior_and_matches_hand_computed_values():
    assert torch.allclose(gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)), torch.zeros(3))
    # one dimension, μ = 1, σ² = e: ½(1 + e − 1 − 1) = (e − 1)/2
    assert gaussian_kl(torch.tensor([[1.0]]), torch.tensor([[1.0]])).item() == pytest.approx((math.e - 1) / 2, rel=1e-6)


def test_kl_matches_torch_distributions_and_monte_carlo():
    torch.manual_seed(1)
    mu, logvar = torch.randn(5, 20, dtype=torch.float64), torch.randn(5, 20, dtype=torch.float64)
    closed = gaussian_kl(mu, logvar)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    prior = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    assert torch.allclose(closed, torch.distributions.kl_divergence(q, prior).sum(-1), rtol=1e-10)
    z = q.sample((50_000,))
    monte_carlo = (q.log_prob(z) - prior.log_prob(z)).sum(-1).mean(0)
    assert torch.allclose(monte_carlo, closed, rtol=0.02, atol=0.05), (monte_carlo, closed)


def test_kl_per_dimension_sums_to_the_kl():
    mu, logvar = torch.randn(4, 6), torch.randn(4, 6)
    per_dimension = gaussian_kl(mu, logvar, per_dimension=True)
    assert per_dimension.shape == (4, 6) and (per_dimension >= 0).all()
    assert torch.allclose(per_dimension.sum(-1), gaussian_kl(mu, logvar))


def test_kl_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4))


def test_reparameterised_sample_has_the_right_moments_and_gradients():
    torch.manual_seed(2)
    mu = torch.tensor([[1.0, -2.0]], requires_grad=True)
    logvar = torch.log(torch.tensor([[4.0, 0.25]])).requires_grad_()
    z = reparameterize(mu.expand(100_000, 2), logvar.expand(100_000, 2))
    assert torch.allclose(z.mean(0), torch.tensor([1.0, -2.0]), atol=0.02)
    assert torch.allclose(z.std(0), torch.tensor([2.0, 0.5]), atol=0.02)
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.full((1, 2), 100_000.0))  # ∂z/∂μ = 1 for every sample
    assert logvar.grad.abs().min() > 0                             # ∂z/∂logσ² = ½σε: the noise reaches logvar too
    with pytest.raises(ValueError, match="eps"):
        reparameterize(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 4))


def test_gaussian_log_density_matches_torch():
    z, mu, logvar = torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4)
    expected = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    assert torch.allclose(gaussian_log_density(z, mu, logvar), expected, atol=1e-5)


def test_bernoulli_log_likelihood_is_the_summed_bce():
    logits, x = torch.randn(2, 784), torch.rand(2, 784)
    p = torch.sigmoid(logits)
    expected = (x * p.log() + (1 - x) * (1 - p).log()).sum(-1)
    assert torch.allclose(bernoulli_log_likelihood(logits, x), expected, atol=1e-3)
    with pytest.raises(ValueError, match="same shape"):
        bernoulli_log_likelihood(torch.zeros(2, 784), torch.zeros(2, 1, 28, 28))


def test_negative_elbo_is_reconstruction_plus_kl():
    logits, x, mu, logvar = torch.randn(4, 784), torch.rand(4, 784), torch.randn(4, 20), torch.randn(4, 20)
    terms = negative_elbo(logits, x, mu, logvar)
    assert set(terms) == {"loss", "reconstruction", "kl"} and terms["loss"].shape == (4,)
    assert torch.allclose(terms["loss"], terms["reconstruction"] + terms["kl"])
    assert (terms["kl"] >= 0).all() and (terms["reconstruction"] >= 0).all()


# --- the model ---

def test_vae_shapes_and_samples():
    model = VAE()
    x = torch.rand(7, 1, 28, 28)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (7, 20)
    logits, mu2, _ = model(x)
    assert logits.shape == (7, 784) and torch.equal(mu, mu2)
    assert model.encode(x.view(7, 784))[0].shape == (7, 20)   # flat rows work too
    samples = model.sample(5)
    assert samples.shape == (5, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    z = model.sample_latent(3, rng=0)
    assert torch.allclose(model.decode(z), torch.sigmoid(model.decoder_logits(z)).view(3, 1, 28, 28)), \
        "decode shows the pixel means: the sigmoid of the Bernoulli logits"
    assert model.reconstruct(x).shape == (7, 1, 28, 28)
    assert sum(p.numel() for p in model.parameters()) == (784 * 400 + 400) + 2 * (400 * 20 + 20) + (20 * 400 + 400) + (400 * 784 + 784)


@pytest.mark.parametrize("bad, message", [
    (torch.rand(3, 28, 28), "N×1×28×28 or N×784"),
    (torch.rand(3, 3, 28, 28), "N×1×28×28 or N×784"),
    (torch.randint(0, 255, (3, 1, 28, 28), dtype=torch.uint8), "float"),
    ([[0.0] * 784], "tensor"),
])
def test_vae_rejects_bad_images(bad, message):
    with pytest.raises(ValueError, match=message):
        VAE().encode(bad)


def test_vae_rejects_bad_codes_and_sizes():
    with pytest.raises(ValueError, match="N×20"):
        VAE().decode(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="N×20"):
        VAE().decoder_logits(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(latent_dim=0)


# --- training and the bounds ---

def test_short_training_lowers_held_out_negative_elbo(trained_vae, bundled_mnist):
    model, before, history = trained_vae
    _, (test_images, _) = bundled_mnist
    after = evaluate_vae(model, test_images)
    assert before > 540                   # an untrained decoder says p ≈ ½ per pixel: 784·log 2 ≈ 543 nats
    assert after["neg_elbo"] < 155, after  # 6 epochs (186 steps) of the recipe: ≈ 144 nats per held-out image
    assert before - after["neg_elbo"] > 380
    assert after["neg_elbo"] == pytest.approx(after["reconstruction"] + after["kl"], rel=1e-6)
    assert history["loss"][-1] < history["loss"][0] - 200
    assert set(history) == {"loss", "reconstruction", "kl"}


def test_importance_weighted_bound_is_above_the_elbo(trained_vae, bundled_mnist):
    model, _, _ = trained_vae
    _, (test_images, _) = bundled_mnist
    torch.manual_seed(3)
    scores = evaluate_vae(model, test_images[:300], samples=64)
    assert scores["neg_iwae"] < scores["neg_elbo"] - 2, scores   # a tighter bound: several nats better
    x = test_images[:200].view(200, 784).repeat(20, 1)            # 20 draws per image average out the noise
    torch.manual_seed(4)
    with torch.no_grad():
        k1 = importance_weighted_bound(model, x, 1).mean()
        mu, logvar = model.encode(x)
        elbo = -negative_elbo(model.decoder_logits(reparameterize(mu, logvar)), x, mu, logvar)["loss"].mean()
    assert k1.item() == pytest.approx(elbo.item(), abs=1.0)        # k = 1 is the ELBO (in expectation)
    with pytest.raises(ValueError, match="samples"):
        importance_weighted_bound(model, x, 0)


def test_pretrained_vae_is_cached(monkeypatch, bundled_mnist):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA", "bundled")
    model, info = pretrained(VAERecipe(latent_dim=2))
    assert model.latent_dim == 2 and info["epochs"] == 2 and 150 < info["neg_elbo"] < 250
    again, info_again = pretrained(VAERecipe(latent_dim=2))
    assert info_again == info
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_fit_vae_rejects_a_bad_shift_fraction():
    with pytest.raises(ValueError, match="shifted_fraction"):
        VAERecipe(images_seen=8, shifted_fraction=1.5).train_on(VAE(), torch.rand(8, 784), progress=False)


def test_the_recipe_trains_for_about_300_000_images():
    recipe = VAERecipe()
    assert recipe.epochs_for(4000) == 75 and recipe.epochs_for(5000) == 60 and recipe.epochs_for(60_000) == 5
    assert recipe.epochs_for(10**7) == 1
    with pytest.raises(ValueError, match="at least one training image"):
        recipe.epochs_for(0)
