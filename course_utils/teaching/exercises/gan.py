"""Exercises for notebook 04: the optimal discriminator, the non-saturating generator loss and its gradient at the
logit, and an experiment with the learning rates of the two players on the ring."""

from __future__ import annotations

import math

import torch

from . import Exercise, Experiment


def _optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    return p_data / (p_data + p_g)


def _diagnose_optimal_discriminator(args, expected, got):
    p_data, p_g = (a.double() for a in args)
    got = torch.as_tensor(got, dtype=torch.float64)
    if got.shape != p_data.shape:
        return "return one value per point: D*(x) is computed point by point, with no sum or mean."
    if torch.allclose(got, p_g / (p_data + p_g), atol=1e-6):
        return "you returned p_g / (p_data + p_g) = 1 − D*: D says how likely x is *real*, so p_data goes on top."
    if torch.allclose(got, p_data / p_g, atol=1e-6):
        return "the denominator is the sum p_data + p_g (a real or a fake example could have landed at x)."
    if torch.allclose(got, p_data, atol=1e-6):
        return "D* depends on both densities: where p_g is large, even a likely real point is often fake."
    return None


optimal_discriminator = Exercise(
    name="optimal_discriminator",
    reference=_optimal_discriminator,
    cases=[
        (torch.tensor([0.2, 0.5, 0.1]), torch.tensor([0.2, 0.1, 0.4])),
        (torch.tensor([0.3]), torch.tensor([0.3])),
        (torch.linspace(0.01, 1.0, 50), torch.linspace(1.0, 0.01, 50)),
    ],
    hint="maximise a·log y + b·log(1 − y) over y, with a = p_data(x) and b = p_g(x): set the derivative to zero.",
    diagnose=_diagnose_optimal_discriminator,
)


def _non_saturating_loss(d_fake: torch.Tensor) -> torch.Tensor:
    return -torch.log(d_fake).mean()


def _diagnose_non_saturating_loss(args, expected, got):
    (d_fake,) = args
    d_fake = d_fake.double()
    got = torch.as_tensor(got, dtype=torch.float64)
    if got.numel() != 1:
        return "return a single number: the mean over the batch, not one loss per sample."
    if torch.isclose(got, torch.log(d_fake).mean(), atol=1e-6):
        return "mind the sign: G wants D(G(z)) → 1, so it minimises −log D(G(z)), which goes down as D(G(z)) goes up."
    if torch.isclose(got, torch.log(1 - d_fake).mean(), atol=1e-6):
        return "that is the saturating (minimax) loss log(1 − D(G(z))); the non-saturating one is −log D(G(z))."
    if torch.isclose(got, -torch.log(d_fake).sum(), atol=1e-6):
        return "use the mean over the batch, not the sum, so the loss does not grow with the batch size."
    return None


non_saturating_loss = Exercise(
    name="non_saturating_loss",
    reference=_non_saturating_loss,
    cases=[
        (torch.tensor([0.2, 0.7]),),
        (torch.tensor([0.01, 0.2, 0.9, 0.6]),),
        (torch.tensor([0.001, 0.002, 0.003]),),
    ],
    hint="the generator labels its fakes as real: the loss is the binary cross-entropy with target 1, −mean(log D(G(z))).",
    diagnose=_diagnose_non_saturating_loss,
)


REJECTED = 0.001
"""D(G(z)) for a fake that D rejects with confidence, as at the start of training: where exercise 2 compares the two
generator losses."""


def _saturating_loss(d_fake: torch.Tensor) -> torch.Tensor:
    return torch.log(1 - d_fake).mean()


def logit_gradient(loss, d_fake: float = REJECTED) -> float:
    """∂loss/∂ℓ at D(G(z)) = sigmoid(ℓ) = ``d_fake``, by autograd through the sigmoid: the factor by which a generator
    loss, written on D's probabilities, reaches G (notebook 04, section 4)."""
    logit = torch.logit(torch.tensor([d_fake], dtype=torch.float64)).requires_grad_()
    (gradient,) = torch.autograd.grad(loss(torch.sigmoid(logit)), logit)
    return gradient.item()


def _judge_logit_gradients(outcome) -> tuple[bool, str]:
    predicted = [float(value) for value in outcome["predicted"]]
    if len(predicted) != 2:
        return False, "predict two numbers, (saturating, non-saturating)."
    try:
        measured = [logit_gradient(_saturating_loss), logit_gradient(outcome["loss"])]
    except Exception as error:  # part (a) unfinished, or a loss that autograd cannot follow
        return False, (f"autograd could not differentiate my_non_saturating_loss ({type(error).__name__}): finish "
                       "part (a), with torch operations, first.")
    if not math.isclose(measured[1], REJECTED - 1, abs_tol=1e-6):
        return False, (f"through your my_non_saturating_loss, ∂loss/∂ℓ = {measured[1]:.4g} rather than −(1 − D) = "
                       f"{REJECTED - 1:.4g}: make part (a) pass first.")
    seen = (f"autograd measures ∂loss/∂ℓ = {measured[0]:.4f} for the saturating loss and {measured[1]:.4f} for yours; "
            f"you predicted {predicted[0]:.4g} and {predicted[1]:.4g}.")

    def matches(values):
        return all(math.isclose(p, v, rel_tol=0.01, abs_tol=0.01) for p, v in zip(predicted, values))

    if matches(measured):
        return True, seen + (" Both push D(G(z)) up, but the saturating loss about a thousand times more weakly: "
                             "when D rejects every fake, as at the start of training, only the non-saturating loss gives "
                             "G a signal. (Taken with respect to the probability D, the numbers look the other way round, "
                             f"−1/(1 − D) ≈ {-1 / (1 - REJECTED):.3f} against −1/D = {-1 / REJECTED:.0f}; but the "
                             "sigmoid's slope D(1 − D) ≈ 0.001 multiplies both on the way back to G.)")
    if matches(measured[::-1]):
        return False, seen + " You swapped them: the saturating loss is the one whose gradient vanishes as D → 0."
    if matches([-1 / (1 - REJECTED), -1 / REJECTED]):
        return False, seen + (" Those are the derivatives with respect to the probability D = σ(ℓ); the gradient "
                              "reaches G through the logit, so multiply by the sigmoid's slope σ'(ℓ) = D(1 − D).")
    if matches([-m for m in measured]):
        return False, seen + " Mind the sign: raising D(G(z)) lowers both losses, so both gradients are negative."
    return False, seen + (" Hint: ∂/∂ℓ log(1 − σ(ℓ)) = −σ(ℓ) and ∂/∂ℓ (−log σ(ℓ)) = −(1 − σ(ℓ)); put in "
                          f"σ(ℓ) = {REJECTED}.")


logit_gradients = Experiment(name="the gradient at D's logit", judge=_judge_logit_gradients,
                             expects="a dict with 'predicted' (two numbers: saturating, non-saturating) and 'loss' "
                                     "(your my_non_saturating_loss)")


SHOWN_D_RATES = (1e-3, 1e-4)


def _judge_ring(outcome) -> tuple[bool, str]:
    d_lr = float(outcome["d_lr"])
    covered, quality = [int(c) for c in outcome["modes_covered"]], [float(q) for q in outcome["high_quality"]]
    if any(abs(d_lr - shown) < 1e-12 for shown in SHOWN_D_RATES):
        return False, f"D's learning rate {d_lr:g} was already shown in section 7: pick another one, e.g. 3e-3 or 3e-4."
    if not covered or len(covered) != len(quality):
        return False, "the outcome needs one mode count and one quality share per run: run the cell as given."
    runs = ", ".join(f"{c}/8 modes ({q:.0%} high quality)" for c, q in zip(covered, quality))
    seen = f"with D learning {d_lr / 1e-3:g}× as fast as G, {len(covered)} runs covered {runs}."
    if max(covered) <= 1:
        return True, seen + (" Every run collapsed: D is too slow to punish G's favourite spot in time, so G piles up "
                             "there and hops. Nothing in the theory says at which rate the game changes character.")
    if min(covered) <= 1:
        return True, seen + (" Some runs collapsed and some did not: at this rate the game sits near the edge between "
                             "the two behaviours, and the seed decides.")
    lines = [seen, "No run collapsed: D keeps up well enough to punish every pile G makes."]
    if max(covered) - min(covered) >= 2:
        lines.append("How many modes G covers varies from seed to seed: compare runs, not single numbers.")
    if sum(quality) / len(quality) < 0.4:
        lines.append("Yet fewer than 40 % of the samples sit on a mode: G spreads out, but D is too slow to sharpen "
                     "the piles.")
    return True, " ".join(lines)


ring_experiment = Experiment(name="D's learning rate on the ring", judge=_judge_ring,
                             expects="a dict with 'd_lr' (a number), 'modes_covered' and 'high_quality' "
                                     "(a list with one number per run)")
