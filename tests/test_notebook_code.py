"""The lines a notebook writes out agree with the library that trains the cached models.

Notebook 05 writes the DCGAN step, notebook 06 the cGAN step, notebook 09 the growth schedule, notebook 10 the
flow-matching step, notebook 02 the perceptual-loss step, and notebook 05 the batch-norm statistics;
each is run here, from the notebook itself, next to the library's version.
"""

import pytest
import torch
import torch.nn.functional as F
from notebook_code import run_cell_defining
from torch import nn

from course_utils.engine.data import to_tanh_range
from course_utils.maths.losses import FeatureExtractor, perceptual_loss
from course_utils.training.autoencoder import AutoencoderRecipe
from course_utils.training.dcgan import DCGANRecipe
from course_utils.training.gan import make_gan_step


def _same_parameters(a: nn.Module, b: nn.Module, atol: float = 0.0) -> bool:
    return all(torch.allclose(p, q, rtol=0, atol=atol) for p, q in zip(a.parameters(), b.parameters()))


def test_notebook_05_step_and_the_library_step_leave_the_same_weights(bundled_mnist):
    (images, _), _ = bundled_mnist
    recipe = DCGANRecipe(width=8)
    real = to_tanh_range(images[:recipe.batch_size])
    torch.manual_seed(0)
    notebook = run_cell_defining("05_dcgan.ipynb", "dcgan_step", {"recipe": recipe, "device": torch.device("cpu"), "torch": torch})
    fresh = notebook["fresh"]
    library = recipe.build()
    library.load_state_dict(fresh.state_dict())
    assert _same_parameters(fresh, library)
    g_opt = torch.optim.Adam(library.generator.parameters(), lr=recipe.g_lr, betas=recipe.betas)
    d_opt = torch.optim.Adam(library.discriminator.parameters(), lr=recipe.d_lr, betas=recipe.betas)
    library_step = make_gan_step(library.generator, library.discriminator, g_opt, d_opt, recipe.latent_dim,
                                 loss=recipe.loss)
    assert recipe.loss == "hinge" and recipe.normalisation == "spectral", "the notebook writes out the hinge step"

    for _ in range(2):                                   # two steps: the optimisers' state must agree too
        torch.manual_seed(1)
        from_notebook = notebook["dcgan_step"](real)
        torch.manual_seed(1)
        from_library = library_step(real)
    assert _same_parameters(fresh, library, atol=1e-6), "the notebook's step and make_gan_step moved the weights differently"
    assert not _same_parameters(fresh, recipe.build()), "the step changed the weights"
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert from_notebook[name].item() == pytest.approx(from_library[name].item(), abs=1e-6), name
    assert all(p.requires_grad for p in fresh.discriminator.parameters()), "D is unfrozen after the notebook's step"


def test_notebook_02_step_and_fit_autoencoder_leave_the_same_weights(trained_classifier, bundled_mnist):
    (images, _), _ = bundled_mnist
    recipe = AutoencoderRecipe(epochs=1, train_images=64)          # one minibatch of 64: exactly one step
    extractor = FeatureExtractor(trained_classifier, recipe.feature_layers)
    batch = images[:recipe.train_images]
    notebook = run_cell_defining("02_perceptual_loss.ipynb", "perceptual_step",
                                 {"recipe": recipe, "device": torch.device("cpu"), "extractor": extractor,
                                  "torch": torch, "F": F})
    terms = notebook["perceptual_step"](batch)
    assert terms["loss"].item() == pytest.approx((terms["feature term"] + recipe.pixel_weight * terms["pixel term"]).item())

    torch.manual_seed(recipe.seed)                                  # the notebook's initial weights
    library = recipe.build()
    assert not _same_parameters(library, notebook["autoencoder"]), "the notebook's step changed the weights"
    recipe.train_on(library, batch, loss_fn=lambda out, x: perceptual_loss(out, x, extractor, pixel_weight=recipe.pixel_weight),
                    progress=False)
    # fit_autoencoder shuffles the 64 rows; the mean over a reordered batch differs only by rounding.
    assert _same_parameters(library, notebook["autoencoder"], atol=1e-6)


def test_notebook_05_batchnorm_statistics_match_torch(bundled_mnist):
    batchnorm_scale_shift = run_cell_defining("05_dcgan.ipynb", "batchnorm_scale_shift", {"torch": torch})[
        "batchnorm_scale_shift"]
    torch.manual_seed(0)
    features = torch.randn(16, 3, 5, 5) + torch.linspace(0, 4, 25).reshape(1, 1, 5, 5)  # position-dependent mean
    scale, shift = batchnorm_scale_shift(features, per="channel")
    assert scale.shape == shift.shape == (3, 5, 5)
    assert torch.allclose(shift, shift[:, :1, :1].expand_as(shift)) and torch.allclose(scale, scale[:, :1, :1].expand_as(scale))
    reference = nn.BatchNorm2d(3, affine=False).train()(features)
    assert torch.allclose(scale * features + shift, reference, atol=1e-5)
    unit_scale, unit_shift = batchnorm_scale_shift(features, per="unit")
    assert unit_shift[0].std() > 1.0, "per unit, each pixel gets its own shift"
    per_unit = nn.BatchNorm1d(75, affine=False).train()(features.flatten(1)).view_as(features)
    assert torch.allclose(unit_scale * features + unit_shift, per_unit, atol=1e-4)
    with pytest.raises(ValueError, match="'channel' or 'unit'"):
        batchnorm_scale_shift(features, per="pixel")


def test_notebook_04_mnist_gan_training_is_what_the_recipe_runs(bundled_mnist, monkeypatch):
    from course_utils.engine.data import Minibatches
    from course_utils.engine.train import train
    from course_utils.training.mlp_gan import MLPGANRecipe

    (images, labels), _ = bundled_mnist
    monkeypatch.setattr(MLPGANRecipe, "training_data", lambda self, device: (images[:128], labels[:128]))
    recipe = MLPGANRecipe(images_seen=256)                      # two epochs of 128 digits: 4 steps
    notebook = run_cell_defining("04_gan_minimax.ipynb", "train_mnist_gan",
                                 {"torch": torch, "make_gan_step": make_gan_step, "Minibatches": Minibatches,
                                  "train": train})
    torch.manual_seed(0)
    by_notebook = recipe.build()
    torch.manual_seed(0)
    by_recipe = recipe.build()
    torch.manual_seed(1)
    record = notebook["train_mnist_gan"](by_notebook, images[:128], recipe)
    torch.manual_seed(1)
    expected = recipe.fit(by_recipe, None)
    assert _same_parameters(by_notebook, by_recipe), "the notebook's loop and MLPGANRecipe.fit trained differently"
    assert torch.equal(record["snapshots"], expected["snapshots"]) and record["snapshot_epochs"].tolist() == [1, 2]


def test_notebook_00_digit_slider_shows_the_chosen_digit_and_leaves_no_figures_open():
    import matplotlib.pyplot as plt

    from course_utils.teaching.viz import show_images

    shown, drawn, images, labels = [], [], torch.rand(5, 1, 28, 28), torch.tensor([3, 1, 4, 1, 5])

    def recording_show_images(image, titles, **options):
        drawn.append(titles)
        return show_images(image, titles, **options)

    plt.close("all")
    notebook = run_cell_defining("00_setup.ipynb", "show_test_digit", {
        "test_images": images, "test_labels": labels, "show_images": recording_show_images, "plt": plt,
        "display": lambda *widgets: shown.extend(widgets)})
    slider = notebook["slider"]
    assert (slider.min, slider.max, slider.continuous_update) == (0, 4, False) and len(shown) == 2
    for step in range(1, 41):
        slider.value = step % 5
    assert drawn[-1] == ["test digit #0: label 3"] and len(drawn) == 41
    slider.value = 2
    assert drawn[-1] == ["test digit #2: label 4"]
    assert len(plt.get_fignums()) <= 1, f"{len(plt.get_fignums())} figures left open after 41 redraws"


def test_notebook_06_cgan_step_and_the_library_step_leave_the_same_weights(bundled_mnist):
    from course_utils.maths.losses import discriminator_hinge_loss, generator_hinge_loss
    from course_utils.models.generative import classes_in_order
    from course_utils.training.conditional import CGANRecipe, make_conditional_hinge_step
    from course_utils.training.gan import frozen

    (images, labels), _ = bundled_mnist
    real, classes = to_tanh_range(images[:16]), labels[:16]
    torch.manual_seed(0)
    notebook = run_cell_defining("06_conditional_wasserstein.ipynb", "cgan_step", {
        "torch": torch, "device": torch.device("cpu"), "to_tanh_range": to_tanh_range, "train_images": images,
        "train_labels": labels, "frozen": frozen, "discriminator_hinge_loss": discriminator_hinge_loss,
        "generator_hinge_loss": generator_hinge_loss, "CGANRecipe": CGANRecipe, "classes_in_order": classes_in_order})
    recipe, fresh = notebook["cgan_recipe"], notebook["fresh"]
    library = recipe.build()
    library.load_state_dict(fresh.state_dict())
    g_opt = torch.optim.Adam(library.generator.parameters(), lr=recipe.g_lr, betas=recipe.betas)
    d_opt = torch.optim.Adam(library.discriminator.parameters(), lr=recipe.d_lr, betas=recipe.betas)
    notebook["g_opt"].load_state_dict(g_opt.state_dict()), notebook["d_opt"].load_state_dict(d_opt.state_dict())
    library_step = make_conditional_hinge_step(library.generator, library.discriminator, g_opt, d_opt)
    before = {name: value.clone() for name, value in fresh.state_dict().items()}
    for _ in range(2):                                   # two steps: the optimisers' state must agree too
        torch.manual_seed(1)
        from_notebook = notebook["cgan_step"](real, classes)
        torch.manual_seed(1)
        from_library = library_step(real, classes)
    assert _same_parameters(fresh, library, atol=1e-6), "the notebook's cGAN step and the library's moved the weights differently"
    assert any(not torch.equal(before[name], value) for name, value in fresh.state_dict().items()), "the step trained"
    for name in ("d_loss", "g_loss"):
        assert from_notebook[name].item() == pytest.approx(from_library[name].item(), abs=1e-6), name


def test_notebook_09_schedule_is_the_library_growth_schedule():
    from course_utils.models.progressive_gan import SIDES
    from course_utils.training.progressive import ProgressiveRecipe, growth_stage

    notebook = run_cell_defining("09_progressive_and_beyond.ipynb", "stage_at", {"SIDES": SIDES})
    recipe = ProgressiveRecipe()
    fractions = torch.linspace(0, 1, 201).tolist() + [0.1, 0.2, 0.3, 0.5, 0.999999]
    for fraction in fractions:
        level, alpha = notebook["stage_at"](fraction, recipe.phases)
        expected = growth_stage(fraction, recipe.phases)
        assert level == expected[0] and alpha == pytest.approx(expected[1]), fraction
        assert (level, alpha) == pytest.approx(recipe.stage_at(fraction))
    odd = (0.2, 0.3, 0.1, 0.1, 0.3)
    assert all(notebook["stage_at"](f, odd) == pytest.approx(growth_stage(f, odd)) for f in fractions)


def test_notebook_10_step_is_the_library_loss_with_both_switches_off():
    from course_utils.training.flow_matching import flow_matching_loss, point_on_path

    notebook = run_cell_defining("10_diffusion_and_flow_matching.ipynb", "flow_matching_step",
                                 {"torch": torch, "point_on_path": point_on_path})
    data = torch.randn(64, 2)
    torch.manual_seed(0)
    by_notebook = nn.Linear(3, 2)
    by_library = nn.Linear(3, 2)
    by_library.load_state_dict(by_notebook.state_dict())
    velocity = lambda net: (lambda x, t: net(torch.cat([x, t[:, None]], dim=1)))        # noqa: E731
    notebook_opt = torch.optim.SGD(by_notebook.parameters(), lr=0.1)
    library_opt = torch.optim.SGD(by_library.parameters(), lr=0.1)
    for seed in range(3):
        torch.manual_seed(seed)
        notebook_loss = notebook["flow_matching_step"](velocity(by_notebook), notebook_opt, data)
        torch.manual_seed(seed)
        loss = flow_matching_loss(velocity(by_library), data, time_sampling="uniform")
        library_opt.zero_grad()
        loss.backward()
        library_opt.step()
        assert notebook_loss == pytest.approx(loss.item(), rel=1e-6)
    assert _same_parameters(by_notebook, by_library, atol=1e-6)
    torch.manual_seed(0)
    other = flow_matching_loss(velocity(by_library), data, time_sampling="logit_normal")
    torch.manual_seed(0)
    assert other.item() != pytest.approx(flow_matching_loss(velocity(by_library), data).item()), "the switch matters"
