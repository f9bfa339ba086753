"""A whole training step as one CUDA graph: record its GPU work once, then replay it with a single launch per step.

A DCGAN step runs a few hundred small GPU kernels (two networks forward and back, twice, and two optimisers). On a
fast GPU, launching them one by one from Python takes longer than computing them, so the GPU waits for the host.
A CUDA graph records the kernels of one step, noise sampling and optimiser updates included, and replays them as one
unit; the host only copies the next batch into the graph's input (Nvidia's CUDA graphs, used through
``torch.cuda.CUDAGraph``). ``benchmarks/dcgan_speed.py`` measures what it buys.

On the CPU and Apple's MPS there is nothing to capture: :func:`capture_step` returns the step unchanged, and the
same code runs in plain (eager) PyTorch. ``COURSE_CUDA_GRAPHS=0`` turns capture off on CUDA too, e.g. to compare.
"""

from __future__ import annotations

import os
import warnings
import weakref
from collections.abc import Callable, Mapping

import torch

GRAPHS_VARIABLE = "COURSE_CUDA_GRAPHS"
WARMUP_STEPS = 3
"""Steps run eagerly before capture: cuDNN picks its algorithms and the optimisers create their state."""
SYNC_WARNING = "called a synchronizing CUDA operation"
"""What PyTorch's synchronisation debug mode says when the host waits for the GPU (a step a graph cannot hold)."""


def graphs_enabled(device: torch.device | str) -> bool:
    """Whether a training step on ``device`` is captured: on CUDA, unless ``COURSE_CUDA_GRAPHS=0``."""
    return torch.device(device).type == "cuda" and os.environ.get(GRAPHS_VARIABLE, "1").strip() != "0"


def optimizer_options(device: torch.device | str) -> dict:
    """Keyword arguments for an Adam whose steps are captured: ``capturable=True`` keeps its step count on the GPU, so
    a replayed update reads the current count instead of the one frozen into the graph; ``fused=True`` updates all
    weights in one kernel instead of a dozen (measured: 6–10 % more steps per second on an H200)."""
    return {"capturable": True, "fused": True} if graphs_enabled(device) else {}


_made_for_capture: weakref.WeakSet = weakref.WeakSet()


def adam(parameters, *, device: torch.device | str, lr: float, betas: tuple[float, float] = (0.9, 0.999),
         options: dict | None = None) -> torch.optim.Adam:
    """Adam for a step that may be captured on ``device``: with :func:`optimizer_options`, unless ``options``
    replaces them (e.g. to time the classic optimiser). Every recipe makes its optimisers here, and the capture audit
    (:mod:`course_utils.engine.capture_audit`) checks that a step's optimisers were."""
    needed = optimizer_options(device)
    options = needed if options is None else options
    optimizer = torch.optim.Adam(parameters, lr=lr, betas=betas, **options)
    if all(options.get(name) == value for name, value in needed.items()):
        _made_for_capture.add(optimizer)
    return optimizer


def made_for_capture(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer`` came from :func:`adam` with the options a captured step on its device needs."""
    return optimizer in _made_for_capture


class CapturedStep:
    """``step(*batch) → {name: tensor}``, captured as a CUDA graph after a few eager warm-up calls, then replayed.

    Every call is one real training step: the first :data:`WARMUP_STEPS` run eagerly on a side stream (as CUDA
    graphs require), the next records the step and replays it once, and later calls copy their batch into the
    graph's input tensors and replay. A batch of another shape, dtype or device than the captured one runs eagerly.
    The returned values are copies, since the graph overwrites its outputs on each replay. The last warm-up step
    watches for the host waiting on the GPU (``.item()``, ``print(tensor)``, ``if tensor:``), which a graph cannot
    contain: a step that does so keeps running eagerly, with a warning that says why.
    """

    def __init__(self, step: Callable[..., Mapping[str, torch.Tensor]], warmup_steps: int = WARMUP_STEPS):
        self.step = step
        self.warmup_steps = warmup_steps
        self.eager_calls = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.failed = False                                          # the step cannot be captured
        self.static_inputs: tuple[torch.Tensor, ...] = ()
        self.static_outputs: Mapping[str, torch.Tensor] = {}

    @property
    def mode(self) -> str:
        """"CUDA graph" once the step has been captured, else "eager"."""
        return "CUDA graph" if self.graph is not None else "eager"

    def __call__(self, *batch: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.graph is not None and self._fits(batch):
            for static, new in zip(self.static_inputs, batch):
                static.copy_(new)
            self.graph.replay()
            return {name: value.clone() for name, value in self.static_outputs.items()}
        if self.graph is not None or self.failed or not all(isinstance(t, torch.Tensor) and t.is_cuda for t in batch):
            return dict(self.step(*batch))
        if self.eager_calls < self.warmup_steps:
            self.eager_calls += 1
            if self.eager_calls < self.warmup_steps:
                return self._on_side_stream(batch)
            return self._watching_for_syncs(batch)
        return self._capture(batch)

    def _fits(self, batch: tuple) -> bool:
        return len(batch) == len(self.static_inputs) and all(
            isinstance(new, torch.Tensor) and new.shape == static.shape and new.dtype == static.dtype
            and new.device == static.device for new, static in zip(batch, self.static_inputs))

    def _on_side_stream(self, batch: tuple) -> dict[str, torch.Tensor]:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            values = dict(self.step(*batch))
        torch.cuda.current_stream().wait_stream(side)
        return values

    def _watching_for_syncs(self, batch: tuple) -> dict[str, torch.Tensor]:
        previous = torch.cuda.get_sync_debug_mode()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                values = self._on_side_stream(batch)
            finally:
                torch.cuda.set_sync_debug_mode(previous)
        syncs = [str(w.message) for w in caught if SYNC_WARNING in str(w.message)]
        for other in (w for w in caught if SYNC_WARNING not in str(w.message) and "debug mode" not in str(w.message)):
            warnings.warn_explicit(other.message, other.category, other.filename, other.lineno)
        if syncs:
            self.failed = True
            warnings.warn(f"the training step waits for the GPU on the host ({syncs[0].strip()}), so it cannot be "
                          "captured as a CUDA graph and runs eagerly: correct, but slower. Remove .item(), printing "
                          "or `if tensor:` from the step to capture it.", stacklevel=4)
        return values

    def _capture(self, batch: tuple) -> dict[str, torch.Tensor]:
        self.static_inputs = tuple(t.clone() for t in batch)        # clone keeps the layout (channels-last stays)
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                outputs = dict(self.step(*self.static_inputs))
        except RuntimeError as error:
            raise RuntimeError(f"the training step could not be captured as a CUDA graph ({error}). Restart the "
                               f"kernel (a failed capture can leave CUDA's random-number state unusable), set "
                               f"{GRAPHS_VARIABLE}=0 to train eagerly, and please report the step that failed."
                               ) from error
        self.graph, self.static_outputs = graph, outputs
        graph.replay()                                               # capture only records: this runs the step
        return {name: value.clone() for name, value in outputs.items()}


def capture_step(step: Callable[..., Mapping[str, torch.Tensor]], device: torch.device | str) -> Callable:
    """``step`` as a :class:`CapturedStep` where :func:`graphs_enabled` says so (CUDA), else ``step`` itself.

    The step must keep its tensors' addresses between calls, which PyTorch's modules and optimisers do, and its
    optimisers must be built with :func:`optimizer_options` (Adam's ``capturable=True``). On CUDA, cuDNN is told
    to benchmark its convolution algorithms once, since every batch has the same shape.
    """
    if not graphs_enabled(device):
        return step
    torch.backends.cudnn.benchmark = True
    return CapturedStep(step)


def schedule_stepper(schedule, captured: CapturedStep | None = None) -> Callable[[], None]:
    """What the engine calls after every step to advance a learning-rate ``schedule`` (one scheduler, a list of them,
    or None for none); ``captured`` is the step when it may be captured as a CUDA graph.

    A captured step would freeze a learning rate held as a Python number at its first value. So for a graph each
    parameter group's rate becomes a tensor on the weights' device, which the graph reads at every replay, and the new
    rate the schedule sets is written into that same tensor (newer PyTorch does so itself; older versions put a number
    back, which is copied in). A schedule that also changes another setting (``OneCycleLR`` cycles Adam's β₁) cannot
    be followed by a graph: the step then stays eager, with a warning, or, if it was captured already, training stops
    with an error rather than go on with a frozen setting.
    """
    schedules = [] if schedule is None else list(schedule) if isinstance(schedule, (list, tuple)) else [schedule]
    groups = [group for each in schedules for group in each.optimizer.param_groups]
    rates = [torch.tensor(float(group["lr"]), device=group["params"][0].device) for group in groups] if captured else []
    for group, rate in zip(groups, rates):
        group["lr"] = rate
    settings = [optimizer_settings(group) for group in groups]

    def advance() -> None:
        for each in schedules:
            each.step()
        for group, rate in zip(groups, rates):
            if group["lr"] is not rate:
                rate.fill_(float(group["lr"]))
                group["lr"] = rate
        changed = sorted({name for group, before in zip(groups, settings) for name, value in optimizer_settings(group).items()
                          if before[name] != value})
        if captured is not None and changed and not captured.failed:
            why = (f"the learning-rate schedule also changes {', '.join(changed)} at every step, which a CUDA graph "
                   f"would freeze at its first value; set the recipe's capturable = False and say why")
            if captured.graph is not None:
                raise RuntimeError(f"training stopped: {why}")
            captured.failed = True
            warnings.warn(f"{why}. The step runs eagerly: correct, but slower.", stacklevel=3)

    return advance


def optimizer_settings(group: dict) -> dict:
    """An optimiser parameter group's settings other than its weights and learning rate."""
    return {name: value for name, value in group.items() if name not in ("params", "lr", "initial_lr")}


def speed_line(description: str, history, batch_size: int, device: torch.device | str, how: str) -> str:
    """One line saying how fast training ran, e.g. "DCGAN: 24,000 steps in 41.0 s — 585 steps/s, 18,732 images/s on
    cuda (CUDA graph, bfloat16)"; ``history`` is the :class:`~course_utils.engine.train.History` of the run."""
    steps = history.steps[-1] if history.steps else 0
    seconds = max(history.seconds, 1e-9)
    return (f"{description}: {steps:,} steps in {history.seconds:.1f} s — {steps / seconds:,.0f} steps/s, "
            f"{steps * batch_size / seconds:,.0f} images/s on {torch.device(device).type} ({how})")
