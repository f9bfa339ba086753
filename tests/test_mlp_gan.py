"""MLP GANs of notebook 04: shapes and errors, a seeded 1-D run whose D approaches D*, NaN handling, the MNIST cache."""

import pytest
import torch

from course_utils.engine.checkpoints import pretrained
from course_utils.engine.train import TrainingDiverged
from course_utils.maths.densities import grid, js_divergence, two_bumps
from course_utils.models.mlp_gan import MLPDiscriminator, MLPGenerator
from course_utils.training.gan import fit_gan
from course_utils.training.mlp_gan import MLPGANRecipe, snapshot_1d


def test_shapes_and_clear_errors():
    gan = MLPGANRecipe().build()
    generator, discriminator = gan.generator, gan.discriminator
    images = generator(torch.randn(5, 64))
    assert images.shape == (5, 1, 28, 28) and images.abs().max() <= 1
    assert discriminator(images).shape == (5,)
    with pytest.raises(ValueError, match="latent vectors shaped N×64"):
        generator(torch.randn(5, 10))
    with pytest.raises(ValueError, match="expects inputs of shape N×1×28×28"):
        discriminator(torch.randn(5, 784))
    assert MLPGenerator(3, (2,))(torch.randn(7, 3)).shape == (7, 2)
    assert [m.p for m in discriminator.modules() if isinstance(m, torch.nn.Dropout)] == [0.3, 0.3]


def test_a_seeded_1d_gan_brings_d_close_to_the_optimal_discriminator():
    torch.manual_seed(0)
    x = grid(-12, 12, 2401)
    bumps = two_bumps()
    p_data = bumps.pdf(x)
    data = bumps.sample(4096, rng=torch.Generator().manual_seed(0))
    generator = MLPGenerator(4, (1,), hidden=(32, 32))
    discriminator = MLPDiscriminator((1,), hidden=(64, 64))
    before = snapshot_1d(generator, discriminator, x, p_data, samples=5000)
    fit_gan(generator, discriminator, data, epochs=8, batch_size=128, lr=2e-3, progress=False)
    after = snapshot_1d(generator, discriminator, x, p_data, samples=5000)
    assert before["gap"] > 0.4, "an untrained D is ≈ ½ everywhere, far from D* of an untrained G"
    assert after["gap"] < 0.5 * before["gap"]
    assert js_divergence(p_data, after["p_g"], x) < 0.5 * js_divergence(p_data, before["p_g"], x)


def test_nan_data_stops_training_with_advice():
    generator, discriminator = MLPGenerator(2, (1,)), MLPDiscriminator((1,))
    data = torch.randn(256, 1)
    data[3] = float("nan")
    with pytest.raises(TrainingDiverged, match="smaller learning rate"):
        fit_gan(generator, discriminator, data, epochs=1, batch_size=256, progress=False)


def test_pretrained_mnist_gan_caches_curves_and_snapshots(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA", "bundled")
    monkeypatch.setattr(MLPGANRecipe, "training_data", lambda self, device: (torch.rand(128, 1, 28, 28), torch.zeros(128)))
    recipe = MLPGANRecipe(images_seen=256)                 # two epochs of the 128 stand-in digits
    model, info = pretrained(recipe)
    assert info["snapshots"].shape == (2, 16, 1, 28, 28) and info["snapshot_epochs"].tolist() == [1, 2]
    assert set(info["history"]) >= {"d_loss", "g_loss", "d_real", "d_fake", "steps"}
    assert 0 <= info["snapshots"].min() and info["snapshots"].max() <= 1, "snapshots are images in [0, 1]"
    again, info_again = pretrained(recipe)                 # second call: loaded from the cache
    assert torch.equal(info_again["snapshots"], info["snapshots"])
    z = model.sample_latent(3, rng=0)
    assert torch.allclose(model.decode(z), again.decode(z))
    assert torch.allclose(again.discriminator(model.decode(z) * 2 - 1), model.discriminator(model.decode(z) * 2 - 1)), \
        "the discriminator is cached too"


def test_sample_is_repeatable_with_a_seed():
    gan = MLPGANRecipe().build()
    assert torch.equal(gan.sample(3, rng=5), gan.sample(3, rng=5))
    assert not torch.equal(gan.sample(3, rng=5), gan.sample(3, rng=6))
