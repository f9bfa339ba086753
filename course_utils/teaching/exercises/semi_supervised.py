"""Exercises for notebook 07: the unlabelled digits' loss term from the K logits, and an experiment that changes the
supervised baseline's augmentation and reads the accuracy the student measured."""

from __future__ import annotations

import math

import torch

from ...training.semi_supervised import unlabelled_loss as _unlabelled_loss
from . import Exercise, Experiment


def _diagnose_unlabelled_loss(args, expected, got):
    (logits,) = args
    got = float(torch.as_tensor(got).detach().float().reshape(-1)[0]) if torch.as_tensor(got).numel() == 1 else None
    if got is None:
        return "return one number: the mean over the batch of −log D(x)."
    if math.isnan(got) or math.isinf(got):
        return ("the answer is not finite: exp of a large logit overflows. Stay in log space: log Z = "
                "torch.logsumexp(logits, dim=1), then log D = log Z − softplus(log Z).")
    lse = torch.logsumexp(logits, dim=1)
    log_d = lse - torch.nn.functional.softplus(lse)
    if math.isclose(got, -log_d.sum().item(), rel_tol=1e-4):
        return "that is the sum over the batch; take the mean."
    if math.isclose(got, log_d.mean().item(), rel_tol=1e-4):
        return "the sign is flipped: the loss is −log D(x), which is ≥ 0."
    if math.isclose(got, -lse.mean().item(), rel_tol=1e-4):
        return "that is −log Z; D(x) = Z / (Z + 1), so log D = log Z − log(Z + 1) = log Z − softplus(log Z)."
    if math.isclose(got, -torch.log_softmax(logits, dim=1).max(dim=1).values.mean().item(), rel_tol=1e-4):
        return ("that is the cross-entropy of the most likely class; an unlabelled digit has no class to reward, "
                "only 'real': use Z = Σ exp(l_k) over all K logits.")
    return None


def _unlabelled_cases() -> list[tuple]:
    with torch.random.fork_rng():
        torch.manual_seed(7)
        return [(torch.randn(5, 10),), (torch.randn(64, 10) * 6 - 2,),
                (torch.tensor([[200.0] * 3, [-200.0] * 3, [0.0, 80.0, -80.0]]),)]


unlabelled_loss = Exercise(
    name="unlabelled_loss",
    reference=_unlabelled_loss,
    cases=_unlabelled_cases(),
    hint="log Z = torch.logsumexp(logits, dim=1); log D = log Z − softplus(log Z) (torch.nn.functional.softplus); "
         "return −(log D).mean().",
    diagnose=_diagnose_unlabelled_loss,
    rtol=1e-4,
    atol=1e-5,
)


def _judge_baseline_experiment(outcome) -> tuple[bool, str]:
    shift, accuracy = int(outcome["max_shift"]), float(outcome["accuracy"])
    default, gan = float(outcome["default"]), float(outcome["gan"])
    if shift == 2:
        return False, ("that is the notebook's own baseline (shifts of up to 2 pixels): change my_max_shift, e.g. to 0 "
                       "(no augmentation) or 4, and run the cell again.")
    if not all(0 <= value <= 1 for value in (accuracy, default, gan)):
        return False, f"accuracies are fractions between 0 and 1; got {accuracy}, {default} and {gan}."
    change = accuracy - default
    verdict = (f"with shifts of up to {shift} pixel{'s' if shift != 1 else ''} the baseline reached {accuracy:.1%} at "
               f"its best epoch, against {default:.1%} with the notebook's 2 pixels and {gan:.1%} for the "
               f"semi-supervised GAN on the same labels")
    if change <= -0.01:
        reading = (f"The shifts were worth {-100 * change:.1f} points to the baseline: compared with this weaker "
                   f"baseline, the GAN's gain would look {100 * (gan - accuracy):.1f} points instead of "
                   f"{100 * (gan - default):.1f}. A weak baseline inflates a gap; that is why the notebook gives both "
                   "methods the same augmentation.")
    elif change >= 0.01:
        reading = (f"A stronger augmentation helps the baseline by {100 * change:.1f} points, so the fair comparison "
                   "gives the GAN's labelled digits the same shifts and measures both again; a gap is only as "
                   "honest as the baseline is strong.")
    else:
        reading = ("Within a point of the notebook's baseline: at 100 labels this augmentation is not what limits "
                   "the baseline; the missing ingredient is what the GAN adds, the unlabelled digits and the fakes.")
    return True, f"{verdict}. {reading}"


baseline_experiment = Experiment(
    name="how strong is the baseline",
    judge=_judge_baseline_experiment,
    expects="a dict with 'max_shift' (pixels), 'accuracy' (your baseline's best test accuracy), 'default' (the "
            "notebook's baseline) and 'gan' (the semi-supervised GAN), accuracies in [0, 1]",
)
