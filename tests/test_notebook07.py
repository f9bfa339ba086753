"""Notebook 07's written-out step and exercises: the step in the notebook leaves the same weights as the library's,
the unlabelled-loss checker catches the usual mistakes, and the baseline experiment reads what the student measured."""

import copy

import pytest
import torch
import torch.nn.functional as F
from notebook_code import run_cell_defining, run_experiment_cell

from course_utils.teaching.exercises import PASSED, WRONG
from course_utils.teaching.exercises import semi_supervised as exercises
from course_utils.training.gan import frozen
from course_utils.training.semi_supervised import (
    SemiSupervisedRecipe,
    baseline_recipe,
    fit_semi_supervised,
    generated_loss,
    make_semi_supervised_step,
    supervised_loss,
    unlabelled_loss,
)

NOTEBOOK = "07_semi_supervised_gan.ipynb"


def _three_steps(model, step, images, labels):
    torch.manual_seed(1)
    for i in range(3):
        step(images[:50], labels[:50], images[50 * i + 50:50 * i + 100])
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_the_notebook_step_and_the_library_step_leave_the_same_weights(bundled_mnist):
    (images, labels), _ = bundled_mnist
    namespace = {"torch": torch, "F": F, "frozen": frozen, "supervised_loss": supervised_loss,
                 "generated_loss": generated_loss, "unlabelled_loss": unlabelled_loss}
    run_cell_defining(NOTEBOOK, "semi_supervised_step", namespace)
    torch.manual_seed(0)
    fresh = SemiSupervisedRecipe().build()
    results = []
    for use_notebook in (True, False):
        model = copy.deepcopy(fresh)
        g_opt = torch.optim.Adam(model.generator.parameters(), 3e-3, betas=(0.5, 0.999))
        d_opt = torch.optim.Adam(model.discriminator.parameters(), 3e-3, betas=(0.5, 0.999))
        if use_notebook:
            def step(*batch, model=model, g_opt=g_opt, d_opt=d_opt):
                return namespace["semi_supervised_step"](model.generator, model.discriminator, g_opt, d_opt, *batch)
        else:
            step = make_semi_supervised_step(model.generator, model.discriminator, g_opt, d_opt)
        results.append(_three_steps(model, step, images, labels))
    assert not torch.equal(results[0], torch.cat([p.flatten() for p in fresh.parameters()])), "the steps train"
    assert torch.allclose(results[0], results[1], atol=1e-6)


@pytest.mark.parametrize("wrong, hint", [
    (lambda l: -(torch.logsumexp(l, 1) - F.softplus(torch.logsumexp(l, 1))).sum(), "sum over the batch"),
    (lambda l: (torch.logsumexp(l, 1) - F.softplus(torch.logsumexp(l, 1))).mean(), "sign is flipped"),
    (lambda l: -torch.logsumexp(l, 1).mean(), "−log Z"),
    (lambda l: -torch.log(l.exp().sum(1) / (l.exp().sum(1) + 1)).mean(), "overflows"),
])
def test_the_unlabelled_loss_checker_names_the_mistake(wrong, hint):
    feedback = exercises.unlabelled_loss.evaluate(wrong)
    assert feedback.status == WRONG and hint in feedback.message


def test_the_reference_unlabelled_loss_passes():
    assert exercises.unlabelled_loss.evaluate(unlabelled_loss).status == PASSED


def _outcome(shift, accuracy):
    return {"max_shift": shift, "accuracy": accuracy, "default": 0.86, "gan": 0.936}


@pytest.mark.parametrize("shift, accuracy, expected", [(0, 0.80, "worth 6.0 points to the baseline"),
                                                       (4, 0.88, "helps the baseline by 2.0 points"),
                                                       (3, 0.865, "not what limits the baseline")])
def test_the_baseline_experiment_reads_the_measured_accuracy(shift, accuracy, expected):
    feedback = exercises.baseline_experiment.evaluate(_outcome(shift, accuracy))
    assert feedback.status == PASSED and expected in feedback.message
    assert f"up to {shift} pixel" in feedback.message and "93.6%" in feedback.message


def test_the_baseline_experiment_asks_for_a_change_and_fractions():
    unchanged = exercises.baseline_experiment.evaluate(_outcome(2, 0.86))
    assert unchanged.status == WRONG and "change my_max_shift" in unchanged.message
    percent = exercises.baseline_experiment.evaluate(_outcome(0, 80))
    assert percent.status == WRONG and "between 0 and 1" in percent.message


def test_the_experiment_cell_trains_the_baseline_and_hands_over_its_accuracy(bundled_mnist, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_QUICK", "1")
    (images, labels), (test_images, test_labels) = bundled_mnist
    runs = {("supervised baseline", 0): (None, {"best_test_accuracy": 0.86}),
            ("semi-supervised GAN", 0): (None, {"test_accuracy": 0.936})}
    namespace = {"torch": torch, "baseline_recipe": baseline_recipe, "fit_semi_supervised": fit_semi_supervised,
                 "exercises": exercises, "train_images": images[:1000], "train_labels": labels[:1000],
                 "test_images": test_images, "test_labels": test_labels, "runs": runs}
    outcome = run_experiment_cell(NOTEBOOK, "my_max_shift = 0", namespace)["outcome"]
    assert outcome["max_shift"] == 0 and 0 <= outcome["accuracy"] <= 1 and outcome["gan"] == 0.936
    assert "✓ how strong is the baseline: with shifts of up to 0 pixels" in capsys.readouterr().out
