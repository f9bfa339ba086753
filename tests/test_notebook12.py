"""Notebook 12's written-out cells and exercises: its VQ-VAE, code-prior and latent-flow steps take the library's
steps weight for weight, its loop over the 49 positions draws the library's grids, the codebook-size experiment hands
the checker what it reads, and the solution cells pass their checkers."""

import copy
import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from notebook_code import run_cell_defining, run_experiment_cell
from torch import nn

from course_utils.engine.config import budget
from course_utils.engine.data import random_shift
from course_utils.models.code_prior import CodePrior
from course_utils.models.latent_flow import LatentFlow
from course_utils.models.vqvae import VQVAE
from course_utils.teaching.exercises import PASSED
from course_utils.teaching.exercises import discrete as exercises
from course_utils.training.latent_models import CodePriorRecipe, LatentFlowRecipe
from course_utils.training.likelihood import cosine_schedule
from course_utils.training.vqvae import VQVAERecipe, restart_dead_codes

NOTEBOOK = "12_discrete_latents.ipynb"
BATCH = 8
# two epochs of one batch each: two steps, so a forgotten zero_grad (gradients adding up) shows; the second step runs
# at lr / 2 under the recipes' warm-up of 1 step and cosine decay over 2
TINY = {"batch_size": BATCH, "images_seen": 2 * BATCH, "train_images": BATCH, "warmup_steps": 1}


def _notebook(name: str, **names) -> dict:
    namespace = {"torch": torch, "nn": nn, "F": F, "np": np, "time": time, "budget": budget, "device": "cpu",
                 "random_shift": random_shift, **names}
    return run_cell_defining(NOTEBOOK, name, namespace)


def _spread(autoencoder: VQVAE, images: torch.Tensor) -> VQVAE:
    """``autoencoder`` with every codebook row moved onto an encoder output of ``images``, so that digits use many of
    its codes (a fresh codebook ~ N(0, I) lies far from the untrained encoder's small outputs: one code for all)."""
    with torch.no_grad():
        restart_dead_codes(autoencoder.quantizer.codebook, torch.zeros(autoencoder.codebook_size),
                           autoencoder.encode(images))
    return autoencoder


def _notebook_steps(step, model, parameters, recipe, digits: torch.Tensor) -> list:
    """Run the notebook's ``step(model, optimizer, x)`` as ``recipe.train_on`` runs its own on ``digits`` (one batch
    per epoch, two epochs): Adam at the recipe's rate under its schedule, the batch shuffled at each epoch's start
    (Minibatches draws torch.randperm first, then the step draws its own numbers). Seed as before ``train_on``."""
    optimizer = torch.optim.Adam(parameters, lr=recipe.lr)
    schedule = cosine_schedule(optimizer, 2, recipe.warmup_steps)
    logged = []
    for _ in range(2):
        order = torch.randperm(len(digits))
        logged.append(step(model, optimizer, digits[order]))
        schedule.step()
    return logged


def _assert_same_weights(library: nn.Module, notebook: nn.Module, untrained: list, what: str) -> None:
    for (name, p), q, start in zip(library.named_parameters(), notebook.parameters(), untrained):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-6), f"{what}.{name}: the notebook's step moved it differently"
        assert not torch.equal(q, start), f"{what}.{name}: the step moves every weight"


class _Axes:
    """Stands in for matplotlib's figure and axes in a cell's demo lines: records what is plotted."""

    def __init__(self):
        self.lines = []

    def plot(self, x, y, **options):
        self.lines.append((list(x), list(y)))

    def set(self, **options):
        pass


class _Pyplot:
    def __init__(self):
        self.axes = _Axes()

    def subplots(self, *args, **options):
        return None, self.axes

    def show(self):
        pass


# --- the VQ-VAE's training step ---

def test_the_notebook_vqvae_step_takes_the_same_adam_steps_as_the_recipe(bundled_mnist, capsys):
    (images, _), _ = bundled_mnist
    digits = images[:BATCH]
    recipe = VQVAERecipe(width=8, codebook_size=16, restart_dead=False, **TINY)
    torch.manual_seed(recipe.seed)
    library = _spread(recipe.build(), images[BATCH:BATCH + 64])
    notebook = copy.deepcopy(library)
    assert library.codes(digits).unique().numel() >= 6, "the digits use many codes, so the codebook loss moves many"
    untrained = [p.detach().clone() for p in notebook.parameters()]

    torch.manual_seed(7)
    history = recipe.train_on(library, digits, progress=False)
    assert history.steps == [1, 2], "the recipe ran exactly two steps, one per epoch"

    # the cell's demo lines score `vqvae` on `test_images[:500]`: an untrained copy and four other digits
    step = _notebook("vqvae_step", vqvae=copy.deepcopy(notebook), test_images=images[-4:])["vqvae_step"]
    assert "reconstruction" in capsys.readouterr().out
    torch.manual_seed(7)
    logged = _notebook_steps(step, notebook, notebook.parameters(), recipe, digits)
    assert recipe.commitment == 0.25, "the notebook's default β is the recipe's"
    for name in ("reconstruction", "codebook", "commitment"):
        assert [values[name] for values in logged] == pytest.approx(history[name], rel=1e-5), name
    assert 0.5 < logged[0]["reconstruction"] < 1.0, "binary cross-entropy per pixel, about ln 2 untrained"
    _assert_same_weights(library, notebook, untrained, "vqvae")


# --- the code prior's training step ---

def test_the_notebook_prior_step_takes_the_same_adam_steps_as_the_recipe(bundled_mnist, capsys):
    (images, _), _ = bundled_mnist
    digits = images[:BATCH]
    # 3-wide kernels: with the 5-wide default this comparison failed at 2 threads, two copies ending just over 1e-6
    # apart (rounding in the gradients of rarely reached taps, which Adam's step enlarges)
    recipe = CodePriorRecipe(channels=8, layers=2, kernel_size=3, **TINY)
    torch.manual_seed(0)
    autoencoder = _spread(VQVAE(16, 4, 8), images[BATCH:BATCH + 64])
    library = CodePrior(autoencoder, recipe.channels, recipe.layers, recipe.kernel_size)
    notebook = copy.deepcopy(library)
    assert library.autoencoder.codes(digits).unique().numel() >= 6, "the grids use many codes"
    untrained = [p.detach().clone() for p in notebook.network.parameters()]
    frozen = copy.deepcopy(autoencoder.state_dict())

    torch.manual_seed(7)
    history = recipe.train_on(library, digits, progress=False)
    assert history.steps == [1, 2]

    # the cell's demo lines: `vqvae.codes(test_images)` scored by `prior`, an untrained copy
    stand_in = copy.deepcopy(notebook)
    step = _notebook("prior_step", prior=stand_in, vqvae=stand_in.autoencoder, test_images=images[-100:])["prior_step"]
    assert "loss by hand" in capsys.readouterr().out
    torch.manual_seed(7)
    logged = _notebook_steps(step, notebook, notebook.network.parameters(), recipe, digits)
    assert logged == pytest.approx(history["nll"], rel=1e-5), "the same shifts, the same codes, the same −log p(c)"
    assert 49 * math.log(16) * 0.7 < logged[0] < 49 * math.log(16) * 1.5, "nats per grid, near 49 ln K untrained"
    _assert_same_weights(library.network, notebook.network, untrained, "network")
    for model in (library, notebook):
        assert all(torch.equal(value, frozen[name]) for name, value in model.autoencoder.state_dict().items()), \
            "the VQ-VAE stays frozen"


# --- drawing a grid, one position at a time ---

def test_the_notebook_loop_draws_the_grids_of_draw_codes():
    torch.manual_seed(0)
    prior = CodePrior(VQVAE(64, 4, 8), channels=8, layers=2).eval()      # K = 64 codes, as the notebook's prior has
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():       # untrained, but far from uniform: each position's conditional leans on the codes before
        for parameter in prior.network.parameters():
            parameter.add_(0.5 * torch.randn(parameter.shape, generator=generator))
    namespace = _notebook("draw_grids", prior=prior)                    # its demo draws 16 grids from rng=0
    draw_grids = namespace["draw_grids"]
    assert torch.equal(namespace["by_hand"], prior.draw_codes(prior.sample_latent(16, rng=0)))
    for seed in (1, 2, 3):
        u = prior.sample_latent(32, rng=seed)
        by_hand = draw_grids(prior, u)
        assert by_hand.shape == (32, 7, 7) and by_hand.dtype == torch.long
        assert torch.equal(by_hand, prior.draw_codes(u)), f"seed {seed}: the loop drew other grids"
        assert by_hand.unique().numel() >= 16, "the grids use many codes"
    assert not torch.equal(draw_grids(prior, u), draw_grids(prior, prior.sample_latent(32, rng=4))), "u decides"
    # u = 0 takes the first code of nonzero probability, never one the prior rules out (here code 0: p = 0 exactly)
    with torch.no_grad():
        prior.network.head[-1].bias[0] -= 1e4
    u = torch.zeros(8, 49)
    by_hand = draw_grids(prior, u)
    assert torch.equal(by_hand, prior.draw_codes(u)) and (by_hand != 0).all(), "a code of probability 0 was drawn"


# --- the latent flow's training step ---

def test_the_notebook_latent_flow_step_takes_the_same_adam_steps_as_the_recipe(bundled_mnist, capsys):
    (images, _), _ = bundled_mnist
    digits = images[:BATCH]
    recipe = LatentFlowRecipe(width=8, blocks=2, **TINY)
    torch.manual_seed(0)
    library = LatentFlow(VQVAE(16, 4, 8), recipe.width, recipe.blocks, recipe.steps, recipe.solver)
    notebook = copy.deepcopy(library)
    untrained = [p.detach().clone() for p in notebook.network.parameters()]

    torch.manual_seed(7)
    history = recipe.train_on(library, digits, progress=False)
    assert history.steps == [1, 2]
    assert (library.centre != 0).all() and (library.spread != 1).all(), "the recipe set each channel's scale first"
    assert library.centre.shape == library.spread.shape == (1, 4, 1, 1)
    notebook.centre.copy_(library.centre)
    notebook.spread.copy_(library.spread)

    # the cell's demo lines plot `latent_flow_info`'s curve and print its training time: the recipe's run, here
    info = {"history": {"loss": history["loss"], "steps": history.steps, "elapsed": history.elapsed},
            "train_seconds": history.seconds}
    plt = _Pyplot()
    step = _notebook("latent_flow_step", latent_flow_info=info, plt=plt, COLORS=["C0", "C1"])["latent_flow_step"]
    assert plt.axes.lines == [(history.elapsed, history["loss"])] and "trained 2 steps" in capsys.readouterr().out
    torch.manual_seed(7)
    logged = _notebook_steps(step, notebook, notebook.network.parameters(), recipe, digits)
    assert logged == pytest.approx(history["loss"], rel=1e-5), "the same shifts, noise and times: the same loss"
    assert 0.5 < logged[0] < 5, "the untrained head predicts velocity 0: the loss is E‖x₁ − x₀‖², about 2 per number"
    _assert_same_weights(library.network, notebook.network, untrained, "network")


# --- the codebook-size experiment ---

def test_the_codebook_experiment_cell_measures_what_the_checker_reads(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA", "bundled")
    namespace = {"torch": torch, "exercises": exercises, "VQVAERecipe": VQVAERecipe, "device": "cpu"}
    outcome = run_experiment_cell(NOTEBOOK, "my_codebook_size = 8", namespace)["outcome"]
    keys = {"codebook_size", "mse", "usage", "perplexity", "seconds"}
    assert set(outcome) == keys | {"reference"} and set(outcome["reference"]) == keys
    assert outcome["codebook_size"] == 8 and outcome["reference"]["codebook_size"] == VQVAERecipe().codebook_size == 64
    for run in (outcome, outcome["reference"]):
        size = run["codebook_size"]
        assert math.isfinite(run["mse"]) and 0 < run["mse"] < 1, run                # pixel MSE of held-out copies
        assert 0 < run["usage"] <= 1 and 1 <= run["perplexity"] <= size * (1 + 1e-5) and run["seconds"] > 0, run
    printed = [line for line in capsys.readouterr().out.splitlines() if exercises.codebook_experiment.name in line]
    feedback = exercises.codebook_experiment.evaluate(outcome)
    assert printed == [feedback.message.splitlines()[0]], printed
    assert feedback.passed and printed[0].startswith("✓ how many codes: K = 8:"), feedback.message


# --- the solution cells ---

@pytest.mark.parametrize("name, exercise", [("my_quantize", exercises.quantize), ("my_vq_losses", exercises.losses)])
def test_the_solution_cells_pass_their_checkers(name, exercise):
    solution = _notebook(name)[name]
    feedback = exercise.evaluate(solution)
    assert feedback.status == PASSED and feedback.passed, feedback.message
