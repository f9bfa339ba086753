"""Experiment exercises: the student changes one thing, runs the notebook's cell, and the checker reads the outcome.

Each judge is tested on outcomes that pass, fail and cannot be read; and each notebook's experiment cell is run here
with the change a student would make (the notebook tests run it unchanged, with nothing to measure), so the cell and
its judge are checked together on real measurements.
"""

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F
from notebook_code import run_cell_defining, run_experiment_cell
from torch import nn

from course_utils.teaching.exercises import ERROR, NOT_ATTEMPTED, PASSED, WRONG, Experiment
from course_utils.teaching.exercises import dcgan as dcgan_exercises
from course_utils.teaching.exercises import gan as gan_exercises
from course_utils.teaching.exercises import mse as mse_exercises
from course_utils.teaching.exercises import perceptual as perceptual_exercises
from course_utils.teaching.exercises import vae as vae_exercises
from course_utils.teaching.viz import show_images

# --- the Experiment class ---

def _judge_positive(outcome):
    return outcome > 0, f"measured {outcome}"


def test_experiment_reports_pass_wrong_and_not_run(capsys):
    experiment = Experiment(name="sign", judge=_judge_positive, expects="a number", outcome_type=(int, float))
    assert experiment.evaluate(3).status == PASSED and experiment.evaluate(3).message == "✓ sign: measured 3"
    assert experiment.evaluate(-1).status == WRONG and experiment.evaluate(-1).message.startswith("✗ sign: measured -1")
    not_run = experiment.evaluate(None)
    assert not_run.status == NOT_ATTEMPTED and "not run yet" in not_run.message
    experiment.check(None)
    assert "not run yet" in capsys.readouterr().out


def test_an_unreadable_outcome_becomes_feedback_not_a_stack_trace(capsys):
    experiment = Experiment(name="sign", judge=_judge_positive, expects="a number", outcome_type=(int, float))
    feedback = experiment.evaluate("three")
    assert feedback.status == ERROR and "run the experiment cell" in feedback.message
    assert "expected a number, got 'three' (a str)" in feedback.message
    mse_exercises.median_experiment.check({"prediction": 0.5})            # no targets: still only a message
    assert capsys.readouterr().out.startswith("✗ L1 instead of MSE: could not read the outcome (KeyError")


# --- 01: L1 picks the median ---

def test_median_judge_tells_the_median_from_the_mean():
    targets = torch.cat([torch.full((30,), 0.15), torch.full((70,), 0.85)])
    judge = mse_exercises.median_experiment.evaluate
    assert judge({"prediction": 0.84, "targets": targets}).status == PASSED
    mean = judge({"prediction": 0.64, "targets": targets})
    assert mean.status == WRONG and "mean *absolute* error" in mean.message
    neither = judge({"prediction": 0.3, "targets": targets})
    assert neither.status == WRONG and "neither the mean (0.64) nor the median (0.85)" in neither.message


@pytest.mark.parametrize("change, status", [
    ("my_loss = lambda prediction, target: (prediction - target).abs().mean()", "✓"),
    ("my_loss = F.mse_loss", "✗"),
])
def test_notebook_01_experiment_l1_finds_the_majority_colour(change, status, capsys):
    from course_utils.models.regressor import MLPRegressor
    from course_utils.teaching.toy_problems import two_mode_targets
    from course_utils.training.regression import fit_regressor

    torch.manual_seed(0)
    namespace = run_experiment_cell("01_mse_blurriness.ipynb", change, {
        "torch": torch, "F": F, "MLPRegressor": MLPRegressor, "fit_regressor": fit_regressor,
        "two_mode_targets": two_mode_targets, "budget": lambda full, quick: full})
    prediction = namespace["outcome"]["prediction"]
    assert prediction == pytest.approx(0.85 if status == "✓" else 0.64, abs=0.05)
    assert capsys.readouterr().out.startswith(f"{status} L1 instead of MSE")


# --- 02: which layers to match ---

def _layer_outcome(layers, pixel_ratio):
    course = {"accuracy": 0.88, "pixel_mse": 0.02, "sharpness": 0.055}
    return {"layers": layers, "course": course, "yours": {**course, "pixel_mse": 0.02 * pixel_ratio}}


def test_layer_judge_asks_for_a_change_and_reads_the_pixel_drift():
    judge = perceptual_exercises.layer_experiment.evaluate
    unchanged = judge(_layer_outcome(("conv1", "conv2"), 1.0))
    assert unchanged.status == WRONG and "change `my_layers`" in unchanged.message
    deep = judge(_layer_outcome(("hidden",), 3.0))
    assert deep.status == PASSED and "3.0× as large" in deep.message and "do not pin the pixels down" in deep.message
    shallow = judge(_layer_outcome(("conv1",), 1.1))
    assert shallow.status == PASSED and "Shallow layers keep the pixels close" in shallow.message


def test_notebook_02_experiment_matching_only_the_deep_layer_lets_pixels_drift(trained_classifier, bundled_mnist, capsys):
    from course_utils.evaluation.metrics import sharpness
    from course_utils.maths.losses import FeatureExtractor, perceptual_loss
    from course_utils.training.autoencoder import AutoencoderRecipe
    from course_utils.training.classifier import accuracy

    (images, _), (test_images, test_labels) = bundled_mnist
    recipe = AutoencoderRecipe(epochs=3, train_images=1000)
    extractor = FeatureExtractor(trained_classifier, recipe.feature_layers)
    torch.manual_seed(recipe.seed)
    course = recipe.build()
    recipe.train_on(course, images[:1000], loss_fn=lambda out, x: perceptual_loss(out, x, extractor, pixel_weight=1.0),
                    progress=False)
    namespace = run_experiment_cell("02_perceptual_loss.ipynb", 'my_layers = ("hidden",)', {
        "torch": torch, "F": F, "FeatureExtractor": FeatureExtractor, "perceptual_loss": perceptual_loss,
        "sharpness": sharpness, "accuracy": accuracy, "recipe": recipe,
        "classifier": trained_classifier, "images": images[:1000], "test_images": test_images[:500],
        "test_labels": test_labels[:500], "device": torch.device("cpu"), "autoencoders": {"perceptual": course},
        "originals": test_images[:10], "show_images": show_images, "plt": plt})
    outcome = namespace["outcome"]
    assert outcome["yours"]["pixel_mse"] > 1.5 * outcome["course"]["pixel_mse"], outcome
    assert capsys.readouterr().out.startswith("✓ which layers to match: with ('hidden',)")


# --- 03: the importance-weighted bound ---

def test_log_mean_exp_exercise_accepts_logsumexp_and_explains_mistakes():
    exercise = vae_exercises.log_mean_exp
    assert exercise.evaluate(lambda w: torch.logsumexp(w, 0) - torch.log(torch.tensor(float(w.shape[0])))).status == PASSED
    naive = exercise.evaluate(lambda w: torch.exp(w).mean(0).log())
    assert naive.status == WRONG and naive.failed_case == 3 and "underflows" in naive.message
    assert "mean of the logs" in exercise.evaluate(lambda w: w.mean(0)).message
    assert "subtract log K" in exercise.evaluate(lambda w: torch.logsumexp(w, 0)).message


def test_bound_judge_wants_a_bound_that_rises_with_k():
    judge = vae_exercises.bound_experiment.evaluate
    assert judge({1: -110.0, 10: -106.0, 100: -104.5}).status == PASSED
    assert judge({1: -110.0, 10: -106.0}).status == WRONG
    assert "should rise" in judge({1: -104.0, 10: -106.0, 100: -110.0}).message
    assert "not finite" in judge({1: float("-inf"), 10: -106.0, 100: -104.0}).message


def test_notebook_03_experiment_the_bound_tightens_with_k(bundled_mnist, capsys):
    from course_utils.maths.losses import bernoulli_log_likelihood, reparameterize
    from course_utils.models.vae import VAE
    from course_utils.training.vae import VAERecipe

    (images, _), (test_images, _) = bundled_mnist
    torch.manual_seed(0)
    model = VAE()
    VAERecipe(images_seen=2 * len(images)).train_on(model, images, progress=False)
    model.eval()
    namespace = run_cell_defining("03_vae_elbo.ipynb", "log_weights", {
        "torch": torch, "model": model, "test_images": test_images, "reparameterize": reparameterize,
        "bernoulli_log_likelihood": bernoulli_log_likelihood, "exercises": vae_exercises,
        "my_log_mean_exp": lambda w: torch.logsumexp(w, 0) - torch.log(torch.tensor(float(w.shape[0])))})
    bounds = namespace["outcome"]
    assert bounds[1] < bounds[10] < bounds[100] < 0
    assert capsys.readouterr().out.startswith("✓ the bound tightens with K: K=1:")


# --- 04: D's learning rate on the ring ---

def test_ring_judge_rejects_the_rates_already_shown_and_names_what_it_sees():
    judge = gan_exercises.ring_experiment.evaluate
    shown = judge({"d_lr": 1e-4, "modes_covered": [1, 0, 1], "high_quality": [0.1, 0.0, 0.1]})
    assert shown.status == WRONG and "already shown" in shown.message
    spread = judge({"d_lr": 3e-3, "modes_covered": [3, 3, 6], "high_quality": [0.5, 0.4, 0.6]})
    assert spread.status == PASSED and "3× as fast as G, 3 runs covered 3/8 modes (50% high quality)" in spread.message
    assert "No run collapsed" in spread.message and "varies from seed to seed" in spread.message
    blurred = judge({"d_lr": 3e-4, "modes_covered": [6, 6, 6], "high_quality": [0.2, 0.35, 0.35]})
    assert "fewer than 40 %" in blurred.message and "varies" not in blurred.message
    collapsed = judge({"d_lr": 3e-5, "modes_covered": [1, 0, 1], "high_quality": [0.1, 0.0, 0.1]})
    assert collapsed.status == PASSED and "Every run collapsed" in collapsed.message
    edge = judge({"d_lr": 2e-4, "modes_covered": [1, 5, 4], "high_quality": [0.1, 0.3, 0.3]})
    assert "near the edge" in edge.message
    assert judge({"d_lr": 3e-3, "modes_covered": [3], "high_quality": []}).status == WRONG


def test_notebook_04_experiment_a_faster_discriminator_keeps_g_spread_out(capsys):
    from course_utils.engine.device import seed_everything
    from course_utils.evaluation.metrics import mode_coverage
    from course_utils.maths.densities import ring_of_gaussians
    from course_utils.models.mlp_gan import MLPDiscriminator, MLPGenerator
    from course_utils.training.gan import fit_gan

    ring = ring_of_gaussians(modes=8, radius=2.0, std=0.05)
    namespace = run_experiment_cell("04_gan_minimax.ipynb", "my_d_lr = 3e-3", {
        "torch": torch, "seed_everything": seed_everything, "fit_gan": fit_gan, "mode_coverage": mode_coverage,
        "MLPGenerator": MLPGenerator, "MLPDiscriminator": MLPDiscriminator, "device": torch.device("cpu"),
        "ring": ring, "ring_data": ring.sample(256 * 25, rng=torch.Generator().manual_seed(0)), "ring_epochs": 60,
        "gan_exercises": gan_exercises})
    covered = namespace["outcome"]["modes_covered"]
    assert len(covered) == 3 and min(covered) >= 2, f"D three times faster than G should never collapse: {covered}"
    assert capsys.readouterr().out.startswith("✓ D's learning rate on the ring: with D learning 3× as fast as G, 3 runs")


# --- 05: a checkerboard from a kernel that is not a multiple of the stride ---

@pytest.mark.parametrize("kernel, status, counted", [(3, "✓", "between 1 and 4 stamps"), (4, "✗", "every inner pixel gets 4"),
                                                     (5, "✓", "between"), (6, "✗", "every inner pixel gets 9")])
def test_notebook_05_experiment_counts_the_stamps(kernel, status, counted, capsys):
    namespace = run_experiment_cell("05_dcgan.ipynb", f"my_kernel = {kernel}",
                                    {"torch": torch, "nn": nn, "exercises": dcgan_exercises})
    assert namespace["outcome"]["kernel"] == kernel
    out = capsys.readouterr().out
    assert f"{status} checkerboard: kernel {kernel}, stride 2" in out and counted in out
