"""Exercises for notebook 05: the size arithmetic of a transposed convolution, an experiment that makes a
checkerboard, and spherical interpolation."""

from __future__ import annotations

import torch

from ...maths.latent import slerp as _slerp
from . import Exercise, Experiment


def _transposed_conv_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size - 1) * stride - 2 * padding + kernel


def _diagnose_transposed_conv_size(args, expected, got):
    size, kernel, stride, padding = args
    if not isinstance(got, (int, float)):
        return "return one whole number: the height (= width) of the output feature map."
    if got == (size + 2 * padding - kernel) // stride + 1:
        return "that is the formula of an ordinary (strided) convolution, which shrinks the map; a transposed one grows it."
    if got == (size - 1) * stride + kernel:
        return "close — the padding of a transposed convolution *removes* 2·padding pixels from the output."
    if got == size * stride:
        return "size·stride is what the DCGAN layers (k=4, s=2, p=1) happen to give, but not in general: use kernel and padding too."
    return None


transposed_conv_size = Exercise(
    name="transposed_conv_size",
    reference=_transposed_conv_size,
    cases=[(7, 4, 2, 1), (1, 7, 1, 0), (14, 4, 2, 1), (4, 4, 2, 1), (5, 3, 2, 0), (10, 5, 3, 2)],
    hint="each input pixel stamps a kernel×kernel patch; neighbours' patches start `stride` apart, and `padding` "
         "trims that many pixels from each border of the result.",
    diagnose=_diagnose_transposed_conv_size,
)


def _diagnose_slerp(args, expected, got):
    z0, z1, t = args
    got = torch.as_tensor(got, dtype=torch.float64)
    if got.shape != expected.shape:
        return f"return one row per fraction in t: shape {tuple(expected.shape)}."
    t_col = torch.as_tensor(t, dtype=torch.float64).reshape(-1, 1)
    linear = (1 - t_col) * z0.double() + t_col * z1.double()
    if torch.allclose(got, linear, atol=1e-5):
        return "that is the straight line (lerp); weight z0 by sin((1−t)θ) and z1 by sin(tθ), then divide by sin θ."
    if torch.allclose(got[0], z1.double(), atol=1e-5):
        return "at t = 0 you should be at z0, not z1: check which vector gets sin((1−t)θ)."
    return None


spherical_interpolation = Exercise(
    name="slerp",
    reference=lambda z0, z1, t: _slerp(z0, z1, t),
    cases=[
        (torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), torch.tensor([0.0, 0.5, 1.0])),
        (torch.tensor([2.0, 0.0, 0.0]), torch.tensor([0.0, 0.0, 2.0]), torch.tensor([0.25, 0.75])),
        (torch.tensor([3.0, 4.0, 0.0, 1.0]), torch.tensor([-1.0, 2.0, 2.0, 0.5]), torch.linspace(0, 1, 5)),
        (torch.randn(100, generator=torch.Generator().manual_seed(0)),
         torch.randn(100, generator=torch.Generator().manual_seed(1)), torch.tensor([0.1, 0.5, 0.9])),
    ],
    hint="θ = arccos(z0·z1 / (|z0| |z1|)); the point at fraction t is [sin((1−t)θ)·z0 + sin(tθ)·z1] / sin θ, "
         "and with t as a column (t[:, None]) one expression gives every row.",
    diagnose=_diagnose_slerp,
    rtol=1e-4,
    atol=1e-5,
)


def _judge_checkerboard(outcome) -> tuple[bool, str]:
    kernel, stride, coverage = int(outcome["kernel"]), int(outcome["stride"]), outcome["coverage"]
    inner = coverage[kernel:-kernel, kernel:-kernel]              # away from the borders, where fewer stamps land
    low, high = int(inner.min()), int(inner.max())
    if low == high:
        return False, (f"kernel {kernel}, stride {stride}: every inner pixel gets {low} stamps, an even coverage. "
                       "Pick a kernel size that is not a multiple of the stride (e.g. 3 with stride 2).")
    return True, (f"kernel {kernel}, stride {stride}: inner pixels get between {low} and {high} stamps, alternating "
                  "pixel by pixel. A generator built from such layers starts out painting a faint checkerboard and must "
                  "learn to cancel it (Odena et al., 2016); with a kernel that is a multiple of the stride, like "
                  "DCGAN's 4 and 2, every pixel gets the same number.")


checkerboard_experiment = Experiment(name="checkerboard", judge=_judge_checkerboard,
                                     expects="a dict with 'kernel' and 'stride' (whole numbers) and 'coverage' "
                                             "(a 2-D tensor of stamp counts)")
