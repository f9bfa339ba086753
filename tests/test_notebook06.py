"""Notebook 06's written-out lines and exercises: the WGAN-GP step agrees with the library's, the 1-D critic meets
the exact Wasserstein distance, power iteration fits in ten lines and finds σ, and the exercises' checkers catch the
usual mistakes."""

import pytest
import torch
import torch.nn.functional as F
from IPython.display import Markdown
from notebook_code import cell_defining, run_cell_defining, run_experiment_cell
from torch import nn

from course_utils.engine.data import to_tanh_range
from course_utils.maths.densities import gaussian_pdf, grid, wasserstein_1
from course_utils.maths.losses import gradient_penalty
from course_utils.teaching.exercises import wasserstein as exercises
from course_utils.training.wgan import make_wgan_gp_step

NOTEBOOK = "06_conditional_wasserstein.ipynb"


def _full_budget(full, quick):
    return full


def _critic_namespace():
    namespace = {"torch": torch, "nn": nn, "gradient_penalty": gradient_penalty}
    run_cell_defining(NOTEBOOK, "critic_step", namespace)
    return namespace


def test_the_notebook_wgan_gp_step_and_the_library_step_leave_the_same_weights(bundled_mnist):
    (images, _), _ = bundled_mnist
    namespace = _critic_namespace()
    torch.manual_seed(0)
    namespace.update(train_images=images, to_tanh_range=to_tanh_range, device=torch.device("cpu"), print=lambda *a: None)
    run_cell_defining(NOTEBOOK, "wgan_gp_step", namespace)             # builds the networks and takes 3 steps
    recipe, fresh = namespace["wgan_recipe"], namespace["fresh"]
    library = recipe.build()
    library.load_state_dict(fresh.state_dict())
    g_opt = torch.optim.Adam(library.generator.parameters(), lr=recipe.g_lr, betas=recipe.betas)
    d_opt = torch.optim.Adam(library.discriminator.parameters(), lr=recipe.d_lr, betas=recipe.betas)
    namespace["g_opt"].state.clear(), namespace["d_opt"].state.clear()   # both start from fresh optimisers here
    library_step = make_wgan_gp_step(library.generator, library.discriminator, g_opt, d_opt, recipe.latent_dim,
                                     n_critic=recipe.n_critic, penalty_weight=recipe.penalty_weight)
    batches = namespace["batches"]
    torch.manual_seed(1)
    notebook_values = namespace["wgan_gp_step"](batches)
    torch.manual_seed(1)
    library_values = library_step(torch.cat(batches))                   # the n_critic batches in one call
    for mine, theirs in zip(fresh.parameters(), library.parameters()):
        assert torch.allclose(mine, theirs, atol=1e-6), "the notebook's step and make_wgan_gp_step moved the weights differently"
    assert notebook_values["g_loss"].item() == pytest.approx(library_values["g_loss"].item(), abs=1e-6)
    assert all(p.requires_grad for p in fresh.discriminator.parameters()), "the critic is trainable again afterwards"


def test_the_1d_critic_estimates_the_exact_w1_within_5_percent_for_three_shifts():
    namespace = _critic_namespace()
    x = grid(-3.0, 10.0, 6001)
    namespace.update(budget=_full_budget, spread=0.3, x=x, wasserstein_1=wasserstein_1, gaussian_pdf=gaussian_pdf,
                     display=lambda *a: None, Markdown=Markdown)
    run_cell_defining(NOTEBOOK, "fit_1d_critic", namespace)
    for shift, by_weight in namespace["critics"].items():
        exact = wasserstein_1(gaussian_pdf(x, shift, 0.3), gaussian_pdf(x, 0.0, 0.3), x).item()
        assert exact == pytest.approx(shift, rel=1e-3)
        tight = namespace["critic_estimate"](by_weight[100.0], shift)
        assert tight == pytest.approx(exact, rel=0.05), f"shift {shift}: λ = 100 estimates {tight:.3f}"
        loose = namespace["critic_estimate"](by_weight[10.0], shift)
        assert loose == pytest.approx(exact * (1 + exact / 20), rel=0.05), "λ = 10 overshoots as the soft constraint predicts"


def test_the_notebook_power_iteration_fits_in_ten_lines_and_finds_sigma():
    namespace = {"torch": torch, "nn": nn}
    definition = cell_defining(NOTEBOOK, "power_iteration").split("\n\n")[0]   # the def, up to the first blank line
    exec(compile(definition, NOTEBOOK, "exec"), namespace)
    lines = definition.splitlines()
    assert len(lines) <= 10, f"power iteration takes {len(lines)} lines"
    torch.manual_seed(0)
    for weight in (torch.randn(32, 1, 4, 4), torch.randn(64, 32, 4, 4), torch.randn(1, 64, 7, 7)):
        exact = torch.linalg.matrix_norm(weight.flatten(1), ord=2)
        assert namespace["power_iteration"](weight).item() == pytest.approx(exact.item(), rel=0.01)


def test_the_clipping_experiment_shows_a_clipped_critic_far_below_w1(capsys):
    namespace = _critic_namespace()
    x = grid(-3.0, 10.0, 6001)
    namespace.update(budget=_full_budget, spread=0.3, x=x, wasserstein_1=wasserstein_1, gaussian_pdf=gaussian_pdf,
                     exercises=exercises, bump_samples=lambda count, shift: torch.randn(count, 1) * 0.3 + shift)
    namespace["critic_estimate"] = lambda critic, shift, count=20_000: (
        critic(namespace["bump_samples"](count, shift)).mean() - critic(namespace["bump_samples"](count, 0.0)).mean()).item()
    outcome = run_experiment_cell(NOTEBOOK, "my_clip = 0.01", namespace)["outcome"]
    assert outcome["estimate"] < 0.2 * outcome["exact"], outcome
    assert "✓ weight clipping: with weights clipped to ±0.01" in capsys.readouterr().out


# --- the exercises' checkers ---

def _cbn(x, labels, gamma, beta):
    mean, variance = x.mean(dim=(0, 2, 3), keepdim=True), x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
    return gamma[labels][:, :, None, None] * (x - mean) / torch.sqrt(variance + 1e-5) + beta[labels][:, :, None, None]


def test_conditional_batch_norm_checker_passes_the_formula_and_names_the_usual_mistakes():
    assert exercises.conditional_batch_norm.evaluate(_cbn).passed
    first_class = exercises.conditional_batch_norm.evaluate(
        lambda x, labels, gamma, beta: gamma[0][None, :, None, None] * F.batch_norm(x, None, None, training=True)
        + beta[0][None, :, None, None])
    assert not first_class.passed and "gamma[labels]" in first_class.message
    whole_batch = exercises.conditional_batch_norm.evaluate(
        lambda x, labels, gamma, beta: gamma[labels][:, :, None, None] * (x - x.mean()) / (x.var(unbiased=False) + 1e-5).sqrt()
        + beta[labels][:, :, None, None])
    assert not whole_batch.passed and "one mean and variance per channel" in whole_batch.message


def _penalty(critic, real, fake, epsilon, weight, create_graph=True, power=2, offset=1.0):
    mixed = (epsilon * real + (1 - epsilon) * fake).requires_grad_(True)
    (gradients,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=create_graph)
    return weight * (gradients.flatten(1).norm(dim=1) - offset).abs().pow(power).mean()


def test_gradient_penalty_checker_passes_the_formula_and_names_the_usual_mistakes(capsys):
    assert exercises.check_gradient_penalty(_penalty).passed
    no_graph = exercises.check_gradient_penalty(lambda *args: _penalty(*args, create_graph=False))
    assert not no_graph.passed and "create_graph=True" in no_graph.message
    to_zero = exercises.check_gradient_penalty(lambda *args: _penalty(*args, offset=0.0))
    assert not to_zero.passed and "pushing the slope to 0" in to_zero.message
    absolute = exercises.check_gradient_penalty(lambda *args: _penalty(*args, power=1))
    assert not absolute.passed and "square the distance" in absolute.message
    assert exercises.gradient_penalty.evaluate(lambda *args: None).status == "not attempted"


def test_the_penalty_exercise_agrees_with_the_library_on_its_cases():
    for critic, real, fake, epsilon, weight in exercises.gradient_penalty.cases:
        torch.manual_seed(0)
        expected, _ = gradient_penalty(critic, real, fake, weight)
        torch.manual_seed(0)
        drawn = torch.rand(epsilon.shape)                          # the ε the library drew with the same seed
        assert _penalty(critic, real, fake, drawn, weight).item() == pytest.approx(expected.item(), rel=1e-5)


def test_the_clipping_judge_reads_a_loose_and_a_tight_clip():
    tight = exercises.clipping_experiment.evaluate({"clip": 0.01, "estimate": 0.02, "exact": 2.0})
    loose = exercises.clipping_experiment.evaluate({"clip": 1.0, "estimate": 1.9, "exact": 2.0})
    assert tight.passed and "1.0% of it" in tight.message and loose.passed and "0.01" in loose.message
    assert not exercises.clipping_experiment.evaluate({"clip": 0.0, "estimate": 0.0, "exact": 2.0}).passed
