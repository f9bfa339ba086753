"""Exercises for notebook 09: the fade-in blend of progressive growing, and a predict-then-measure experiment with
the truncation trick."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...models.progressive_gan import fade_in as _blend
from . import Exercise, Experiment


def _reference_fade_in(old_small: torch.Tensor, new: torch.Tensor, alpha: float) -> torch.Tensor:
    return _blend(F.interpolate(old_small, scale_factor=2, mode="nearest"), new, alpha)


def _fade_in_cases() -> list[tuple]:
    with torch.random.fork_rng():
        torch.manual_seed(9)
        return [(torch.randn(2, 1, 2, 2), torch.randn(2, 1, 4, 4), 0.25),
                (torch.randn(3, 1, 7, 7), torch.randn(3, 1, 14, 14), 0.7),
                (torch.randn(1, 1, 3, 3), torch.randn(1, 1, 6, 6), 0.0),
                (torch.randn(2, 1, 7, 7), torch.randn(2, 1, 14, 14), 1.0)]


def _diagnose_fade_in(args, expected, got):
    old_small, new, alpha = args
    if not isinstance(got, torch.Tensor) or got.shape != new.shape:
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return (f"the result has the new, larger size {tuple(new.shape)}, got {shape}: enlarge the old image first "
                "with F.interpolate(old_small, scale_factor=2) (nearest neighbour, each pixel copied into a 2×2 block).")
    old = F.interpolate(old_small, scale_factor=2, mode="nearest")
    wrong = {
        "the weights are swapped: α is the new block's share, so α = 0 must give the old network's image exactly.":
            alpha * old + (1 - alpha) * new,
        "the old image's weight is 1 − α: without it, the blend is brighter than either image until α = 1.":
            old + alpha * new,
        "enlarge with nearest-neighbour copies (the default mode of F.interpolate): that is how the old network's "
        "image looks at the new size, and what the new block learns to refine.":
            _blend(F.interpolate(old_small, scale_factor=2, mode="bilinear", align_corners=False), new, alpha),
    }
    for message, value in wrong.items():
        if torch.allclose(got, value, rtol=1e-5, atol=1e-6) and not torch.allclose(value, expected, rtol=1e-5, atol=1e-6):
            return message
    return None


fade_in = Exercise(
    name="fade-in blend",
    reference=_reference_fade_in,
    cases=_fade_in_cases(),
    hint="enlarge the old image with F.interpolate(old_small, scale_factor=2), then return "
         "(1 − alpha)·old + alpha·new.",
    diagnose=_diagnose_fade_in,
)


DIRECTIONS = ("up", "down")


def _judge_truncation(outcome) -> tuple[bool, str]:
    threshold, prediction = outcome["threshold"], outcome["prediction"]
    if threshold is not None and float(threshold) <= 0:
        return False, "the threshold is a positive number: every coordinate of z is kept within ±threshold."
    if threshold is None or float(threshold) >= 3:
        return False, ("pick a threshold below 3 (try 1.0 or 0.4): almost no draw of N(0, 1) lies beyond 3, so "
                       "nothing would change.")
    unknown = [name for name in ("precision", "recall") if prediction.get(name) not in DIRECTIONS]
    if unknown:
        return False, (f"first write down your prediction for {' and '.join(unknown)}: 'up' or 'down' compared with "
                       "untruncated latents, then run the cell again.")
    reference = outcome["reference"]
    lines = [f"threshold {float(threshold):g}: precision {reference['precision']:.2f} → {outcome['precision']:.2f}, "
             f"recall {reference['recall']:.2f} → {outcome['recall']:.2f}."]
    for name, meaning in (("precision", "fidelity: the share of samples that land among real digits"),
                          ("recall", "diversity: the share of real digits the samples reach")):
        change = outcome[name] - reference[name]
        if abs(change) < 0.02:
            lines.append(f"{name.capitalize()} ({meaning}) barely moved ({change:+.2f}) at this threshold; for this "
                         "DCGAN precision moves only below about 0.75, so try a smaller one.")
            continue
        measured = "up" if change > 0 else "down"
        verdict = "as you predicted" if prediction[name] == measured else f"not {prediction[name]} as you predicted"
        lines.append(f"{name.capitalize()} ({meaning}) went {measured}, {verdict}.")
    lines.append("Truncation pulls z toward the centre: recall falls first, and precision rises only once the samples "
                 "crowd into the middle of the real digits' features, faint blurs included, so look at them too.")
    return True, " ".join(lines)


truncation_experiment = Experiment(
    name="predict, then truncate",
    judge=_judge_truncation,
    expects="a dict with 'threshold', 'prediction' ({'precision': 'up'/'down', 'recall': 'up'/'down'}), the measured "
            "'precision' and 'recall', and 'reference' (the same two numbers without truncation)",
)
