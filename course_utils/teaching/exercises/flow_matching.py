"""Exercises for notebook 10: the flow-matching loss, one Euler step of a denoiser, and a change-and-observe
experiment on the number of solver steps."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...training.flow_matching import point_on_path
from . import Exercise, Experiment


class _TinyVelocity(nn.Module):
    """A fixed, made-up velocity field on 2-D points, (x, t) → 2-D, standing in for a trained network."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]]))
            self.linear.bias.copy_(torch.tensor([0.1, -0.2]))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.cat([x, t[:, None]], dim=1))


def _reference_loss(velocity_model, data, noise, t):
    return F.mse_loss(velocity_model(point_on_path(noise, data, t), t), data - noise)


def _loss_cases() -> list[tuple]:
    with torch.random.fork_rng():
        torch.manual_seed(10)
        model = _TinyVelocity()
        return [(model, torch.randn(6, 2), torch.randn(6, 2), torch.rand(6)),
                (model, torch.randn(16, 2) + 3, torch.randn(16, 2), torch.rand(16)),
                (model, torch.randn(4, 2), torch.randn(4, 2), torch.tensor([0.0, 0.25, 0.5, 1.0]))]


def _diagnose_loss(args, expected, got):
    model, data, noise, t = args
    try:
        got = float(torch.as_tensor(got).detach())
    except (TypeError, ValueError, RuntimeError):
        return "return one number: the mean squared error, a tensor of one element."
    tt = t[:, None]
    with torch.no_grad():
        wrong = {
            "the velocity points from noise to data: the target is data − noise, not noise − data.":
                F.mse_loss(model((1 - tt) * noise + tt * data, t), noise - data),
            "at t = 0 the path is at the noise and at t = 1 at the data: x_t = (1 − t)·noise + t·data.":
                F.mse_loss(model((1 - tt) * data + tt * noise, t), data - noise),
            "average the squared errors (.mean()), do not add them up: the loss should not grow with the batch.":
                F.mse_loss(model((1 - tt) * noise + tt * data, t), data - noise, reduction="sum"),
            "the network predicts the velocity, not the clean data: compare it with data − noise.":
                F.mse_loss(model((1 - tt) * noise + tt * data, t), data),
        }
    for message, value in wrong.items():
        if math.isclose(got, float(value), rel_tol=1e-5, abs_tol=1e-7):
            return message
    return None


loss = Exercise(
    name="flow-matching loss",
    reference=_reference_loss,
    cases=_loss_cases(),
    hint="first the point on the path: (1 − t)·noise + t·data, with t as a column (t[:, None]) so that each row gets "
         "its own time; then the target, the path's velocity data − noise; then the mean of the squared differences "
         "between the model's output at (x_t, t) and that target.",
    diagnose=_diagnose_loss,
)


def _gaussian_denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The exact clean-data guess E[x₁ | x_t] when the data are N(2, 0.5²) in every coordinate and the noise N(0, 1)."""
    t = t[:, None]
    mean, var = 2.0, 0.25
    path_var = (1 - t) ** 2 + t**2 * var
    return mean + t * var * (x - t * mean) / path_var


def _reference_step(denoiser, x, t, dt):
    times = torch.full((len(x),), t, device=x.device)
    return x + dt * (denoiser(x, times) - x) / (1 - t)


def _step_cases() -> list[tuple]:
    with torch.random.fork_rng():
        torch.manual_seed(11)
        return [(_gaussian_denoiser, torch.randn(5, 3), 0.0, 0.25), (_gaussian_denoiser, torch.randn(8, 2), 0.5, 0.1),
                (_gaussian_denoiser, torch.randn(3, 4) * 2, 0.9, 0.05)]


def _diagnose_step(args, expected, got):
    denoiser, x, t, dt = args
    if not isinstance(got, torch.Tensor) or got.shape != x.shape:
        return f"return the new points, a tensor shaped like x ({tuple(x.shape)})."
    guess = denoiser(x, torch.full((len(x),), t))
    wrong = {
        "that jumps straight to the denoiser's guess: one Euler step moves only dt along the velocity.": guess,
        "that is the step itself: add it to x (x + dt·v).": dt * (guess - x) / (1 - t),
        "divide by the time left, 1 − t: the guess is 1 − t away along the straight path, so v = (x̂ − x) / (1 − t).":
            x + dt * (guess - x),
    }
    for message, value in wrong.items():
        if torch.allclose(got, value, rtol=1e-5, atol=1e-6):
            return message
    return None


euler_step = Exercise(
    name="Euler step of a denoiser",
    reference=_reference_step,
    cases=_step_cases(),
    hint="times = torch.full((len(x),), t, device=x.device); guess = denoiser(x, times); the velocity is "
         "(guess − x) / (1 − t); return x + dt · velocity.",
    diagnose=_diagnose_step,
)


def _judge_steps(outcome) -> tuple[bool, str]:
    steps, reference = int(outcome["steps"]), outcome["reference"]
    sharp, frechet, seconds = float(outcome["sharpness"]), float(outcome["frechet"]), float(outcome["seconds"])
    base_steps = int(reference["steps"])
    if steps == base_steps:
        return False, (f"you measured {steps} steps, the same as the reference row: change the number of steps "
                       "(try 1, 3 or 100) and run the cell again.")
    real = float(outcome["real_sharpness"])
    lines = [f"{steps} steps: sharpness {sharp:.3f} (real digits {real:.3f}, {base_steps} steps "
             f"{reference['sharpness']:.3f}), Fréchet distance {frechet:.1f} ({reference['frechet']:.1f}), "
             f"{seconds:.2f} s ({reference['seconds']:.2f} s)."]
    if steps < base_steps:
        kept = sharp / max(reference["sharpness"], 1e-9)
        if kept < 0.8:
            lines.append("Fewer steps, each towards an average guess: the digits come out blurrier (one step returns "
                         "notebook 01's kind of mean).")
        elif kept < 0.95:
            lines.append(f"Fewer steps, and a little less sharp ({kept:.0%} of the sharpness at {base_steps} steps): "
                         "nearly straight paths need only a handful of steps, and the blur grows as they get fewer.")
        else:
            lines.append("Fewer steps, yet about as sharp: nearly straight paths need only a handful of steps; the "
                         "blur appears with one or two.")
        lines.append(f"And {reference['seconds'] / max(seconds, 1e-9):.1f} times faster.")
    else:
        lines.append("More steps cost time in proportion"
                     + (" and change the digits little: past the knee of the curve, extra steps buy almost nothing."
                        if abs(frechet - reference["frechet"]) < 0.1 * reference["frechet"]
                        else ", and here they changed the result."))
    return True, " ".join(lines)


steps_experiment = Experiment(
    name="how many steps",
    judge=_judge_steps,
    expects="a dict with 'steps', 'sharpness', 'frechet', 'seconds', 'real_sharpness' and 'reference' (the same "
            "numbers at the reference number of steps)",
)
