"""Notebook 11's written-out cells and exercises: its PixelCNN step takes the library's step, its dependence maps
find the plain stack's blind spot and none in the gated network, its ring flow is a normalised density that learns,
the depth experiment hands the checker what it reads, and the solution cells pass their checkers."""

import functools
import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from notebook_code import run_cell_defining, run_experiment_cell
from torch import nn

from course_utils.engine.config import budget
from course_utils.maths.densities import ring_of_gaussians
from course_utils.maths.likelihood import binarize
from course_utils.models.pixelcnn import MaskedConv2d
from course_utils.models.realnvp import AffineCoupling, mlp_net, standard_normal_log_density
from course_utils.teaching.exercises import PASSED
from course_utils.teaching.exercises import likelihood as exercises
from course_utils.training.likelihood import PixelCNNRecipe, cosine_schedule
from course_utils.training.likelihood import test_nll as mean_nll     # renamed: pytest would collect test_nll

NOTEBOOK = "11_exact_likelihood.ipynb"
ROW, COL = 14, 14                                      # the pixel the notebook's dependence maps are drawn for


def _notebook(name: str, **names) -> dict:
    namespace = {"torch": torch, "nn": nn, "F": F, "np": np, "time": time, "budget": budget, "device": "cpu", **names}
    return run_cell_defining(NOTEBOOK, name, namespace)


@pytest.fixture(scope="module")
def held_out_binary(bundled_mnist):
    """The first 100 bundled held-out digits, binarized once (the notebook's ``test_binary``, shorter)."""
    _, (images, _) = bundled_mnist
    return binarize(images[:100], seed=0)


def _tiny_pixelcnn(**fields):
    recipe = PixelCNNRecipe(channels=8, layers=2, **fields)
    torch.manual_seed(recipe.seed)
    return recipe, recipe.build()


# --- the training step ---

def test_the_notebook_step_takes_the_same_adam_steps_as_the_recipe(bundled_mnist):
    (images, _), _ = bundled_mnist
    batch_size = 8
    grey = images[:batch_size]
    # two epochs of one batch each: two steps, so a forgotten zero_grad (gradients adding up) shows
    recipe, library = _tiny_pixelcnn(batch_size=batch_size, images_seen=2 * batch_size, train_images=batch_size,
                                     warmup_steps=1)
    _, notebook = _tiny_pixelcnn(batch_size=batch_size)
    assert all(torch.equal(p, q) for p, q in zip(library.parameters(), notebook.parameters()))
    untrained = [p.detach().clone() for p in notebook.parameters()]

    torch.manual_seed(7)
    history = recipe.train_on(library, grey, progress=False)
    assert history.steps == [1, 2], "the recipe ran exactly two steps, one per epoch"

    step = _notebook("pixelcnn_step", pixelcnn=notebook, test_binary=torch.zeros(100, 1, 28, 28))["pixelcnn_step"]
    optimizer = torch.optim.Adam(notebook.parameters(), lr=recipe.lr)
    schedule = cosine_schedule(optimizer, 2, recipe.warmup_steps)       # lr, then lr / 2: the recipe's schedule
    torch.manual_seed(7)
    losses = []
    for _ in range(2):
        order = torch.randperm(batch_size)                              # Minibatches shuffles each epoch first
        losses.append(step(notebook.network, optimizer, grey[order]))
        schedule.step()
    assert losses == pytest.approx(history["nll"], rel=1e-6), "the same binarizations, the same −log p(x) in nats"
    assert 300 < losses[0] < 1000, "nats per image of 784 binary pixels, near 784·ln 2 untrained"
    for (name, p), q, start in zip(library.named_parameters(), notebook.parameters(), untrained):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-6), f"{name}: the notebook's step moved it differently"
        assert not torch.equal(q, start), f"{name}: the step moves every weight"


# --- the blind spot ---

def test_the_dependence_maps_find_the_blind_spot_of_the_plain_stack_only(held_out_binary):
    torch.manual_seed(0)
    gated = PixelCNNRecipe(channels=8).build()                          # the recipe's 4 gated layers, untrained
    namespace = _notebook("dependence", MaskedConv2d=MaskedConv2d, pixelcnn=gated, test_binary=held_out_binary)
    assert (namespace["row"], namespace["col"]) == (ROW, COL)
    maps = namespace["maps"]
    plain, seen = maps["5 masked 3×3 convolutions"], maps["the trained gated PixelCNN"]
    assert plain.shape == seen.shape == (28, 28)
    order = torch.arange(784).view(28, 28)
    future = order >= ROW * 28 + COL
    for name, dependence in maps.items():
        assert (dependence[future] == 0).all(), f"{name}: the prediction of a pixel never sees it or what follows it"
    assert plain[ROW - 1, COL + 2] == 0, "the plain stack cannot see one row up, two columns right: its blind spot"
    assert plain[ROW - 1, COL + 1] > 0 and plain[ROW, COL - 1] > 0 and plain[ROW - 5, COL] > 0
    for up in range(1, 5):          # d rows up it sees d columns right, never d + 1: a wedge its 5 layers could reach
        assert plain[ROW - up, COL + up] > 0 and (plain[ROW - up, COL + up + 1:COL + 6] == 0).all(), up
    # the gated network sees every earlier pixel within its reach: no hole up and to the right
    assert seen[ROW - 1, COL + 2] > 0
    window = seen[ROW - 8:ROW, COL - 8:COL + 9]                        # 4 layers × 2 rows up, ±2 columns per layer
    assert (window > 0).all(), "the gated stacks leave no blind spot"
    assert (seen[ROW, COL - 8:COL] > 0).all(), "and they see the row to the left"
    assert int((seen > 0).sum()) > int((plain > 0).sum())


# --- the ring of Gaussians ---

def test_the_ring_flow_is_a_normalised_density_that_learns_the_ring(capsys):
    steps = 300
    namespace = _notebook("ring_log_density", AffineCoupling=AffineCoupling, mlp_net=mlp_net,
                          budget=lambda full, quick: steps)
    assert f"{steps} steps" in capsys.readouterr().out
    log_density, flow = namespace["ring_log_density"], namespace["ring_flow"]
    ring = ring_of_gaussians(modes=8, radius=2.0, std=0.05)
    fresh = ring.sample(20_000, rng=torch.Generator().manual_seed(1))
    untrained_kl = (torch.log(ring.pdf(fresh)) - standard_normal_log_density(fresh.float()).double()).mean().item()
    kl = namespace["ring_kl"]
    assert math.isfinite(kl) and 0 < kl < untrained_kl - 1.5, (kl, untrained_kl)    # untrained: N(0, I), ≈ 4.9 nats

    side = torch.linspace(-4, 4, 401)
    grid = torch.stack(torch.meshgrid(side, side, indexing="xy"), dim=-1).view(-1, 2)
    with torch.no_grad():
        mass = log_density(grid).exp().sum().item() * (side[1] - side[0]).item() ** 2
    assert mass == pytest.approx(1.0, abs=0.03), "an exact density integrates to 1"

    # the notebook's log q(x) is log N(f(x); 0, I) + log |det ∂f/∂x|, the determinant taken by autograd here
    points = torch.randn(5, 2) * 2

    def f(x):
        for coupling in flow:
            x = coupling(x)[0]
        return x

    with torch.no_grad():
        written = log_density(points)
        expected = standard_normal_log_density(f(points))
    for i, point in enumerate(points):
        jacobian = torch.autograd.functional.jacobian(lambda v: f(v.view(1, 2)).flatten(), point)
        expected[i] += torch.linalg.slogdet(jacobian)[1]
    assert torch.allclose(written, expected, rtol=1e-4, atol=1e-4), (written, expected)


# --- the depth experiment ---

def test_the_depth_experiment_cell_measures_what_the_checker_reads(monkeypatch, held_out_binary):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA", "bundled")
    namespace = _notebook("dependence", MaskedConv2d=MaskedConv2d, pixelcnn=_tiny_pixelcnn()[1],
                          test_binary=held_out_binary)
    # the recipe as it is (4 layers, quick mode's 640 digits seen once) but 8 channels wide instead of 32: 4× faster
    namespace.update(PixelCNNRecipe=functools.partial(PixelCNNRecipe, channels=8), test_nll=mean_nll,
                     exercises=exercises)
    outcome = run_experiment_cell(NOTEBOOK, "my_layers = 2", namespace)["outcome"]
    keys = {"layers", "test_nll", "rows_seen", "seconds"}
    assert set(outcome) == keys | {"reference"} and set(outcome["reference"]) == keys
    assert outcome["layers"] == 2 and outcome["reference"]["layers"] == PixelCNNRecipe().layers == 4
    assert 0 < outcome["rows_seen"] < outcome["reference"]["rows_seen"] <= 27, outcome
    for run in (outcome, outcome["reference"]):
        assert math.isfinite(run["test_nll"]) and 50 < run["test_nll"] < 1000, run      # nats per digit
        assert run["seconds"] > 0
    feedback = exercises.depth_experiment.evaluate(outcome)
    assert feedback.passed and "Fewer layers see fewer rows" in feedback.message, feedback.message


# --- the solution cells ---

@pytest.mark.parametrize("name, exercise", [("my_causal_mask", exercises.mask), ("my_coupling", exercises.coupling)])
def test_the_solution_cells_pass_their_checkers(name, exercise):
    solution = _notebook(name)[name]
    feedback = exercise.evaluate(solution)
    assert feedback.status == PASSED, feedback.message
