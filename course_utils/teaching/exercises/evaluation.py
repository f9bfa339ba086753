"""Exercises for notebook 08: precision from k-nearest-neighbour radii, and a predict-then-measure experiment on
which metric a given failure breaks."""

from __future__ import annotations

import math

import torch

from ...evaluation.sample_sets import coverage_of, knn_radii, precision_recall
from . import Exercise, Experiment


def _precision(real, fake, k):
    return precision_recall(real, fake, k)["precision"]


def _diagnose_precision(args, expected, got):
    real, fake, k = args
    answer = torch.as_tensor(got, dtype=torch.float64).detach()
    got = float(answer.reshape(-1)[0]) if answer.numel() == 1 else None
    if got is None:
        return "return one number: the share of generated points inside at least one real ball."
    if math.isclose(got, precision_recall(real, fake, k)["recall"], abs_tol=1e-6):
        return "that is recall (real points inside the generated balls); precision asks about the generated points."
    own = torch.cdist(real.double(), real.double()).kthvalue(k, dim=1).values       # the point itself counted
    if math.isclose(got, coverage_of(fake, real, own).double().mean().item(), abs_tol=1e-6):
        return ("each point is its own nearest neighbour at distance 0: take the (k+1)-th smallest distance, "
                "e.g. kthvalue(k + 1, dim=1), for the k-th *other* point.")
    radii = knn_radii(real, k)
    strict = (torch.cdist(fake.double(), real.double()) < radii.double()[None]).any(1).double().mean().item()
    if math.isclose(got, strict, abs_tol=1e-6) and not math.isclose(got, expected, abs_tol=1e-6):
        return "a point exactly on a ball's edge counts as inside: use <=."
    return None


def _precision_cases() -> list[tuple]:
    with torch.random.fork_rng():
        torch.manual_seed(8)
        real = torch.randn(200, 2)
        return [(real, real[:50] + 0.1, 3), (real, torch.randn(150, 2) * 2 + 1, 3), (torch.randn(120, 5), torch.randn(90, 5) + 0.5, 5)]


precision = Exercise(
    name="precision",
    reference=_precision,
    cases=_precision_cases(),
    hint="radii: torch.cdist(real, real).kthvalue(k + 1, dim=1).values; inside: (torch.cdist(fake, real) <= radii).any(1); "
         "precision: the mean of inside, as a float.",
    diagnose=_diagnose_precision,
    rtol=1e-6,
    atol=1e-9,
)


METRIC_NAMES = ("inception_score", "frechet_distance", "precision", "recall", "swd_28", "memorisation",
                "two_sample_accuracy")


def _judge_failure_prediction(outcome) -> tuple[bool, str]:
    predicted, failure = str(outcome["predicted"]), str(outcome["failure"])
    changes = {name: float(value) for name, value in outcome["changes"].items()}
    if predicted not in changes:
        return False, f"predict one of the metrics measured: {', '.join(changes)} (you wrote {predicted!r})."
    ranked = sorted(changes, key=lambda name: -abs(changes[name]))
    measured = ", ".join(f"{name} {changes[name]:+.0%}" for name in ranked[:3])
    if predicted in ranked[:2]:
        return True, (f"{failure}: the largest measured changes were {measured}. Your prediction, {predicted}, is "
                      "among the two that moved most: that metric catches this failure.")
    return True, (f"{failure}: the largest measured changes were {measured}; {predicted} changed by "
                  f"{changes[predicted]:+.0%}. Not what you predicted: look at what the top metric compares, and why "
                  "this failure shows up there.")


failure_prediction = Experiment(
    name="which metric catches it",
    judge=_judge_failure_prediction,
    expects="a dict with 'failure' (its name), 'predicted' (a metric's name) and 'changes' (metric → relative change)",
)
