"""Mode coverage and nearest neighbours (metrics.py, GAN section), the figures and the exercises of notebook 04."""

import matplotlib
import pytest
import torch

from course_utils.evaluation.metrics import mode_coverage, nearest_neighbours
from course_utils.maths.densities import grid, ring_of_gaussians
from course_utils.teaching.exercises import NOT_ATTEMPTED, PASSED, WRONG
from course_utils.teaching.exercises import gan as gan_exercises

matplotlib.use("Agg")
RING = ring_of_gaussians(8, radius=2.0, std=0.05)
MODES = RING.means.float()


def test_samples_from_every_mode_cover_all_modes():
    result = mode_coverage(RING.sample(2000, rng=torch.Generator().manual_seed(0)), MODES, RING.std)
    assert result["modes_covered"] == 8
    assert result["high_quality_share"] > 0.98            # 3σ holds 98.9 % of a 2-D Gaussian
    assert result["counts"].sum() == pytest.approx(2000 * result["high_quality_share"])


def test_a_collapsed_generator_covers_one_mode():
    collapsed = MODES[3] + 0.05 * torch.randn(1000, 2)
    result = mode_coverage(collapsed, MODES, RING.std)
    assert result["modes_covered"] == 1 and result["counts"][3] > 950


def test_off_mode_points_are_not_high_quality():
    between = torch.zeros(500, 2)                           # the centre of the ring: far from every mode
    halfway = (MODES[0] + MODES[1]) / 2 + torch.zeros(500, 2)
    result = mode_coverage(torch.cat([between, halfway]), MODES, RING.std)
    assert result["modes_covered"] == 0 and result["high_quality_share"] == 0.0
    # A few good samples on a mode do not count as covering it: at least 2 % of all samples must land there.
    mostly_off = torch.cat([torch.zeros(990, 2), MODES[:2].repeat(5, 1)])
    assert mode_coverage(mostly_off, MODES, RING.std)["modes_covered"] == 0


def test_mode_coverage_rejects_bad_input():
    with pytest.raises(ValueError, match="same d"):
        mode_coverage(torch.zeros(5, 3), MODES, 0.05)
    with pytest.raises(ValueError, match="NaN"):
        mode_coverage(torch.full((5, 2), float("nan")), MODES, 0.05)
    with pytest.raises(ValueError, match="no samples"):
        mode_coverage(torch.zeros(0, 2), MODES, 0.05)


def test_nearest_neighbours_on_a_tiny_set():
    references = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 5.0]])
    queries = torch.tensor([[9.0, 1.0], [0.0, 0.0], [1.0, 4.0]])
    distance, index = nearest_neighbours(queries, references, chunk=2)
    assert index.tolist() == [1, 0, 2]
    assert torch.allclose(distance, torch.tensor([2.0**0.5, 0.0, 2.0**0.5]))


def test_nearest_neighbours_finds_a_copied_image():
    images = torch.rand(50, 1, 28, 28)
    distance, index = nearest_neighbours(images[[7, 20]], images)
    assert index.tolist() == [7, 20] and distance.max() < 1e-3
    with pytest.raises(ValueError, match="same shape per example"):
        nearest_neighbours(torch.rand(2, 784), images)


def test_figures_draw():
    from course_utils.teaching.gan_figures import plot_1d_snapshots, plot_2d_snapshots, plot_gan_curves

    x = grid(-6, 6, 201)
    snap = {"samples": torch.randn(100, dtype=torch.float64), "p_g": torch.ones_like(x) / 12, "d": torch.full_like(x, 0.5),
            "d_star": torch.full_like(x, 0.5), "gap": 0.0}
    assert len(plot_1d_snapshots(x, torch.ones_like(x) / 12, [snap, snap], ["a", "b"]).axes) == 2
    with pytest.raises(ValueError, match="one title per snapshot"):
        plot_1d_snapshots(x, x, [snap], [])
    assert len(plot_2d_snapshots({"A": [(torch.zeros(5, 2), "t")] * 3, "B": [(torch.zeros(5, 2), "t")]}, MODES).axes) == 6
    history = {key: [0.5] * 10 for key in ("d_loss", "g_loss", "d_real", "d_fake")}
    assert len(plot_gan_curves(history).axes) == 2
    with pytest.raises(KeyError, match="d_real"):
        plot_gan_curves({"d_loss": [1.0]})


def test_optimal_discriminator_exercise():
    assert gan_exercises.optimal_discriminator.evaluate(lambda p, q: p / (p + q)).status == PASSED
    wrong = gan_exercises.optimal_discriminator.evaluate(lambda p, q: q / (p + q))
    assert wrong.status == WRONG and "1 − D*" in wrong.message
    assert "p_data + p_g" in gan_exercises.optimal_discriminator.evaluate(lambda p, q: p / q).message


def test_non_saturating_loss_exercise():
    exercise = gan_exercises.non_saturating_loss
    assert exercise.evaluate(lambda d: -torch.log(d).mean()).status == PASSED
    assert "saturating (minimax) loss" in exercise.evaluate(lambda d: torch.log(1 - d).mean()).message
    assert "mind the sign" in exercise.evaluate(lambda d: torch.log(d).mean()).message
    assert "mean over the batch" in exercise.evaluate(lambda d: -torch.log(d).sum()).message

    def stub(d):
        raise NotImplementedError

    assert exercise.evaluate(stub).status == NOT_ATTEMPTED


def test_plot_generator_losses_draws_each_loss_and_its_gradient():
    from course_utils.teaching.gan_figures import plot_generator_losses

    d = torch.linspace(0.01, 0.99, 5)
    curves = {"a": (torch.zeros(5), -d), "b": (torch.ones(5), d - 1)}
    fig = plot_generator_losses(d, curves)
    ax_loss, ax_grad = fig.axes
    assert [line.get_label() for line in ax_loss.lines] == ["a", "b"]
    assert torch.allclose(torch.as_tensor(ax_grad.lines[1].get_ydata()), d - 1)
