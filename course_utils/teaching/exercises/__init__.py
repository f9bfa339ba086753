"""Exercises with automatic, friendly feedback.

An :class:`Exercise` holds a reference solution and a few test cases. ``exercise.check(student_function)`` runs
both on every case and prints one of:

* ``✓ <name>: correct on all N cases`` — well done;
* ``… <name>: not attempted yet`` — the stub still returns ``None`` or raises ``NotImplementedError``;
* ``✗ <name>: case k ...`` — which case failed, the expected and the actual result, and a specific hint.

A check never raises, so an unfinished exercise never stops a notebook (or the test suite that runs it).

An :class:`Experiment` is the other kind: the student changes something, runs it, and hands over what was measured;
the checker reads that outcome and says what it shows (``None`` means the experiment has not been run yet).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

PASSED, NOT_ATTEMPTED, WRONG, ERROR = "passed", "not attempted", "wrong", "error"


@dataclass(frozen=True)
class Feedback:
    """The outcome of checking one student function: a status and the message shown to the student."""

    status: str
    message: str
    failed_case: int | None = None

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass
class Exercise:
    """A reference solution plus the cases on which a student's function must agree with it.

    ``cases`` is a list of argument tuples. ``diagnose(args, expected, got)`` may return a hint for a specific,
    common mistake (or ``None``); ``hint`` is the general nudge shown with any wrong answer.
    """

    name: str
    reference: Callable
    cases: Sequence[tuple]
    hint: str = ""
    diagnose: Callable | None = None
    rtol: float = 1e-5
    atol: float = 1e-6

    def evaluate(self, student: Callable) -> Feedback:
        """Run ``student`` on every case and return the :class:`Feedback` without printing it."""
        if not callable(student):
            return Feedback(ERROR, f"✗ {self.name}: pass the function itself (no parentheses), got {type(student).__name__}")
        for number, args in enumerate(self.cases, start=1):
            expected = self.reference(*copy.deepcopy(args))
            try:
                got = student(*copy.deepcopy(args))
            except NotImplementedError:
                return Feedback(NOT_ATTEMPTED, f"… {self.name}: not attempted yet — replace the `raise NotImplementedError` with your code.")
            except Exception as error:  # a student's bug must become feedback, not a stack trace
                return Feedback(ERROR, f"✗ {self.name}: case {number} with {_describe_args(args)} raised "
                                       f"{type(error).__name__}: {error}", failed_case=number)
            if got is None and expected is not None:
                if number == 1:
                    return Feedback(NOT_ATTEMPTED, f"… {self.name}: not attempted yet — your function returns None; "
                                                   "fill in the body and `return` the result.")
                return Feedback(WRONG, f"✗ {self.name}: case {number} with {_describe_args(args)} returned None. "
                                       "Does every path through your function end in a `return`?", failed_case=number)
            problem = compare(expected, got, rtol=self.rtol, atol=self.atol)
            if problem:
                lines = [f"✗ {self.name}: case {number} with {_describe_args(args)}: {problem}"]
                hint = self._hint(args, expected, got)
                if hint:
                    lines.append(f"  Hint: {hint}")
                return Feedback(WRONG, "\n".join(lines), failed_case=number)
        return Feedback(PASSED, f"✓ {self.name}: correct on all {len(self.cases)} cases. Well done!")

    def _hint(self, args, expected, got) -> str:
        """The diagnosis of this mistake, else the general hint; a diagnosis that cannot read the answer is skipped."""
        if self.diagnose and not _is_complex(got):
            try:
                specific = self.diagnose(args, expected, got)
            except Exception:  # a string or a dict, say: compare() has already said what was expected
                specific = None
            if specific:
                return specific
        return self.hint

    def check(self, student: Callable) -> None:
        """Print the feedback for ``student``; never raises."""
        print(self.evaluate(student).message)


@dataclass
class Experiment:
    """An exercise whose answer is a measurement: change something, run it, hand over the outcome.

    ``judge(outcome)`` returns ``(passed, message)``: whether the outcome shows what the experiment is about, and
    what it shows. An outcome of ``None`` is an experiment not run yet. ``expects`` describes the outcome the
    experiment cell hands over (``"a dict with ..."``), for the message when an outcome cannot be read; an outcome
    that is not an ``outcome_type`` is refused before the judge reads it (a tensor indexed by a key's name would
    otherwise be read as something else entirely).
    """

    name: str
    judge: Callable[[Any], tuple[bool, str]]
    expects: str
    outcome_type: type | tuple[type, ...] = dict

    def evaluate(self, outcome) -> Feedback:
        """Read ``outcome`` and return the :class:`Feedback` without printing it."""
        if outcome is None:
            return Feedback(NOT_ATTEMPTED, f"… {self.name}: not run yet — make the change the exercise asks for, run "
                                           "the cell, and check again.")
        advice = "run the experiment cell as given, changing only what the exercise asks."
        if not isinstance(outcome, self.outcome_type):
            return Feedback(ERROR, f"✗ {self.name}: could not read the outcome: expected {self.expects}, got "
                                   f"{_short(outcome)} (a {type(outcome).__name__}); {advice}")
        try:
            passed, message = self.judge(outcome)
        except Exception as error:  # an unexpected outcome must become feedback, not a stack trace
            return Feedback(ERROR, f"✗ {self.name}: could not read the outcome ({type(error).__name__}: {error}): "
                                   f"expected {self.expects}, got {_short(outcome)}; {advice}")
        return Feedback(PASSED if passed else WRONG, f"{'✓' if passed else '✗'} {self.name}: {message}")

    def check(self, outcome) -> None:
        """Print the feedback for ``outcome``; never raises."""
        print(self.evaluate(outcome).message)


def compare(expected, got, *, rtol: float = 1e-5, atol: float = 1e-6) -> str | None:
    """Describe how ``got`` differs from ``expected`` (type, shape or values), or return ``None`` if they agree."""
    if isinstance(expected, (torch.Tensor, np.ndarray)):
        wanted = f"a {type(expected).__name__} of shape {tuple(expected.shape)}"
        if not isinstance(got, (torch.Tensor, np.ndarray)):
            return f"expected {wanted} but got a {type(got).__name__} ({_short(got)})"
        if _is_complex(got):
            return f"expected a real-valued tensor but got a complex one ({_short(got)})"
        if isinstance(got, np.ndarray) and got.dtype.kind not in "biuf":
            return f"expected {wanted} of numbers but got an array of {got.dtype} ({_short(got)})"
        want = torch.as_tensor(np.asarray(expected) if isinstance(expected, np.ndarray) else expected).detach().cpu()
        have = torch.as_tensor(np.asarray(got) if isinstance(got, np.ndarray) else got).detach().cpu()
        if tuple(want.shape) != tuple(have.shape):
            return f"expected shape {tuple(want.shape)} but got shape {tuple(have.shape)}"
        return _differing_entries(want, have, rtol=rtol, atol=atol)
    if isinstance(expected, (bool, str)) or expected is None:
        return None if got == expected else f"expected {expected!r} but got {_short(got)}"
    if isinstance(expected, (int, float)):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        elif isinstance(got, np.ndarray) and got.size == 1:
            got = got.item()
        if _is_complex(got):
            return f"expected a real number but got a complex one ({_short(got)})"
        if not isinstance(got, (int, float, np.number)) or isinstance(got, bool):
            return f"expected a number but got a {type(got).__name__} ({_short(got)})"
        return None if math.isclose(float(got), float(expected), rel_tol=rtol, abs_tol=atol) else f"expected {expected:.6g} but got {float(got):.6g}"
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a {type(expected).__name__} of {len(expected)} items but got {_short(got)}"
        for index, (want, have) in enumerate(zip(expected, got)):
            problem = compare(want, have, rtol=rtol, atol=atol)
            if problem:
                return f"item {index}: {problem}"
        return None
    return None if got == expected else f"expected {_short(expected)} but got {_short(got)}"


def _differing_entries(want: torch.Tensor, have: torch.Tensor, *, rtol: float, atol: float) -> str | None:
    """Say how two tensors of the same shape differ, or return ``None`` if they agree.

    Naming the shape twice would say nothing (it is the same), so the message counts the entries that differ and
    shows the first of them, and, for floating-point values, the largest difference too; a small tensor is shown
    in full. Floating-point entries are compared within ``rtol`` and ``atol`` (two NaNs agree), others exactly.
    """
    floating = want.is_floating_point() or have.is_floating_point()
    if floating:
        want, have = want.double(), have.double()
        differ = ~torch.isclose(have, want, rtol=rtol, atol=atol, equal_nan=True)
    else:
        differ = have != want
    count = int(differ.sum())
    if count == 0:
        return None

    def entry(flat: int) -> str:
        index = ", ".join(str(int(i)) for i in np.unravel_index(flat, tuple(want.shape)))
        return f"[{index}] (expected {_number(want.flatten()[flat])}, got {_number(have.flatten()[flat])})"

    if want.numel() <= 6:
        head = f"expected {_short(want)} but got {_short(have)}"
        if want.ndim == 0:
            return head
    else:
        head = f"the shape {tuple(want.shape)} is right but the values are not"
    first = int(differ.flatten().nonzero()[0])
    message = f"{head}: {count} of {want.numel()} entries differ, the first at {entry(first)}"
    if floating:
        gaps = torch.where(differ, (have - want).abs().nan_to_num(nan=math.inf), torch.tensor(-1.0, dtype=want.dtype))
        largest = int(gaps.flatten().argmax())
        if largest != first:
            message += f", the largest at {entry(largest)}"
    return message


def _number(value: torch.Tensor) -> str:
    """One entry of a tensor as the feedback prints it: 4 significant digits for a float, else as it is."""
    number = value.item()
    return f"{number:.4g}" if isinstance(number, float) else repr(number)


def _is_complex(value) -> bool:
    """Whether ``value`` is or holds complex numbers, whose imaginary part a cast to float would silently drop."""
    if isinstance(value, torch.Tensor):
        return value.is_complex()
    return isinstance(value, (complex, np.ndarray, np.generic)) and np.iscomplexobj(value)


def _describe_args(args: tuple) -> str:
    return "(" + ", ".join(_short(arg) for arg in args) + ")"


def _short(value, limit: int = 70) -> str:
    if isinstance(value, torch.Tensor) and value.numel() > 6:
        return f"tensor of shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray) and value.size > 6:
        return f"array of shape {value.shape}"
    if isinstance(value, torch.Tensor):
        rows = np.array2string(value.detach().cpu().numpy(), precision=4, separator=", ")
        text = "tensor(" + rows.replace("\n", "") + ")"                          # a 2-D tensor on one line
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
