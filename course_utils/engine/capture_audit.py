"""What would stop a training step from being captured as a CUDA graph, found on any device, a CPU included.

A CUDA graph (:mod:`course_utils.engine.captured`) replays the GPU work it recorded once. So a step can be captured
only if it (1) never makes the host wait for a value on the GPU (``.item()``, a boolean mask, ``bincount``…), and
(2) does the same work with the same Python numbers on every call: a branch on a step counter, a learning rate
changed inside the step or a number drawn with Python's ``random`` would be frozen at its first value. On CUDA the
capture itself notices (1), late, and (2) not at all. :func:`auditing_capture` watches every ATen operation a step
runs, through PyTorch's dispatcher, and reports both, so the tests check every recipe's step on a 2-core CPU.

What a CPU cannot see: ``.tolist()``, ``.cpu()`` and ``.numpy()`` of a tensor already on the CPU do not reach the
dispatcher. On CUDA the warm-up of :class:`~course_utils.engine.captured.CapturedStep` catches those.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from torch.utils._python_dispatch import TorchDispatchMode

from .captured import made_for_capture, optimizer_settings

HOST_WAITS = {
    "aten::_local_scalar_dense": "reads a tensor's value on the host (.item(), float(t), int(t) or `if t:`)",
    "aten::is_nonzero": "reads a tensor's truth on the host (`if t:`)",
    "aten::equal": "compares two tensors on the host (torch.equal)",
    "aten::allclose": "compares two tensors on the host (torch.allclose)",
    "aten::nonzero": "calls nonzero(), whose output size depends on the data",
    "aten::masked_select": "selects with a boolean mask, whose output size depends on the data",
    "aten::bincount": "calls bincount, which reads the largest value on the host on CUDA; count with scatter_add_ "
                      "into a tensor of fixed size instead",
    "aten::_unique2": "calls unique(), whose output size depends on the data",
    "aten::unique_dim": "calls unique(), whose output size depends on the data",
    "aten::unique_consecutive": "calls unique_consecutive(), whose output size depends on the data",
    "aten::histc": "calls histc, which reads the data's range on the host on CUDA",
    "aten::lift_fresh": "makes a tensor from Python numbers (torch.tensor(...)), a copy from the host at every call "
                        "on CUDA; make it once, outside the step",
}
"""ATen operations that make the host wait for the GPU (or copy from the host) and why; a graph cannot hold them."""

BOOLEAN_INDEXING = "indexes with a boolean mask (t[mask]), whose output size depends on the data; use torch.where"
AUDITED_CALLS = 8
"""Steps a run takes under audit: the first may differ (lazy set-up); calls 2 … 8 must repeat each other exactly, so
a branch taken every n-th step is seen for n ≤ 7 (work done every 50 steps belongs in the engine's ``after_step``)."""


@dataclass
class CaptureAudit:
    """What the audit found for one :func:`~course_utils.engine.train.train` run: its ``description``, whether it
    asked for ``capture``, the step ``calls`` watched, and the ``blockers`` (each a sentence), empty when the step can
    be captured."""

    description: str
    capture: bool
    calls: int = 0
    blockers: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        verdict = "can be captured" if not self.blockers else "cannot be captured: " + "; ".join(self.blockers)
        return f"{self.description}: {verdict}"


class _Recorder(TorchDispatchMode):
    """Records every ATen operation outside optimiser steps as (name, signature), and the host waits among them."""

    def __init__(self):
        super().__init__()
        self.trace: list[tuple[str, tuple]] = []
        self.waits: dict[str, str] = {}
        self.in_optimizer = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if not self.in_optimizer:
            name = func._schema.name
            if name in HOST_WAITS:
                self.waits.setdefault(name, HOST_WAITS[name])
            if name in ("aten::index", "aten::index_put", "aten::index_put_") and _has_boolean_index(args):
                self.waits.setdefault(name, BOOLEAN_INDEXING)
            self.trace.append((str(func), _signature(args + tuple(kwargs.values()))))
        return func(*args, **kwargs)


def _has_boolean_index(args: tuple) -> bool:
    indices = args[1] if len(args) > 1 else ()
    return any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8) for i in indices or ())


def _signature(value):
    """What a graph would freeze of an argument, in words: a tensor's shape and dtype, any other value itself."""
    if isinstance(value, torch.Tensor):
        return f"{'×'.join(map(str, value.shape)) or 'scalar'} {str(value.dtype).removeprefix('torch.')} tensor"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_signature(item) for item in value) + ")"
    if isinstance(value, numbers.Number) or value is None or isinstance(value, (str, torch.dtype, torch.device)):
        return repr(value)
    return type(value).__name__


class _AuditedStep:
    """``step`` run under a :class:`_Recorder` for :data:`AUDITED_CALLS` calls, the verdict in ``audit`` kept up to
    date after each; the next call stops the run (Ctrl-C, as the engine handles it)."""

    def __init__(self, step: Callable, audit: CaptureAudit):
        self.step, self.audit = step, audit
        self.traces: list[list] = []
        self.waits: dict[str, str] = {}
        self.learning_rate_changes: set[str] = set()
        self.unready_optimizers: set[str] = set()
        self.settings: dict[int, list] = {}                       # optimiser → its settings at each call

    def __call__(self, *batch):
        if len(self.traces) == AUDITED_CALLS:
            raise KeyboardInterrupt
        recorder = _Recorder()
        rates: dict[int, tuple[torch.optim.Optimizer, list]] = {}

        def before(optimizer, args, kwargs):
            recorder.in_optimizer += 1
            if id(optimizer) not in rates:
                rates[id(optimizer)] = (optimizer, _learning_rates(optimizer))
                self.settings.setdefault(id(optimizer), []).append(
                    (type(optimizer).__name__, [optimizer_settings(group) for group in optimizer.param_groups]))
            if not made_for_capture(optimizer):
                self.unready_optimizers.add(type(optimizer).__name__)

        def after(optimizer, args, kwargs):
            recorder.in_optimizer -= 1

        with ExitStack() as stack:
            for handle in (register_optimizer_step_pre_hook(before), register_optimizer_step_post_hook(after)):
                stack.callback(handle.remove)
            with recorder:
                values = self.step(*batch)
        for optimizer, at_step in rates.values():
            if _learning_rates(optimizer) != at_step:
                self.learning_rate_changes.add(type(optimizer).__name__)
        self.traces.append(recorder.trace)
        self.waits.update(recorder.waits)
        self.audit.calls = len(self.traces)
        self.audit.blockers = self._blockers()
        return values

    def _blockers(self) -> list[str]:
        blockers = [f"it {why} ({name})" for name, why in self.waits.items()]
        if self.unready_optimizers:
            blockers.append(f"its optimiser ({', '.join(sorted(self.unready_optimizers))}) was not made by "
                            "course_utils.engine.captured.adam, so on CUDA it would lack capturable=True")
        changed = sorted({name for calls in self.settings.values() for (_, before), (_, after) in zip(calls, calls[1:])
                          for old, new in zip(before, after) for name in old if old[name] != new.get(name)})
        if changed:
            blockers.append(f"its optimiser's {', '.join(changed)} change between steps (a schedule such as OneCycleLR "
                            "cycles Adam's β₁), which a graph would freeze at their first values: only the learning "
                            "rate is kept in a tensor the graph reads")
        if self.learning_rate_changes:
            blockers.append("its learning rate changes inside the step (a schedule's step() there); hand the "
                            "schedule to the engine instead: train(..., schedule=schedule)")
        difference = _first_difference(self.traces[1:])
        if difference:
            blockers.append(f"it does not repeat the same work on every call (a Python branch or a Python number "
                            f"that changes): {difference}")
        return blockers


def _learning_rates(optimizer: torch.optim.Optimizer) -> list:
    return [group["lr"] if not isinstance(group["lr"], torch.Tensor) else "tensor" for group in optimizer.param_groups]


def _first_difference(traces: list[list]) -> str | None:
    """Where the first two of ``traces`` that differ part, in words; None if all are the same."""
    for number, (one, other) in enumerate(zip(traces, traces[1:]), start=2):
        for position, (a, b) in enumerate(zip(one, other)):
            if a != b:
                return (f"operation {position + 1} of call {number} was {a[0]}{a[1]}, of call {number + 1} "
                        f"{b[0]}{b[1]}")
        if len(one) != len(other):
            return f"call {number} ran {len(one)} operations, call {number + 1} {len(other)}"
    return None


_audits: list[list[CaptureAudit]] = []


@contextmanager
def auditing_capture() -> Iterator[list[CaptureAudit]]:
    """Audit every training run in the block: each runs :data:`AUDITED_CALLS` steps under watch and stops as if
    interrupted; the yielded list gets one :class:`CaptureAudit` per run."""
    found: list[CaptureAudit] = []
    _audits.append(found)
    try:
        yield found
    finally:
        _audits.pop()


def audited(step: Callable, description: str, capture: bool) -> Callable:
    """``step`` watched by the innermost :func:`auditing_capture` block, or unchanged outside one (the engine's
    :func:`~course_utils.engine.train.train` passes every step through here)."""
    if not _audits:
        return step
    audit = CaptureAudit(description, capture)
    _audits[-1].append(audit)
    return _AuditedStep(step, audit)
