"""Exercises for notebook 11: the causal mask of a PixelCNN, an affine coupling layer of RealNVP, and a
change-and-observe experiment on the depth of a PixelCNN."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ...models.pixelcnn import causal_mask
from ...models.realnvp import mlp_net
from . import Exercise, Experiment


def _mask_from_parts(kernel_size: int, above: bool, left: bool, centre: bool, right: bool) -> torch.Tensor:
    """A k×k mask built piece by piece (the rows above, and the centre row's left, centre and right): the
    mistakes below are each one piece set wrongly."""
    mask, c = torch.zeros(kernel_size, kernel_size), kernel_size // 2
    mask[:c], mask[c, :c], mask[c, c], mask[c, c + 1:] = float(above), float(left), float(centre), float(right)
    return mask


def _diagnose_mask(args, expected, got):
    kernel_size, include_centre = args
    if not isinstance(got, (torch.Tensor, np.ndarray)) or tuple(got.shape) != (kernel_size, kernel_size):
        return f"return a {kernel_size}×{kernel_size} tensor, one entry per tap of the kernel."
    got = torch.as_tensor(got).float()
    swapped = ("mask B (include_centre=True) keeps the centre: in later layers the centre holds only what came before "
               "the pixel, so seeing it is allowed (and needed, or each layer would lose the pixel's own features)."
               if include_centre else
               "mask A (include_centre=False) leaves out the centre: the first layer reads the image, and a pixel that "
               "sees itself learns to copy its value instead of predicting it.")
    whole_row = ("the whole centre row is 1, but the pixels right of the centre come later in raster order: they "
                 "must be 0.")
    rows_only = ("the rows above are right, but the centre row's pixels left of the centre come before it in raster "
                 "order too: set them to 1.")
    mistakes = [
        (swapped, causal_mask(kernel_size, not include_centre)),
        ("that is the mask transposed: raster order runs row by row, left to right, so before the centre come the rows "
         "above and the centre row's left part, not the columns to the left.",
         causal_mask(kernel_size, include_centre).T),
        ("that mask looks at the pixels after the centre (below and to the right): the pixels before it are above and "
         "to the left.", causal_mask(kernel_size, include_centre).flip(0, 1)),
        *[(whole_row, _mask_from_parts(kernel_size, True, True, centre, True)) for centre in {True, include_centre}],
        *[(rows_only, _mask_from_parts(kernel_size, True, False, centre, False)) for centre in {False, include_centre}],
    ]
    for message, value in mistakes:
        if torch.equal(got, value):
            return message
    return None


mask = Exercise(
    name="causal mask",
    reference=causal_mask,
    cases=[(3, False), (3, True), (5, True), (5, False), (7, True)],
    hint="start from torch.zeros(k, k) and let c = k // 2: set the rows above the centre to 1 (mask[:c] = 1), then the "
         "centre row left of the centre (mask[c, :c] = 1), and the centre itself only when include_centre.",
    diagnose=_diagnose_mask,
)


def _reference_coupling(x, mask, net):
    """An affine coupling without the library's bound on s (AffineCoupling bounds it with a tanh, for stability)."""
    s, t = net(x * mask).chunk(2, dim=1)
    return x * mask + (1 - mask) * (x * torch.exp(s) + t), (s * (1 - mask)).sum(dim=1)


class _CaseNet(nn.Module):
    """A case's net, shown by the expression that built it, so that a failed case reads on one line."""

    def __init__(self, net: nn.Module, label: str):
        super().__init__()
        self.net, self.label = net, label

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def __repr__(self) -> str:
        return self.label


def _coupling_cases() -> list[tuple]:
    with torch.random.fork_rng():
        torch.manual_seed(11)
        return [(torch.randn(5, 2), torch.tensor([[1.0, 0.0]]), _CaseNet(mlp_net(2, 8), "mlp_net(2, 8)")),
                (torch.randn(5, 2), torch.tensor([[0.0, 1.0]]), _CaseNet(mlp_net(2, 8), "mlp_net(2, 8)")),
                (torch.randn(8, 4) * 2, torch.tensor([[1.0, 1.0, 0.0, 0.0]]),
                 _CaseNet(nn.Linear(4, 8), "nn.Linear(4, 8)"))]


def _diagnose_coupling(args, expected, got):
    x, mask, net = args
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return two things, the new points and the log-determinants: return z, log_det."
    z, log_det = (torch.as_tensor(item).detach() for item in got)
    if z.is_complex() or log_det.is_complex():
        return None                                         # compare() has said it: real numbers are expected
    if z.shape != x.shape:
        return f"the first item, z, holds the new points: a tensor shaped like x, {tuple(x.shape)}."
    z, log_det = z.float(), log_det.float()
    kept, changed = x * mask, 1 - mask
    with torch.no_grad():
        s, t = net(kept).chunk(2, dim=1)
        s_all, t_all = net(x).chunk(2, dim=1)
    wrong_z = {
        "feed the net only the kept values, net(x * mask): if s and t depended on the values being changed, z would "
        "depend on them through s too, the Jacobian would no longer be triangular, and Σ s would not be its "
        "log-determinant.": kept + changed * (x * torch.exp(s_all) + t_all),
        "multiply by exp(s), not exp(−s): the forward pass is x·exp(s) + t (exp(−s) belongs to the inverse).":
            kept + changed * (x * torch.exp(-s) + t),
        "that is the inverse, (x − t)·exp(−s): the forward pass scales then shifts, x·exp(s) + t.":
            kept + changed * ((x - t) * torch.exp(-s)),
        "the kept coordinates must pass unchanged: z = x·mask + (1 − mask)·(x·exp(s) + t), so only the others are "
        "scaled and shifted.": x * torch.exp(s) + t,
    }
    for message, value in wrong_z.items():
        if torch.allclose(z, value, rtol=1e-5, atol=1e-6):
            return message
    if log_det.shape != (len(x),):
        return (f"one log-determinant per example, a tensor of shape ({len(x)},): sum over dim=1 only, not over the "
                "whole batch.")
    if torch.allclose(log_det, s.sum(dim=1), rtol=1e-5, atol=1e-6):
        return ("add up s over the changed coordinates only, (s * (1 − mask)).sum(dim=1): the kept ones pass "
                "unchanged, their scale is 1 and log 1 = 0.")
    return None


coupling = Exercise(
    name="affine coupling",
    reference=_reference_coupling,
    cases=_coupling_cases(),
    hint="kept = x * mask; s, t = net(kept).chunk(2, dim=1); z = kept + (1 − mask)·(x·exp(s) + t); and the "
         "log-determinant, one per example, is (s * (1 − mask)).sum(dim=1).",
    diagnose=_diagnose_coupling,
)


def _pace(seconds: float, reference_seconds: float) -> str:
    """How long a run took against the reference, in words: "1.8 times faster", "2.1 times slower"."""
    ratio = reference_seconds / max(seconds, 1e-9)
    if ratio >= 1.1:
        return f"{ratio:.1f} times faster"
    if ratio <= 1 / 1.1:
        return f"{1 / ratio:.1f} times slower"
    return "about as fast"


def _judge_depth(outcome) -> tuple[bool, str]:
    layers, nll, rows, seconds = (int(outcome["layers"]), float(outcome["test_nll"]), int(outcome["rows_seen"]),
                                  float(outcome["seconds"]))
    reference = outcome["reference"]
    base_layers, base_nll, base_rows, base_seconds = (int(reference["layers"]), float(reference["test_nll"]),
                                                      int(reference["rows_seen"]), float(reference["seconds"]))
    if layers == base_layers:
        return False, (f"you trained {layers} layers, the same as the reference: change `my_layers` (try 2 or 12) "
                       "and run the cell again.")
    if not math.isfinite(nll):
        return False, (f"{layers} layers: the test NLL came out {nll}, so the training diverged; run the cell again, "
                       "or pick a number of layers nearer the reference's.")
    gap = abs(nll - base_nll)
    lines = [f"{layers} layers: {nll:.1f} nats per test digit ({base_layers} layers: {base_nll:.1f} nats); the last "
             f"pixel sees {rows} rows above it ({base_rows} at {base_layers}); {seconds:.1f} s ({base_seconds:.1f} s)."]
    if layers < base_layers:
        lines.append("Fewer layers see fewer rows: each gated layer of kernel k reaches k // 2 rows further up "
                     "(L layers of kernel 5 see 2L + 1 rows).")
        if nll > base_nll:
            lines.append(f"The likelihood is worse by {gap:.1f} nats — a pixel predicted without the top of its "
                         f"digit in view is a guess — and the training ran {_pace(seconds, base_seconds)}.")
        else:
            lines.append(f"Yet the likelihood came out better by {gap:.1f} nats (and it ran "
                         f"{_pace(seconds, base_seconds)}): in so few steps the smaller network, with fewer weights to "
                         "set, learns its short view sooner; a longer training typically reverses it, as the deeper network "
                         "learns to use its reach.")
    else:
        lines.append(f"More layers see more rows (each gated layer of kernel k reaches k // 2 rows further up), and "
                     f"each step does more work: the training ran {_pace(seconds, base_seconds)}.")
        if nll < base_nll:
            lines.append(f"The wider view pays: the likelihood is better by {gap:.1f} nats.")
        else:
            lines.append(f"Yet the likelihood came out worse by {gap:.1f} nats: both trained the same few steps, and "
                         "a deeper network needs more of them to learn to use its reach; a longer training lets it "
                         "pull ahead.")
    return True, " ".join(lines)


depth_experiment = Experiment(
    name="how deep a PixelCNN",
    judge=_judge_depth,
    expects="a dict with 'layers', 'test_nll' (nats per test digit), 'rows_seen', 'seconds' and 'reference' (the "
            "same four numbers at the recipe's number of layers)",
)
