"""Exercises for notebook 01: the MSE-optimal prediction is the mean of the correct answers; L1 picks the median."""

from __future__ import annotations

import torch

from . import Exercise, Experiment


def _best_constant(targets: torch.Tensor) -> float:
    return targets.double().mean().item()


def _diagnose_best_constant(args, expected, got):
    (targets,) = args
    values = targets.double()
    got = float(got.item() if isinstance(got, torch.Tensor) else got)
    close = lambda a: abs(got - float(a)) < 1e-6  # noqa: E731
    if close(values.median()) or close(values.quantile(0.5)):
        return "that is the median, which minimises the mean *absolute* error. For the squared error, set the derivative of Σ(yᵢ − c)² to zero."
    if close((values.max() + values.min()) / 2):
        return "the midpoint of the range only looks at the two extremes; every target pulls on the squared error."
    if close(values.sum()):
        return "you summed the targets; divide by how many there are."
    if close(values.mode().values):
        return "the most frequent value would be right for a 0–1 'exact match' loss, not for the squared error."
    return None


best_constant = Exercise(
    name="best_constant",
    reference=_best_constant,
    cases=[
        (torch.tensor([1.0, 2.0, 6.0]),),
        (torch.tensor([0.15, 0.15, 0.85, 0.85]),),
        (torch.tensor([0.0, 0.0, 0.0, 1.0, 10.0]),),
        (torch.linspace(-3, 5, 101) ** 2,),
    ],
    hint="write the loss L(c) = (1/N) Σᵢ (yᵢ − c)², differentiate with respect to c and set the derivative to zero.",
    diagnose=_diagnose_best_constant,
)


def _judge_median(outcome) -> tuple[bool, str]:
    prediction, targets = float(outcome["prediction"]), outcome["targets"].double().flatten()
    mean, median = targets.mean().item(), targets.median().item()
    if abs(prediction - median) < 0.05 and abs(prediction - mean) > 0.1:
        return True, (f"your network predicts {prediction:.2f}, the majority colour: the median of the targets "
                      f"({median:.2f}), not their mean ({mean:.2f}). The absolute error is minimised by the median, "
                      "a value real people have; only the squared error asks for the in-between mean.")
    if abs(prediction - mean) < 0.05:
        return False, (f"your network predicts {prediction:.2f}, the mean of the targets: that is what MSE learns. Did "
                       "you swap in the mean *absolute* error, (prediction − target).abs().mean()?")
    return False, (f"your network predicts {prediction:.2f}: neither the mean ({mean:.2f}) nor the median "
                   f"({median:.2f}). Is the loss one number per batch, and did the training run to the end?")


median_experiment = Experiment(name="L1 instead of MSE", judge=_judge_median,
                               expects="a dict with 'prediction' (a number) and 'targets' (a tensor)")
