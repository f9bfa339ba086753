import pytest
import torch

from course_utils.models.regressor import MLPRegressor
from course_utils.teaching.toy_problems import beard_region, points_around_line, toy_faces, two_mode_targets
from course_utils.training.regression import fit_regressor


def test_points_around_line_have_the_requested_line_and_noise():
    x, y = points_around_line(5000, slope=0.8, intercept=0.2, noise=0.3)
    assert x.shape == y.shape == (5000, 1) and x.min() >= -2 and x.max() <= 2
    residual = y - (0.8 * x + 0.2)
    assert residual.mean().abs() < 0.02 and residual.std().item() == pytest.approx(0.3, rel=0.05)


def test_mse_regressor_returns_the_line_not_the_points():
    x, y = points_around_line(500)
    torch.manual_seed(0)
    model = MLPRegressor(1, 1)
    history = fit_regressor(model, x, y, epochs=100)
    assert not model.training and history["loss"][-1] < 0.12, "eval mode; the error falls to about the noise, 0.3² = 0.09"
    with torch.no_grad():
        outputs = model(x)
    # The data scatter with σ = 0.3 around the line; the regressor's outputs stay close to the line.
    assert (y - (0.8 * x + 0.2)).std() > 0.28
    assert (outputs - (0.8 * x + 0.2)).abs().mean() < 0.06


def test_two_modes_give_the_in_between_prediction():
    x, y = two_mode_targets(1000, modes=(0.15, 0.85))
    assert ((y - 0.15).abs() < 0.15).float().mean().item() == pytest.approx(0.5, abs=0.05)
    torch.manual_seed(0)
    model = MLPRegressor(1, 1)
    fit_regressor(model, x, y, epochs=100)
    with torch.no_grad():
        prediction = model(torch.linspace(0, 1, 11)[:, None])
    assert ((prediction - 0.5).abs() < 0.1).all()  # neither mode: the unrealistic average
    assert ((y - 0.5).abs() < 0.2).float().mean() < 0.01  # and almost no real target lies there


def test_optional_beard_comes_out_half_transparent():
    faces, has_beard = toy_faces(400, beard_probability=0.5)
    assert faces.shape == (400, 1, 20, 20) and set(faces.unique().tolist()) == {0.0, 1.0}
    mask = beard_region()
    assert torch.equal(faces[has_beard][:, 0][:, mask].mean(1), torch.ones(int(has_beard.sum())))
    assert faces[~has_beard][:, 0][:, mask].sum() == 0
    torch.manual_seed(0)
    model = MLPRegressor(1, 400, hidden=16)
    fit_regressor(model, torch.ones(400, 1), faces.flatten(1), epochs=100)
    with torch.no_grad():
        face = model(torch.ones(1, 1)).view(20, 20)
    assert face[mask].mean().item() == pytest.approx(has_beard.float().mean().item(), abs=0.05)


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match="beard_probability"):
        toy_faces(3, beard_probability=1.5)
    with pytest.raises(ValueError, match="same N"):
        fit_regressor(MLPRegressor(), torch.zeros(5, 1), torch.zeros(4, 1), epochs=1)
