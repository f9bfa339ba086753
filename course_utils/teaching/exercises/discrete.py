"""Exercises for notebook 12: the vector quantizer with its straight-through gradient, the codebook and commitment
losses (checked for where their gradients go as well as for their values), and a change-and-observe experiment on
the size of a VQ-VAE's codebook."""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Callable

import torch

from ...engine.config import budget
from ...engine.data import load_mnist
from ...engine.device import check_device, get_device
from ...models.vqvae import GRID, vq_losses
from ...training.vqvae import VQVAERecipe, evaluate_vqvae
from . import Exercise, Experiment
from .likelihood import _pace


@dataclasses.dataclass
class GradientExercise(Exercise):
    """An exercise whose answer must send the right gradients back as well as hold the right values.

    ``measure(function, *args)`` runs a function on one case and returns what is compared: for each thing the
    function returns, a tuple of its value and the gradients autograd sends to the inputs (or the function's return
    value itself when it is not the tuple asked for, so the comparison says what was expected). The student's
    function and the reference are both measured, so a gradient is compared like any value and ``diagnose`` sees it.
    ``labels`` names the compared items in the feedback, by their place: ``(1, 0)`` is the value of the second
    thing returned.
    """

    measure: Callable | None = None
    labels: dict[tuple[int, ...], str] = dataclasses.field(default_factory=dict)

    def evaluate(self, student: Callable):
        if self.measure is None or not callable(student):
            return super().evaluate(student)
        measured = dataclasses.replace(self, reference=functools.partial(self.measure, self.reference), measure=None)
        feedback = measured.evaluate(functools.partial(self.measure, student))

        def name(match: re.Match) -> str:
            path = tuple(int(index) for index in re.findall(r"\d+", match[0]))
            for end in range(len(path), 0, -1):
                if path[:end] in self.labels:
                    return f": {self.labels[path[:end]]}: " + "".join(f"item {index}: " for index in path[end:])
            return match[0]

        return dataclasses.replace(feedback, message=re.sub(r": (?:item \d+: )+", name, feedback.message, count=1))


def _upstream(z: torch.Tensor) -> torch.Tensor:
    """A fixed, random gradient from "the decoder" for an output shaped like z: the straight-through estimator must
    hand exactly this to z."""
    return torch.randn(z.shape, generator=torch.Generator().manual_seed(12)).to(z)


def _measured(got) -> bool:
    """Whether ``got`` is a measured answer (a pair of tuples), not an answer of another form compared as it is."""
    return isinstance(got, tuple) and len(got) == 2 and all(isinstance(item, tuple) for item in got)


def _zero_if_none(gradient, like: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(like) if gradient is None else gradient.detach()


# ----------------------------------------------------------------------------------------------------- the quantizer


def _reference_quantize(z: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The nearest codebook row to every vector of z (N×D×H×W), and z_straight = z + (z_q − z).detach()."""
    n, d, h, w = z.shape
    vectors = z.detach().permute(0, 2, 3, 1).reshape(-1, d)                   # one row per position: (N·H·W)×D
    distances = (vectors[:, None, :] - codebook[None, :, :].detach()).pow(2).sum(-1)   # (N·H·W)×K, ‖z − e‖²
    indices = distances.argmin(1).view(n, h, w)
    z_q = codebook[indices].permute(0, 3, 1, 2)                                # N×H×W×D → N×D×H×W
    return indices, z + (z_q - z).detach()


def _measure_quantizer(function: Callable, z: torch.Tensor, codebook: torch.Tensor):
    """``((indices, their kind of number), (values of z_straight, gradient reaching z))``: the gradient is what z
    receives when the upstream gradient :func:`_upstream` arrives at z_straight, or ``None`` if z_straight is not
    connected to z at all."""
    z = z.detach().clone().requires_grad_(True)
    answer = function(z, codebook)
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return answer
    indices, z_straight = answer
    kind = None
    if isinstance(indices, torch.Tensor):
        kind = str(indices.dtype) if indices.is_floating_point() or indices.is_complex() else "whole numbers"
    gradient = None
    if isinstance(z_straight, torch.Tensor):
        if z_straight.requires_grad and z_straight.is_floating_point() and z_straight.shape == z.shape:
            (gradient,) = torch.autograd.grad(z_straight, z, _upstream(z_straight), allow_unused=True)
            gradient = _zero_if_none(gradient, z)
        z_straight = z_straight.detach()
    return (indices, kind), (z_straight, gradient)


def _quantizer_cases() -> list[tuple]:
    """Small grids and codebooks whose rows have very different lengths (so that a distance without ‖e‖² picks other
    codes), square and not square (so that a transpose shows)."""
    rng = torch.Generator().manual_seed(12)

    def codebook(size: int, dim: int) -> torch.Tensor:
        lengths = torch.linspace(0.3, 3.0, size)[torch.randperm(size, generator=rng)]
        return torch.randn(size, dim, generator=rng) * lengths[:, None]

    return [(torch.randn(2, 3, 4, 4, generator=rng) * 1.5, codebook(6, 3)),
            (torch.randn(1, 2, 3, 5, generator=rng) * 1.5, codebook(4, 2)),
            (torch.randn(3, 4, 2, 2, generator=rng) * 1.5, codebook(10, 4))]


def _nearest_under(score: Callable, vectors: torch.Tensor, codebook: torch.Tensor, pick: str = "argmin"):
    """The code each row of ``vectors`` picks when ``score(vectors, codebook)`` ((rows)×K) is minimised (or
    maximised): the one form in which the diagnosis writes each mistaken choice."""
    scores = score(vectors, codebook)
    return scores.argmin(1) if pick == "argmin" else scores.argmax(1)


def _squared_distance(v, e):
    return (v[:, None, :] - e[None, :, :]).pow(2).sum(-1)


def _diagnose_quantizer(args, expected, got):
    z, codebook = (arg.detach() for arg in args)
    n, d, h, w = z.shape
    if not _measured(got):
        return ("return two things, in this order: the indices and z_straight (return indices, z_straight). "
                "VectorQuantizer.forward returns three, but this exercise asks for these two.")
    (indices, _), (values, gradient) = got
    (expected_indices, _), (expected_values, _) = expected
    if not isinstance(indices, torch.Tensor) or tuple(indices.shape) != (n, h, w):
        shape = tuple(indices.shape) if isinstance(indices, torch.Tensor) else type(indices).__name__
        return (f"the indices come one per position of the grid, shaped N×H×W = {(n, h, w)}, but yours are {shape}: "
                f"the argmin over the codes gives N·H·W numbers in a row; .view({n}, {h}, {w}) puts them back on the "
                "grid.")
    if indices.is_floating_point() or indices.is_complex():
        return ("the indices are whole numbers (argmin returns them as torch.long), the rows to look up: keep them so, "
                "without .float().")
    indices = indices.long()
    rows = z.permute(0, 2, 3, 1).reshape(-1, d)

    def on_grid(flat: torch.Tensor) -> torch.Tensor:
        return flat.view(n, h, w)

    farthest = ("those are the farthest codes: argmax picks the largest distance; the nearest code has the "
                "smallest, argmin.")
    dot_only = ("a dot product alone is not a distance: ‖z − e‖² = ‖z‖² − 2 z·e + ‖e‖², and without ‖e‖² the longest "
                "codes win (in these cases the codebook rows have very different lengths, as a trained codebook's "
                "may). Keep all three terms, or take ((z − e)²).sum().")
    plus = "mind the sign of the cross term: ‖z − e‖² = ‖z‖² − 2 z·e + ‖e‖² (minus 2 z·e, not plus)."
    mixed = (f"the vectors got mixed up: z is N×D×H×W, so z.reshape(-1, {d}) cuts the grid's numbers into rows in "
             f"memory order, taking {d} neighbouring pixels of one channel instead of the {d} channels of one pixel. "
             f"Move the channels last first: z.permute(0, 2, 3, 1).reshape(-1, {d}).")
    transposed = ("transpose(1, 3) moves the channels last but also swaps rows and columns (N×W×H×D): use "
                  "permute(0, 2, 3, 1), which keeps the grid as it is (N×H×W×D).")
    wrong_indices = [
        (farthest, on_grid(_nearest_under(_squared_distance, rows, codebook, "argmax"))),
        (dot_only, on_grid(_nearest_under(lambda v, e: v @ e.T, rows, codebook, "argmax"))),
        (plus, on_grid(_nearest_under(lambda v, e: e.pow(2).sum(1) + 2 * v @ e.T, rows, codebook))),
        (mixed, on_grid(_nearest_under(_squared_distance, z.reshape(-1, d), codebook))),
        (transposed, on_grid(_nearest_under(_squared_distance, z.transpose(1, 3).reshape(-1, d), codebook))),
    ]
    if not torch.equal(indices, expected_indices):
        for message, wrong in wrong_indices:
            if torch.equal(indices, wrong):
                return message
        return None
    if not isinstance(values, torch.Tensor) or values.shape != z.shape:
        shape = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        if isinstance(values, torch.Tensor) and tuple(values.shape) == (n, h, w, d):
            return (f"codebook[indices] is N×H×W×D {(n, h, w, d)}: move the code vectors back to the channels with "
                    ".permute(0, 3, 1, 2), so that z_straight is shaped like z, N×D×H×W.")
        return f"z_straight is shaped like z, N×D×H×W = {tuple(z.shape)}, but yours is {shape}."
    values = values.float()
    if not torch.allclose(values, expected_values, rtol=1e-5, atol=1e-6):
        if torch.allclose(values, z, rtol=1e-5, atol=1e-6):
            return ("z_straight holds z's own values, so nothing was quantized: in the forward pass it must equal the "
                    "chosen codes z_q, while its gradient goes to z. z + (z_q − z).detach() does both (if you wrote "
                    "z_q + (z − z_q).detach(), that is the other way round).")
        if torch.allclose(values, codebook[expected_indices].reshape(z.shape), rtol=1e-5, atol=1e-6):
            return ("the right codes, in the wrong places: codebook[indices] is N×H×W×D, and .view/.reshape to "
                    "N×D×H×W refills that shape in memory order instead of moving the axes. Use .permute(0, 3, 1, 2).")
        return None
    if gradient is None:
        return ("the values are right, but no gradient reaches z: z_q is looked up by index, and an index has no "
                "gradient, so the encoder would never learn. Return z + (z_q − z).detach(): it equals z_q, and its "
                "gradient is the identity to z (the straight-through estimator).")
    if not gradient.abs().gt(0).any():
        return ("the values are right, but the gradient that reaches z is zero: in z + (z_q − z) the two z's cancel. "
                "Detach the difference, z + (z_q − z).detach(), so only the first z carries a gradient.")
    return ("the values are right, but the gradient that reaches z must be exactly the gradient that arrives at "
            "z_straight (the identity): z_straight = z + (z_q − z).detach(), with nothing else multiplying z.")


quantize = GradientExercise(
    name="vector quantizer",
    reference=_reference_quantize,
    cases=_quantizer_cases(),
    hint="vectors = z.permute(0, 2, 3, 1).reshape(-1, D); the squared distance of every vector to every code is "
         "(vectors[:, None, :] − codebook[None]).pow(2).sum(-1); its argmin over the codes, viewed as N×H×W, gives "
         "the indices; z_q = codebook[indices].permute(0, 3, 1, 2); return indices, z + (z_q − z).detach().",
    diagnose=_diagnose_quantizer,
    measure=_measure_quantizer,
    labels={(0, 0): "the indices", (0, 1): "the indices' kind of number", (1, 0): "z_straight",
            (1, 1): "the gradient that reaches z"},
)


# -------------------------------------------------------------------------------------------------------- the losses


def _measure_losses(function: Callable, z_e: torch.Tensor, z_q: torch.Tensor):
    """``((codebook loss, its gradient to z_e, to z_q), (commitment loss, its gradient to z_e, to z_q))``; a gradient
    that does not reach an input is 0 there."""
    z_e, z_q = (value.detach().clone().requires_grad_(True) for value in (z_e, z_q))
    answer = function(z_e, z_q)
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        return answer
    measured = []
    for loss in answer:
        reached = [torch.zeros_like(z_e), torch.zeros_like(z_q)]
        if isinstance(loss, torch.Tensor):
            if loss.numel() == 1:
                loss = loss.reshape(())                                # a loss of shape (1,) is one number too
                if loss.requires_grad and loss.is_floating_point():
                    gradients = torch.autograd.grad(loss, (z_e, z_q), allow_unused=True, retain_graph=True)
                    reached = [_zero_if_none(gradient, like) for gradient, like in zip(gradients, (z_e, z_q))]
            loss = loss.detach()
        measured.append((loss, *reached))
    return tuple(measured)


def _loss_cases() -> list[tuple]:
    rng = torch.Generator().manual_seed(21)
    cases = []
    for shape in ((2, 4, 3, 3), (1, 8, GRID, GRID), (3, 2, 2, 5)):
        z_e = torch.randn(shape, generator=rng)
        cases.append((z_e, z_e + 0.7 * torch.randn(shape, generator=rng)))
    return cases


def _reaches(gradient) -> bool:
    return isinstance(gradient, torch.Tensor) and bool(gradient.abs().gt(0).any())


def _number(value) -> float | None:
    """A loss as a plain number, if it is one number (a Python number or a real tensor of one element)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
        return value.item()
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _diagnose_losses(args, expected, got):
    z_e, _ = args
    if not _measured(got):
        return "return two things, in this order: the codebook loss and the commitment loss."
    names = ("codebook loss", "commitment loss")
    for name, (value, *_) in zip(names, got):
        if isinstance(value, torch.Tensor) and value.numel() > 1:
            return (f"the {name} is one number: the mean of the squared differences over all N·D·H·W entries "
                    "(F.mse_loss does it), not one per entry or per example.")
    values, wanted = [_number(value) for value, *_ in got], [_number(value) for value, *_ in expected]
    count = z_e.numel()
    for name, value, want in zip(names, values, wanted):
        if value is not None and math.isclose(value, want * count, rel_tol=1e-4):
            return (f"the {name} is {count} times too large, the number of entries: that is the sum of the squared "
                    "differences. Take their mean (F.mse_loss, or .pow(2).mean()), which does not grow with the size "
                    "of the grid.")
    for value, want in zip(values, wanted):
        if value is None or not math.isclose(value, want, rel_tol=1e-4, abs_tol=1e-6):
            return None                                        # a wrong value the checks below would not explain
    (_, *codebook_gradients), (_, *commitment_gradients) = got
    codebook_reaches = dict(zip(("z_e", "z_q"), map(_reaches, codebook_gradients)))
    commitment_reaches = dict(zip(("z_e", "z_q"), map(_reaches, commitment_gradients)))
    if not any(codebook_reaches.values()) and not any(commitment_reaches.values()):
        return ("the values are right, but neither loss sends any gradient, so nothing would learn: keep them as "
                "tensors (no .item(), no float()) and detach only one side in each.")
    if codebook_reaches == {"z_e": True, "z_q": False} and commitment_reaches == {"z_e": False, "z_q": True}:
        return ("the stop-gradients are swapped (or the two losses are returned in the wrong order): the values of the "
                "two are equal, but the codebook loss must move the codes, ‖sg[z_e] − z_q‖² with z_e detached, and "
                "the commitment loss the encoder, ‖z_e − sg[z_q]‖² with z_q detached.")
    if all(codebook_reaches.values()) and all(commitment_reaches.values()):
        return ("the values are right, but without a stop-gradient the two losses are one and the same MSE, pulling "
                "codes and encoder alike: detach z_e in the codebook loss (it moves only the codes) and z_q in the "
                "commitment loss (it moves only the encoder, by the weight the recipe gives it).")
    if codebook_reaches["z_e"]:
        return "the codebook loss must not move the encoder: detach z_e inside it, F.mse_loss(z_q, z_e.detach())."
    if not codebook_reaches["z_q"]:
        return "the codebook loss must reach the codes: detach z_e inside it, not z_q."
    if commitment_reaches["z_q"]:
        return "the commitment loss must not move the codes: detach z_q inside it, F.mse_loss(z_e, z_q.detach())."
    if not commitment_reaches["z_e"]:
        return "the commitment loss must reach the encoder's output: detach z_q inside it, not z_e."
    return None


losses = GradientExercise(
    name="codebook and commitment losses",
    reference=vq_losses,
    cases=_loss_cases(),
    hint="both are the mean squared difference between z_e and z_q; the codebook loss detaches z_e "
         "(F.mse_loss(z_q, z_e.detach())), the commitment loss detaches z_q (F.mse_loss(z_e, z_q.detach())).",
    diagnose=_diagnose_losses,
    measure=_measure_losses,
    labels={(0, 0): "the codebook loss", (0, 1): "the gradient the codebook loss sends to z_e",
            (0, 2): "the gradient the codebook loss sends to z_q", (1, 0): "the commitment loss",
            (1, 1): "the gradient the commitment loss sends to z_e",
            (1, 2): "the gradient the commitment loss sends to z_q"},
)


# ---------------------------------------------------------------------------------------------------- the experiment


def run_codebook_experiment(codebook_size: int, images_seen: int | None = None, device=None) -> dict:
    """Train a VQ-VAE with ``codebook_size`` codes on a short budget and measure it on the held-out digits.

    ``images_seen`` is the training length in images (default: 20,000, or 1,280 in quick mode); the training digits
    are cut to that many, so full MNIST gets the same short budget. Seeded (the caller's random state is restored
    afterwards), so a second call with the same arguments trains the same model. Returns ``codebook_size``, the
    reconstructions' pixel ``mse``, the codebook's ``usage`` (share of codes used) and ``perplexity`` on the test
    digits, and the training's wall-clock ``seconds``.
    """
    device = get_device() if device is None else check_device(device)
    images_seen = budget(full=20_000, quick=1_280) if images_seen is None else images_seen
    recipe = VQVAERecipe(codebook_size=codebook_size, images_seen=images_seen)
    images, _ = recipe.training_data(device)
    images = images[:recipe.images_seen]
    gpus = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=gpus):
        torch.manual_seed(recipe.seed)
        model = recipe.build().to(device)
        history = recipe.train_on(model, images, progress=False)
    test_images, _ = load_mnist("test", device=device)
    scores = evaluate_vqvae(model, test_images)
    return {"codebook_size": recipe.codebook_size, "mse": scores["mse"], "usage": scores["usage"],
            "perplexity": scores["perplexity"], "seconds": history.seconds}


def _bits(size: int) -> float:
    """The most a digit can carry as a 7×7 grid of codes out of ``size``: 49·log2 K bits."""
    return GRID * GRID * math.log2(size)


def _judge_codebook(outcome) -> tuple[bool, str]:
    size, mse, usage, perplexity, seconds = (int(outcome["codebook_size"]), float(outcome["mse"]),
                                             float(outcome["usage"]), float(outcome["perplexity"]),
                                             float(outcome["seconds"]))
    reference = outcome["reference"]
    base_size, base_mse, base_usage, base_perplexity, base_seconds = (
        int(reference["codebook_size"]), float(reference["mse"]), float(reference["usage"]),
        float(reference["perplexity"]), float(reference["seconds"]))
    if size == base_size:
        return False, (f"you trained K = {size} codes, the same as the reference: change `my_codebook_size` (try 8 or "
                       "256) and run the cell again.")
    if not math.isfinite(mse):
        return False, (f"K = {size}: the reconstruction error came out {mse}, so the training diverged; run the cell "
                       "again, or pick a codebook size nearer the reference's.")
    used, base_used = round(usage * size), round(base_usage * base_size)
    change = (mse - base_mse) / base_mse if base_mse > 0 else 0.0
    measured = (f"K = {size}: pixel MSE {mse:.4f} on held-out digits (K = {base_size}: {base_mse:.4f}); {used} of "
                f"{size} codes in use ({base_used} of {base_size}); perplexity {perplexity:.1f} "
                f"({base_perplexity:.1f}); {seconds:.1f} s ({base_seconds:.1f} s).")
    capacity = (f"A digit is 49 codes, so it carries at most 49·log2 K = {_bits(size):.0f} bits at K = {size} "
                f"({_bits(base_size):.0f} at K = {base_size}).")
    lines = [measured, capacity]
    if size == 1:
        lines.append("With a single code every digit becomes the same grid, so the decoder paints the same picture "
                     "for all of them: an average digit at best.")
    if size < base_size:
        if change > 0.03:
            lines.append(f"The copies are coarser: the MSE is {change:.0%} higher, as each of the 49 cells of the grid "
                         f"now holds one of only {size} codes.")
        elif change < -0.03:
            lines.append(f"Yet the MSE came out {-change:.0%} lower: in so short a training a small codebook is "
                         f"easier to fill (every code is chosen, and updated, often), while the {base_size} codes had "
                         "not yet paid off; with a longer training, more codes usually mean finer copies.")
        else:
            lines.append(f"The MSE is about the same ({change:+.0%}): in so short a training the {base_size} codes had "
                         "not yet paid off; with a longer training, more codes usually mean finer copies.")
        if used == size:
            lines.append(f"All {size} codes are in use: with so few, each is the nearest to some cell of some digit.")
        else:
            lines.append(f"Only {used} of the {size} codes are in use: even a small codebook needs training steps (and "
                         "the restarts of unused codes every 50 steps) to come into play.")
    else:
        if usage < base_usage - 0.02:
            lines.append(f"Only {usage:.0%} of the codes are in use ({used} of {size}) against {base_usage:.0%} at "
                         f"K = {base_size}: in a short run many codes are the nearest to no cell of any test digit — "
                         "dead codes — even though the training restarts unused codes on encoder outputs every 50 "
                         "steps.")
        elif used == size:
            lines.append(f"All {size} codes are in use: the restarts of unused codes brought every one into play.")
        else:
            lines.append(f"{usage:.0%} of the codes are in use ({used} of {size}), about the share at K = {base_size} "
                         f"({base_usage:.0%}).")
        if perplexity > 1.05 * base_perplexity:
            lines.append(f"The perplexity rose from {base_perplexity:.1f} to {perplexity:.1f}: the digits' cells are "
                         f"spread over more codes, as if about {perplexity:.0f} were used equally often.")
        else:
            lines.append(f"The perplexity did not rise ({perplexity:.1f} against {base_perplexity:.1f}): the codes the "
                         "digits use are spread no more evenly than with fewer, as most of the extra codes are rarely "
                         "chosen, if at all.")
        if change < -0.03:
            lines.append(f"More codes, finer copies: the MSE is {-change:.0%} lower.")
        elif change > 0.03:
            lines.append(f"Yet the MSE is {change:.0%} higher: with many codes each is chosen, and updated, less "
                         "often, so a short run leaves them less trained; a longer training usually reverses it.")
        else:
            lines.append(f"The MSE barely moved ({change:+.0%}): extra codes help only once they are trained, and in a "
                         "short run each of many codes is chosen, and updated, less often.")
    pace = _pace(seconds, base_seconds)
    lines.append(f"The perplexity can never exceed K: it is the number of codes that, used equally often, would be "
                 f"as unpredictable; here {perplexity / size:.0%} of K ({base_perplexity / base_size:.0%} at "
                 f"K = {base_size}). The training ran {pace} {'as' if pace == 'about as fast' else 'than'} the "
                 "reference" + (": at these sizes the distances to the codes are a small part of each step's work, so "
                                "a gap in time says more about the machine's load than about K."
                                if pace != "about as fast" and max(size, base_size) <= 1024 else "."))
    return True, " ".join(lines)


codebook_experiment = Experiment(
    name="how many codes",
    judge=_judge_codebook,
    expects="a dict with 'codebook_size', 'mse' (pixel MSE of the held-out copies), 'usage' (share of codes used), "
            "'perplexity', 'seconds' and 'reference' (the same five numbers at the recipe's codebook size)",
)
