"""Notebook 10's written-out cells and exercises: its training step and sampler agree with the library, flow matching
covers every mode of notebook 04's ring, and the checkers name the usual mistakes and read the steps experiment."""

import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from notebook_code import run_cell_defining, run_experiment_cell
from torch import nn

from course_utils.engine.config import budget
from course_utils.engine.device import synchronize
from course_utils.evaluation.metrics import mode_coverage, sharpness
from course_utils.maths.densities import ring_of_gaussians
from course_utils.models.flow import euler_sample
from course_utils.models.generative import classes_in_order
from course_utils.teaching.exercises import PASSED, WRONG
from course_utils.teaching.exercises import flow_matching as exercises
from course_utils.training.flow_matching import FlowRecipe, flow_matching_loss, point_on_path

NOTEBOOK = "10_diffusion_and_flow_matching.ipynb"


def _notebook(name: str, **names) -> dict:
    namespace = {"torch": torch, "nn": nn, "np": np, "time": time, "budget": budget, "device": "cpu", **names}
    return run_cell_defining(NOTEBOOK, name, namespace)


def test_the_notebook_step_computes_the_library_loss_and_takes_an_adam_step():
    step = _notebook("flow_matching_step")["flow_matching_step"]
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 16), nn.SiLU(), nn.Linear(16, 2))
    velocity = lambda x, t: net(x) * (1 + t[:, None])                   # noqa: E731
    data = torch.randn(32, 2)
    torch.manual_seed(5)
    expected = flow_matching_loss(velocity, data).item()                # uniform times, the same draws in order
    before = [p.detach().clone() for p in net.parameters()]
    torch.manual_seed(5)
    loss = step(velocity, torch.optim.Adam(net.parameters(), lr=1e-2), data)
    assert loss == pytest.approx(expected, rel=1e-6)
    assert all(not torch.equal(a, b) for a, b in zip(before, net.parameters())), "the step moves every weight"


def test_the_notebook_sampler_keeps_the_path_and_ends_where_the_library_does():
    velocity = lambda x, t: 2.0 - x + t[:, None]                        # noqa: E731
    sampler = _notebook("euler_sampler", point_net=velocity, euler_sample=euler_sample)["euler_sampler"]
    noise = torch.randn(7, 2)
    path = sampler(velocity, noise, 8)
    assert path.shape == (9, 7, 2) and torch.equal(path[0], noise)
    assert torch.allclose(path[-1], euler_sample(velocity, noise, 8), atol=1e-6)


def test_flow_matching_covers_every_mode_of_the_ring(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "0")
    namespace = _notebook("flow_matching_step")
    namespace = _notebook("PointVelocity", flow_matching_step=namespace["flow_matching_step"])
    ring = ring_of_gaussians(modes=8, radius=2.0, std=0.05)
    samples = euler_sample(namespace["point_net"], torch.randn(2000, 2, generator=torch.Generator().manual_seed(0)), 50)
    cover = mode_coverage(samples, ring.means.float(), ring.std)
    assert cover["modes_covered"] == 8 and cover["high_quality_share"] > 0.6, cover
    assert cover["counts"].min() > 0.6 * cover["counts"].max(), "the modes are about equally full"


def test_the_reference_loss_passes_and_mistakes_are_named():
    assert exercises.loss.evaluate(lambda m, d, n, t: F.mse_loss(m(point_on_path(n, d, t), t), d - n)).status == PASSED
    mistakes = {
        "not noise − data": lambda m, d, n, t: F.mse_loss(m(point_on_path(n, d, t), t), n - d),
        "x_t = (1 − t)·noise + t·data": lambda m, d, n, t: F.mse_loss(m(point_on_path(d, n, t), t), d - n),
        "do not add them up": lambda m, d, n, t: F.mse_loss(m(point_on_path(n, d, t), t), d - n, reduction="sum"),
        "not the clean data": lambda m, d, n, t: F.mse_loss(m(point_on_path(n, d, t), t), d),
    }
    for hint, wrong in mistakes.items():
        feedback = exercises.loss.evaluate(wrong)
        assert feedback.status == WRONG and hint in feedback.message, feedback.message


def test_the_euler_step_checker_passes_the_solution_and_names_mistakes():
    full = lambda den, x, t: den(x, torch.full((len(x),), t, device=x.device))    # noqa: E731
    assert exercises.euler_step.evaluate(lambda den, x, t, dt: x + dt * (full(den, x, t) - x) / (1 - t)).status == PASSED
    mistakes = {"jumps straight": lambda den, x, t, dt: full(den, x, t),
                "divide by the time left": lambda den, x, t, dt: x + dt * (full(den, x, t) - x),
                "add it to x": lambda den, x, t, dt: dt * (full(den, x, t) - x) / (1 - t)}
    for hint, wrong in mistakes.items():
        feedback = exercises.euler_step.evaluate(wrong)
        assert feedback.status == WRONG and hint in feedback.message, feedback.message


def _outcome(steps, sharp, frechet):
    return {"steps": steps, "sharpness": sharp, "frechet": frechet, "seconds": 0.1 * steps, "real_sharpness": 0.078,
            "reference": {"steps": 20, "sharpness": 0.075, "frechet": 30.0, "seconds": 2.0}}


@pytest.mark.parametrize("outcome, passed, phrase", [
    (_outcome(20, 0.075, 30.0), False, "change the number of steps"),
    (_outcome(1, 0.012, 120.0), True, "blurrier"),
    (_outcome(10, 0.074, 31.0), True, "about as sharp"),
    (_outcome(3, 0.063, 34.4), True, "a little less sharp (84% of the sharpness"),
    (_outcome(100, 0.076, 29.5), True, "buy almost nothing"),
])
def test_the_steps_experiment_reads_the_measured_outcome(outcome, passed, phrase):
    feedback = exercises.steps_experiment.evaluate(outcome)
    assert feedback.passed == passed and phrase in feedback.message, feedback.message


def test_the_experiment_cell_samples_with_the_students_steps_and_hands_over_the_numbers(bundled_mnist, trained_classifier):
    from course_utils.evaluation.leaderboard import Judge

    flow = FlowRecipe(conditional=True, width=8).build()
    _, (test_images, _) = bundled_mnist
    judge = Judge.__new__(Judge)
    judge.device, judge.classifier, judge.classifier_info, judge.reference = None, trained_classifier, {}, test_images
    asked = classes_in_order(20, 10)
    namespace = {"torch": torch, "time": time, "flow": flow, "step_count": 20, "synchronize": synchronize, "device": "cpu", "asked": asked, "judge": judge,
                 "sharpness": sharpness, "real_sharpness": 0.078, "exercises": exercises,
                 "by_steps": {20: {"sharpness": 0.07, "frechet_distance": 40.0, "seconds": 1.0}}}
    outcome = run_experiment_cell(NOTEBOOK, "my_steps = 2", namespace)["outcome"]
    assert outcome["steps"] == 2 and outcome["reference"]["steps"] == 20 and outcome["frechet"] > 0
    assert math.isfinite(outcome["sharpness"]) and outcome["seconds"] > 0
    assert exercises.steps_experiment.evaluate(outcome).passed
