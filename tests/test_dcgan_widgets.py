import time

import matplotlib.pyplot as plt
import pytest
import torch
from ipywidgets import Image, VBox

from course_utils.maths.latent import ink, slant
from course_utils.models.dcgan import DCGAN
from course_utils.models.vae import VAE
from course_utils.teaching.widgets import (
    arithmetic_explorer,
    arithmetic_frames,
    image_editor,
    interpolation_explorer,
    interpolation_frames,
    latent_sliders,
)


@pytest.fixture(scope="module")
def gan():
    torch.manual_seed(0)
    return DCGAN(width=32).eval()


def test_interpolation_frames_start_and_end_at_the_chosen_samples(gan):
    latents = gan.sample_latent(6, rng=0)
    images, labels = interpolation_frames(gan, latents, 2, 4, steps=9, method="linear")
    assert images.shape == (9, 1, 28, 28) and len(labels) == 9
    assert torch.allclose(images[0], gan.decode(latents[2:3])[0], atol=1e-5)
    assert torch.allclose(images[-1], gan.decode(latents[4:5])[0], atol=1e-5)
    assert labels[0].startswith("t=0.00") and labels[-1].startswith("t=1.00")
    with pytest.raises(ValueError, match="end must be an index between 0 and 5"):
        interpolation_frames(gan, latents, 0, 6)


def test_arithmetic_frames_report_the_measured_attribute(gan):
    targets, direction = gan.sample_latent(8, rng=1), torch.randn(100)
    images, labels, mean = arithmetic_frames(gan, targets, direction, 0.0, ink)
    assert torch.allclose(images, gan.decode(targets)) and len(labels) == 8
    assert mean == pytest.approx(ink(images).mean().item())
    moved, _, _ = arithmetic_frames(gan, targets, direction, 1.5, slant)
    assert not torch.allclose(moved, images)


def test_updates_take_well_under_a_second_on_a_cpu(gan):
    latents = gan.sample_latent(10, rng=2)
    start = time.perf_counter()
    interpolation_frames(gan, latents, 0, 9, steps=11)
    arithmetic_frames(gan, latents, latents[0], 1.0, slant)
    assert time.perf_counter() - start < 0.5


def _picture(explorer) -> Image:
    (picture,) = [child for child in explorer.children if isinstance(child, Image)]
    return picture


def test_interpolation_explorer_redraws_its_picture_when_a_control_moves(gan):
    explorer = interpolation_explorer(gan, gan.sample_latent(5, rng=3), steps=6)
    assert isinstance(explorer, VBox)
    start, end, method = explorer.children[0].children
    assert not start.continuous_update and not end.continuous_update
    picture = _picture(explorer)
    assert picture.value[:8] == b"\x89PNG\r\n\x1a\n", "drawn once when built"
    before = picture.value
    clock = time.perf_counter()
    end.value = 3
    assert time.perf_counter() - clock < 1.0, "a redraw takes well under a second on a CPU"
    assert picture.value != before
    before = picture.value
    method.value = "linear"
    assert picture.value != before


def test_arithmetic_explorer_redraws_its_picture_when_a_control_moves(gan):
    latents = gan.sample_latent(5, rng=4)
    explorer = arithmetic_explorer(gan, latents, {"ink": latents[0], "slant": latents[1]}, {"ink": ink, "slant": slant})
    name, strength = explorer.children[0].children
    assert name.options == ("ink", "slant") and not strength.continuous_update
    picture = _picture(explorer)
    before = picture.value
    assert (strength.min, strength.max) == (-1.0, 1.0)
    strength.value = 0.75
    assert picture.value != before
    before = picture.value
    name.value = "slant"
    assert picture.value != before


def test_show_image_rows_labels_rows_and_columns():
    from course_utils.teaching.viz import show_image_rows

    fig = show_image_rows(torch.rand(3, 5, 1, 28, 28), ["a", "b", "c"], col_labels=[0.0, 0.25, 0.5, 0.75, 1.0], title="t")
    axes = fig.axes
    assert len(axes) == 15 and axes[0].get_ylabel() == "a" and axes[10].get_ylabel() == "c"
    assert axes[1].get_title() == "0.25"
    with pytest.raises(ValueError, match="3 rows of images but 2 row labels"):
        show_image_rows(torch.rand(3, 5, 1, 28, 28), ["a", "b"])


def _controls(widget) -> list:
    """Every slider and menu inside ``widget``, found by walking its boxes."""
    children = getattr(widget, "children", None)
    if children is not None:
        return [control for child in children for control in _controls(child)]
    return [widget] if hasattr(widget, "options") or hasattr(widget, "max") else []


def _next_value(control, turn: int):
    """A value for ``control`` that differs from its last one: a menu's options in turn, a slider's two ends in turn."""
    values = control.options if hasattr(control, "options") else (control.min, control.max)
    return values[turn % len(values)]


def test_forty_redraws_of_every_widget_leave_no_figures_open(gan):
    torch.manual_seed(0)
    vae, latents = VAE(), gan.sample_latent(3, rng=5)
    widgets = {
        "latent_sliders": latent_sliders(vae, torch.zeros(20), dims=[0, 1]),
        "image_editor": image_editor(vae, torch.rand(5, 1, 28, 28)),
        "interpolation_explorer": interpolation_explorer(gan, latents, steps=2),
        "arithmetic_explorer": arithmetic_explorer(gan, latents[:2], {"ink": latents[0], "slant": latents[1]},
                                                   {"ink": ink, "slant": slant}),
    }
    plt.close("all")
    for name, widget in widgets.items():
        controls = _controls(widget)
        for step in range(40):
            control = controls[step % len(controls)]
            control.value = _next_value(control, step // len(controls))
        assert len(plt.get_fignums()) <= 2, f"{len(plt.get_fignums())} figures open after 40 redraws of {name}"


def test_interpolation_explorer_needs_two_latents(gan):
    with pytest.raises(ValueError, match="needs at least two latent vectors to walk between, got 1"):
        interpolation_explorer(gan, gan.sample_latent(1, rng=0))


def test_arithmetic_explorer_needs_a_target_and_a_direction(gan):
    latents = gan.sample_latent(2, rng=0)
    with pytest.raises(ValueError, match="at least one target and one attribute vector, got 0 targets and 1 vectors"):
        arithmetic_explorer(gan, latents[:0], {"ink": latents[0]}, {"ink": ink})
