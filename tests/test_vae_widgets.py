"""Notebook 03's latent sliders, image editor and exercises, tested without a browser."""

import time

import pytest
import torch

from course_utils.maths.losses import gaussian_kl, reparameterize
from course_utils.models.vae import VAE
from course_utils.teaching.exercises import vae as exercises
from course_utils.teaching.viz import image_png
from course_utils.teaching.widgets import decode_latent, edit_latent, image_editor, latent_sliders, most_used_dims
from course_utils.training.vae import VAERecipe


@pytest.fixture(scope="module")
def small_vae(bundled_mnist):
    """A 20-D VAE trained for 3 epochs: enough for decoded digits to depend on the code."""
    (images, _), _ = bundled_mnist
    torch.manual_seed(0)
    model = VAE()
    VAERecipe(images_seen=3 * len(images)).train_on(model, images, progress=False)
    return model


def test_decode_latent_returns_a_digit_that_changes_with_the_code(small_vae):
    code = torch.zeros(20)
    image = decode_latent(small_vae, code)
    assert image.shape == (28, 28) and 0 <= image.min() and image.max() <= 1
    code[most_used_dims(small_vae, torch.rand(10, 1, 28, 28), 1)[0]] = 2.5
    moved = decode_latent(small_vae, code)
    assert (moved - image).abs().sum() > 5          # several pixels' worth of ink moved
    assert torch.equal(decode_latent(small_vae, [0.0] * 20), image)
    with pytest.raises(ValueError, match="20-D latent space"):
        decode_latent(small_vae, [0.0, 1.0])


def test_edit_latent_changes_only_the_chosen_dimension(small_vae, bundled_mnist):
    _, (test_images, _) = bundled_mnist
    dim = most_used_dims(small_vae, test_images[:200], 1)[0]
    code, reconstruction, edited = edit_latent(small_vae, test_images[0], dim, 3.0)
    assert code.shape == (20,) and reconstruction.shape == edited.shape == (28, 28)
    same_code, same, _ = edit_latent(small_vae, test_images[0], dim, float(code[dim]))
    assert torch.allclose(same, reconstruction, atol=1e-6) and torch.equal(same_code, code)
    assert (edited - reconstruction).abs().sum() > 5
    with pytest.raises(ValueError, match="dim must be between 0 and 19"):
        edit_latent(small_vae, test_images[0], 20, 0.0)


def test_most_used_dims_finds_the_dimensions_with_kl(small_vae, bundled_mnist):
    _, (test_images, _) = bundled_mnist
    dims = most_used_dims(small_vae, test_images[:200], 5)
    mu, logvar = small_vae.encode(test_images[:200])
    per_dim = (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)).mean(0)          # the KL of each dimension, by hand
    assert len(set(dims)) == 5 and per_dim[dims].min() >= per_dim.sort(descending=True).values[4] - 1e-6


def test_image_png_is_a_scaled_png():
    data = image_png(torch.rand(28, 28), scale=4)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 112 and int.from_bytes(data[20:24], "big") == 112


def test_slider_widget_redraws_fast_when_a_slider_moves(small_vae):
    box = latent_sliders(small_vae, torch.zeros(20), dims=[0, 3, 5])
    sliders, picture = box.children[0].children, box.children[1]
    assert [s.description for s in sliders] == ["z[0]", "z[3]", "z[5]"] and not sliders[0].continuous_update
    before = picture.value
    start = time.perf_counter()
    sliders[1].value = 2.5
    assert time.perf_counter() - start < 0.5          # well under a second on a CPU
    assert picture.value != before


def test_image_editor_starts_at_the_digit_code_and_shows_the_edit(small_vae, bundled_mnist):
    _, (test_images, _) = bundled_mnist
    editor = image_editor(small_vae, test_images[:10])
    (index, dim, value), pictures, status = editor.children[0].children, editor.children[1].children, editor.children[2]
    code = small_vae.encode(test_images[:1])[0][0].detach()
    assert value.value == pytest.approx(round(float(code[0]), 1))
    edited_before = pictures[2].children[1].value
    value.value = 2.9 if value.value < 0 else -2.9
    assert pictures[2].children[1].value != edited_before and "now set to" in status.value
    index.value = 3                                     # a new digit resets the slider to that digit's own value
    assert value.value == pytest.approx(round(float(small_vae.encode(test_images[3:4])[0][0, 0].detach()), 1))


class _InkCodeModel:
    """A stand-in for a 1-D VAE whose code is 10 × the image's mean ink, so a code can lie beyond the slider's ±3."""

    latent_dim, device = 1, torch.device("cpu")

    def encode(self, images):
        mu = 10 * images.mean(dim=(1, 2, 3))[:, None]
        return mu, torch.zeros_like(mu)

    def decode(self, z):
        return (z / 10).reshape(-1, 1, 1, 1).expand(-1, 1, 28, 28)


def test_image_editor_redraws_a_new_digit_even_when_the_slider_stays_clamped():
    images = torch.stack([torch.full((1, 28, 28), 0.4), torch.full((1, 28, 28), 0.5)])   # codes 4 and 5, both > 3
    editor = image_editor(_InkCodeModel(), images)
    (index, _, value), columns, status = editor.children[0].children, editor.children[1].children, editor.children[2]
    assert value.value == 3.0 and columns[0].children[1].value == image_png(images[0], scale=5)
    index.value = 1                                     # the slider asks for 5.0, is clamped to 3.0: no change event
    assert value.value == 3.0
    assert columns[0].children[1].value == image_png(images[1], scale=5), "the picture still shows digit #0"
    assert columns[1].children[1].value == image_png(images[1, 0], scale=5)
    assert status.value == "z[0] of this digit is +5.00; now set to +3.0"


def test_latent_sliders_reject_a_dimension_the_model_does_not_have():
    model = VAE()
    with pytest.raises(ValueError, match=r"dims must be latent dimensions between 0 and 19, got \[25\]"):
        latent_sliders(model, torch.zeros(20), dims=[3, 25])
    with pytest.raises(ValueError, match="20-D latent space, but start has 2 values"):
        latent_sliders(model, torch.zeros(2), dims=[0])


def test_image_editor_needs_at_least_one_image():
    with pytest.raises(ValueError, match=r"image_editor needs at least one image, got an empty batch of shape \(0, 1, 28, 28\)"):
        image_editor(VAE(), torch.zeros(0, 1, 28, 28))


# --- exercises ---

def test_exercise_references_pass_and_stubs_are_not_attempted():
    assert exercises.gaussian_kl.evaluate(gaussian_kl).passed
    assert exercises.reparameterize.evaluate(reparameterize).passed

    def stub(*args):
        raise NotImplementedError

    assert exercises.gaussian_kl.evaluate(stub).status == "not attempted"
    assert exercises.reparameterize.evaluate(stub).status == "not attempted"


@pytest.mark.parametrize("wrong, hint", [
    (lambda mu, lv: (mu**2 + lv.exp() - lv - 1).sum(-1), "factor of 2"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv).sum(-1), "−1"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1).sum(), "one KL per row"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() - lv - 1), "sum over the latent dimensions"),
    (lambda mu, lv: 0.5 * (mu**2 + lv.exp() ** 2 - 2 * lv - 1).sum(-1), "σ² = exp(logvar)"),
])
def test_kl_exercise_names_the_mistake(wrong, hint):
    feedback = exercises.gaussian_kl.evaluate(wrong)
    assert feedback.status == "wrong" and hint in feedback.message, feedback.message


@pytest.mark.parametrize("wrong, hint", [
    (lambda mu, lv, eps: mu + lv.exp() * eps, "standard deviation"),
    (lambda mu, lv, eps: mu + lv * eps, "not σ"),
    (lambda mu, lv, eps: torch.exp(0.5 * lv) * eps, "add mu"),
    (lambda mu, lv, eps: mu + torch.exp(0.5 * lv) * torch.randn_like(mu), "use the eps"),
])
def test_reparameterize_exercise_names_the_mistake(wrong, hint):
    torch.manual_seed(0)
    feedback = exercises.reparameterize.evaluate(wrong)
    assert feedback.status == "wrong" and hint in feedback.message, feedback.message
