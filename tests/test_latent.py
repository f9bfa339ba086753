import math

import pytest
import torch
from notebook_code import run_cell_defining

from course_utils.maths.latent import add_direction, ink, interpolate, lerp, sample_latent, slant, slerp
from course_utils.training.dcgan import DCGANRecipe

attribute_vector = run_cell_defining("05_dcgan.ipynb", "attribute_vector", {})["attribute_vector"]


def test_sample_latent_draws_from_the_standard_normal_and_a_seed_repeats_it():
    torch.manual_seed(0)
    z = sample_latent(20_000, 3)
    assert z.shape == (20_000, 3) and z.mean().abs() < 0.02 and (z.std() - 1).abs() < 0.02
    assert torch.equal(sample_latent(4, 3, rng=7), sample_latent(4, 3, rng=7))
    assert torch.equal(sample_latent(4, 3, rng=7), sample_latent(4, 3, rng=torch.Generator().manual_seed(7)))
    assert not torch.equal(sample_latent(4, 3, rng=7), sample_latent(4, 3, rng=8))
    assert sample_latent(2, 3, device="cpu", rng=0).device.type == "cpu"
    with pytest.raises(ValueError, match="rng must be a seed"):
        sample_latent(2, 3, rng=True)
    with pytest.raises(ValueError, match="rng must be a seed"):
        sample_latent(2, 3, rng=0.5)


def test_interpolation_endpoints_and_norms():
    torch.manual_seed(0)
    z0, z1 = torch.randn(100), torch.randn(100)
    for method in ("linear", "spherical"):
        path = interpolate(z0, z1, 7, method)
        assert path.shape == (7, 100)
        assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    # Same length at both ends: slerp stays on the sphere, lerp dips towards the centre (by about 1/√2 midway).
    z1 = z1 * z0.norm() / z1.norm()
    spherical, linear = slerp(z0, z1, torch.linspace(0, 1, 11)), lerp(z0, z1, torch.linspace(0, 1, 11))
    assert torch.allclose(spherical.norm(dim=1), z0.norm().expand(11), rtol=1e-5)
    assert linear.norm(dim=1)[5] / z0.norm() == pytest.approx(1 / math.sqrt(2), abs=0.1)


def test_slerp_follows_the_great_circle_and_handles_parallel_vectors():
    quarter = slerp(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), [1 / 3])
    assert torch.allclose(quarter, torch.tensor([[math.cos(math.pi / 6), math.sin(math.pi / 6)]]), atol=1e-6)
    z = torch.tensor([1.0, 2.0, 3.0])
    assert torch.allclose(slerp(z, 2 * z, [0.5]), 1.5 * z[None]), "parallel vectors fall back to the straight line"


def test_interpolation_input_errors():
    with pytest.raises(ValueError, match="same length"):
        lerp(torch.zeros(3), torch.zeros(4), [0.5])
    with pytest.raises(ValueError, match="method must be one of"):
        interpolate(torch.zeros(3), torch.ones(3), 5, "cubic")
    with pytest.raises(ValueError, match="steps must be an integer"):
        interpolate(torch.zeros(3), torch.ones(3), 1)


def _line_image(shear: float, width: int = 2) -> torch.Tensor:
    """A vertical stroke rows 4..23 whose column moves by ``shear`` per row upwards."""
    image = torch.zeros(1, 1, 28, 28)
    for row in range(4, 24):
        col = round(14 + shear * (13.5 - row))
        image[0, 0, row, col:col + width] = 1.0
    return image


def test_slant_and_ink_measure_what_they_say():
    upright, right, left = _line_image(0.0), _line_image(0.4), _line_image(-0.4)
    assert slant(upright).item() == pytest.approx(0.0, abs=1e-6)
    assert slant(right).item() == pytest.approx(0.4, abs=0.05) and slant(left).item() == pytest.approx(-0.4, abs=0.05)
    assert ink(_line_image(0.0, width=3)).item() == pytest.approx(3 * 20 / 784)
    assert ink(_line_image(0.0, width=3)) > ink(upright)
    with pytest.raises(ValueError, match="N×1×28×28"):
        slant(torch.zeros(28, 28))


def test_notebook_05_attribute_vector_points_along_the_attribute():
    torch.manual_seed(0)
    latents = torch.randn(500, 8)
    direction = attribute_vector(latents, latents[:, 3] - 0.1 * latents[:, 5])
    assert direction.abs().argmax().item() == 3 and direction[3] > 1.5
    moved = add_direction(latents[:4], direction, [-1, 0, 2])
    assert moved.shape == (3, 4, 8) and torch.equal(moved[1], latents[:4])
    assert torch.allclose(moved[2] - moved[1], 2 * direction.expand(4, 8))
    with pytest.raises(ValueError, match="direction of length D"):
        add_direction(latents, torch.zeros(3), [1.0])


@pytest.fixture(scope="module")
def small_trained_gan(bundled_mnist):
    """A width-16 DCGAN trained for 2 epochs on 2,048 bundled digits (64 steps, a few seconds), shared by these tests."""
    (images, _), _ = bundled_mnist
    torch.manual_seed(0)
    recipe = DCGANRecipe(latent_dim=100, width=16, images_seen=4096, batch_size=64)
    gan = recipe.build()
    recipe.train_on(gan, images[:2048], progress=False)
    return gan


@pytest.mark.parametrize("name, attribute", [("ink", ink), ("slant", slant)])
def test_attribute_arithmetic_moves_the_measured_attribute(small_trained_gan, name, attribute):
    rng = torch.Generator().manual_seed(1)
    pool, targets = small_trained_gan.sample_latent(400, rng=rng), small_trained_gan.sample_latent(12, rng=rng)
    direction = attribute_vector(pool, attribute(small_trained_gan.decode(pool)))
    edited = add_direction(targets, direction, [-1.0, 0.0, 1.0])
    images = small_trained_gan.decode(edited.flatten(0, 1))
    measured = attribute(images).view(3, 12)
    assert images.shape == (36, 1, 28, 28)
    less, unchanged, more = measured.mean(dim=1).tolist()
    assert less < unchanged < more, f"{name}: {less:.3f}, {unchanged:.3f}, {more:.3f}"
    assert (measured[2] > measured[0]).float().mean() >= 0.75, "most single digits move the right way too"
