"""The course's one training engine: every model of the course trains through :func:`train`.

A model brings the few lines that matter — one optimisation ``step`` that returns its losses — and the batches to
feed it; ``train`` repeats the step and gives every model the same protections in one place: a progress bar and a
history; Ctrl-C (or Jupyter's Stop) at any step, the first included, returns the partly trained model; NaN, infinite
or blown-up losses, and weights thrown far off by a learning rate that is much too large, stop training with advice
and put back the model's last good weights; a running average of a network's weights; and, on a CUDA GPU, the step
captured as one CUDA graph (:mod:`course_utils.engine.captured`). Losses stay on the device between logging points, so a
GPU is never forced to wait for the host every step. A wall-clock budget is just another source of batches
(:func:`for_seconds`).
"""

from __future__ import annotations

import math
import numbers
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from .capture_audit import audited
from .captured import CapturedStep, capture_step, schedule_stepper, speed_line
from .data import check_digit_batch, check_labels


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite, blew up far past its first value, or the weights were thrown far off; the
    message explains what usually causes it and what to try."""


NAN_ADVICE = (
    "Things to try: a smaller learning rate (10× smaller is a good first step); a loss computed from logits "
    "(e.g. binary_cross_entropy_with_logits) instead of taking the log of a probability that can reach 0; "
    "gradient clipping (torch.nn.utils.clip_grad_norm_); and checking the input data: no NaN, and images must be in "
    "[0, 1] (divide uint8 images by 255; a GAN's discriminator takes them mapped to [−1, 1] by to_tanh_range). "
    "Re-create the model before retrying: its weights may already be NaN or huge."
)

BLOW_UP_FACTOR = 1000.0
"""A logged value whose magnitude exceeds this many times its first step's (at least BLOW_UP_FLOOR) has blown up."""
BLOW_UP_FLOOR = 1.0
"""The smallest scale a blow-up is measured against, so values that start near 0 (a KL term, a hinge g_loss) may grow."""
WEIGHT_GROWTH = 4.0
"""Weights whose overall size (L2 norm) grew more than this many times between two logging points were thrown off."""


class History(dict):
    """What every training run returns: logged values, name → list of floats, one entry per logging point.

    ``steps`` holds the step of each entry and ``elapsed`` its second since training began; ``seconds`` and
    ``cpu_seconds`` the wall and CPU time of the run; ``interrupted`` is True if it was stopped early; ``initial``
    the magnitude of each value at the first step that returned it (the untrained model's losses), the scale a
    blow-up is measured against; ``kept`` what a model's own training kept beside the logged values (the progressive
    GAN's batches, with its snapshots at each phase's end); ``mode`` how the steps ran ("CUDA graph" once captured,
    else "eager").
    """

    def __init__(self):
        super().__init__()
        self.steps: list[int] = []
        self.elapsed: list[float] = []
        self.initial: dict[str, float] = {}
        self.kept: dict = {}
        self.interrupted = False
        self.mode = "eager"
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def last(self, name: str) -> float:
        """The most recent logged value of ``name``."""
        if not self.get(name):
            raise KeyError(f"nothing logged under {name!r} yet; logged: {list(self)}")
        return self[name][-1]


def check_finite(values: Mapping[str, float], step: int) -> None:
    """Raise :class:`TrainingDiverged` if any logged value is NaN or infinite."""
    bad = {name: value for name, value in values.items() if not math.isfinite(value)}
    if bad:
        described = ", ".join(f"{name} = {value}" for name, value in bad.items())
        raise TrainingDiverged(f"Training diverged at step {step}: {described}. {NAN_ADVICE}")


def check_not_blown_up(peaks: Mapping[str, float], initial: Mapping[str, float], step: int) -> None:
    """Raise :class:`TrainingDiverged` if a value's largest magnitude since the last logging point, ``peaks[name]``,
    exceeds ``BLOW_UP_FACTOR`` × ``max(initial[name], BLOW_UP_FLOOR)``, ``initial[name]`` being its magnitude at the
    first step: finite, but blown up.

    Why this rule: a learning rate far too large throws the weights away within a few steps and the losses jump by
    orders of magnitude (a classifier's from 2.3 to 10⁵, a GAN's d_loss to 10¹⁰) — sometimes for a single step, after
    which training sits at chance level with ordinary-looking losses, so every step counts, not just window means.
    Healthy runs move far less relative to their first step: a VAE's loss falls from ~550 to ~100 nats, a GAN's losses
    swing by factors of a few, a KL term rises from ~0 to ~40 nats (the floor of 1 covers values that start near 0).
    """
    scale = {name: max(initial[name], BLOW_UP_FLOOR) for name in peaks}
    bad = {name: peak for name, peak in peaks.items() if peak > BLOW_UP_FACTOR * scale[name]}
    if bad:
        described = "; ".join(f"{name} reached {peak:.3g}, over {BLOW_UP_FACTOR:g}× its size at the first step "
                              f"({initial[name]:.3g})" for name, peak in bad.items())
        raise TrainingDiverged(f"Training blew up by step {step}: {described}. The losses are finite, but the weights "
                               f"have been thrown far off. {NAN_ADVICE}")


def check_weight_growth(size: float, before: float, step: int) -> None:
    """Raise :class:`TrainingDiverged` if the weights' overall size ``size`` (their L2 norm) is not finite or grew
    more than :data:`WEIGHT_GROWTH` × ``before``, their size at the previous logging point.

    Why this rule: Adam moves every weight by about the learning rate at each step, whatever the gradient's scale, so
    a learning rate 1000× too large multiplies the weights' size many times over within a few steps — even where the
    losses cannot show it (a batch-normalised or spectrally normalised network computes the same function at any
    weight scale, and a hinge or cross-entropy loss saturates). Healthy training changes the size by a few per cent
    between logging points.
    """
    if not math.isfinite(size):
        raise TrainingDiverged(f"Training diverged at step {step}: the weights hold NaN or infinite values. {NAN_ADVICE}")
    if size > WEIGHT_GROWTH * before:
        raise TrainingDiverged(f"Training blew up by step {step}: the weights' overall size (L2 norm) grew {size / before:,.0f}× "
                               f"since the last logging point ({before:.3g} → {size:.3g}), far more than training "
                               f"moves them. {NAN_ADVICE}")


# --- What the engine keeps beside the model: its last good weights and a running average ---

class LastGoodWeights:
    """A copy of a model's weights at the last logging point where every check passed; :meth:`restoring` puts it
    back if training diverges, so a NaN never leaves a model that is all NaN and its samples can still be looked at."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.state = {name: value.detach().clone() for name, value in model.state_dict().items()}
        self.step = 0

    def keep(self, step: int) -> None:
        """Copy the model's current weights (they passed every check at ``step``)."""
        for name, value in self.model.state_dict().items():
            self.state[name].copy_(value)
        self.step = step

    @contextmanager
    def restoring(self):
        """Inside the block, a :class:`TrainingDiverged` puts the kept weights back and is raised again with the
        advice plus a line saying which weights the model now has."""
        try:
            yield self
        except TrainingDiverged as error:
            self.model.load_state_dict(self.state)
            kept = "its initial weights" if self.step == 0 else f"its last good weights, those of step {self.step}"
            raise TrainingDiverged(f"{error} The model now holds {kept}, so its samples can still be looked at."
                                   ) from error


@torch.no_grad()
def update_average(average: nn.Module, model: nn.Module, decay: float, updates: torch.Tensor | None = None) -> None:
    """One step of an exponential moving average of ``model``'s weights: average ← decay·average + (1 − decay)·model.

    A GAN's generator keeps moving around a good solution as the two players chase each other; the average of its
    recent weights (Karras et al., 2018; Yazıcı et al., 2019) sits nearer the middle. Buffers (batch-norm
    statistics) are copied; :func:`recalibrate_batch_norm` fits them to the averaged weights at the end.

    With ``updates``, the number of updates so far counting this one (a tensor, so that a captured graph recomputes
    the weight at every replay), the step takes weight (1 − decay) / (1 − decayⁿ) instead: the average is then
    normalised over the n steps it has seen, as Adam corrects the bias of its moments (Kingma & Ba, 2015), and no
    weight stays on the average's starting point.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"decay must be in [0, 1), got {decay!r}")
    if updates is None:
        weight = 1.0 - decay
    else:    # one precision throughout, so the first update copies exactly; a fill, not a copy from the host, so a
        decay_ = torch.full_like(updates, decay)      # CUDA graph can capture it
        weight = (1 - decay_) / (1 - decay_ ** updates)
    for mean, current in zip(average.parameters(), model.parameters()):
        mean.lerp_(current, weight if updates is None else weight.to(mean.dtype))
    for mean, current in zip(average.buffers(), model.buffers()):
        mean.copy_(current)


@torch.no_grad()
def recalibrate_batch_norm(generator: nn.Module, latent_dim: int, batches: int = 20, batch_size: int = 256) -> None:
    """Re-estimate a generator's batch-norm statistics from its own outputs on ``batches`` fresh batches of noise
    z ~ N(0, I), the prior of every generator the course averages.

    An averaged generator's copied statistics belong to the weights it averages, not to its own; this replaces them
    with plain averages over its own activations (momentum ``None``), then leaves the network in eval mode.
    """
    norms = [module for module in generator.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None                                    # a cumulative average over all batches below
    generator.train()
    device = next(generator.parameters()).device
    for _ in range(batches):
        generator(torch.randn(batch_size, latent_dim, device=device))
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    generator.eval()


@dataclass
class RunningAverage:
    """``average`` follows ``network``'s weights after every step (:func:`update_average` with ``decay``; 0 copies
    them), normalised over the steps it has seen: the weights after step k of n count decay^(n − k) / Σⱼ decay^(n − j),
    and the untrained weights it was copied from count nothing. (Left on them, decayⁿ of the average would stay
    there: 10 % after 4,650 steps at decay 0.9995, enough to leave grey speckle on every flow-matching sample.) With a
    ``sampler`` (the averaged network as z → image) and its ``latent_dim``, its batch-norm statistics are
    recalibrated on its own outputs when training ends."""

    network: nn.Module
    average: nn.Module
    decay: float
    sampler: nn.Module | None = None
    latent_dim: int | None = None
    updates: torch.Tensor | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"average_decay must be in [0, 1) (0 copies the network, 0.999 averages over about 1,000 "
                             f"steps), got {self.decay!r}")

    def update(self) -> None:
        if self.updates is None:                   # on the weights' device, so a captured graph counts on its own
            self.updates = torch.zeros((), device=next(self.network.parameters()).device)
        self.updates += 1
        update_average(self.average, self.network, self.decay, self.updates)

    def finish(self) -> None:
        if self.sampler is not None:
            recalibrate_batch_norm(self.sampler, self.latent_dim)


def every_epoch(*callbacks: Callable[[int, History], None] | None) -> Callable[[int, History], None]:
    """One ``on_epoch_end`` that calls each of ``callbacks`` in turn (None entries are skipped)."""
    chosen = [callback for callback in callbacks if callback is not None]

    def call_all(epoch: int, history: History) -> None:
        for callback in chosen:
            callback(epoch, history)

    return call_all


# --- What the engine checks at the entry ---

def check_training_data(images: torch.Tensor, labels: torch.Tensor | None = None, num_classes: int = 10) -> None:
    """Refuse training images that are not a float N×1×28×28 batch in [0, 1] without NaN, and labels that are not N
    integer classes in 0 … ``num_classes`` − 1, before a single step is taken."""
    check_digit_batch(images)
    if labels is not None:
        check_labels(labels, len(images), num_classes)


def for_seconds(seconds: float, draw: Callable[[float], object]) -> Iterator:
    """Batches for a wall-clock budget: ``draw(fraction)`` for each step, ``fraction`` being the share of ``seconds``
    gone so far (the clock starts at the first batch), until the time is up."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a training time must be a finite number of seconds > 0, got {seconds!r}")
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        yield draw(elapsed / seconds)


# --- Sharing the CPU cores with the course's other trainings ---

SHARE_VARIABLE = "COURSE_SHARE_CORES"
"""``COURSE_SHARE_CORES=0`` turns the sharing off (each training keeps PyTorch's thread count, as plain PyTorch does)."""


class SharedCores:
    """While a CPU training runs, it is registered in a folder of the machine's temporary directory (one file per
    process, named by its process id), and at every logging point PyTorch's threads are set to the cores divided by
    the live trainings there, at least 1.

    Why: PyTorch gives each process as many threads as there are cores, and its threads wait for each other at every
    operation. Two trainings of 2 threads on 2 cores (``make warmup`` beside a notebook) keep descheduling each other's
    threads, and each waits for a partner that is not running: measured 40× slower instead of 2×. One thread each
    shares the cores without waiting. Only this process's own file is ever removed; files of processes that are gone
    are ignored.
    """

    def __init__(self, folder: Path | None = None):
        self.folder = folder or Path(tempfile.gettempdir()) / "course_utils-trainings"
        self.own = self.folder / str(os.getpid())
        self.threads = torch.get_num_threads()
        self.registered = False

    def __enter__(self) -> SharedCores:
        if os.environ.get(SHARE_VARIABLE, "1").strip() == "0":
            return self
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not self.own.exists():
                self.own.write_text("a course training runs in this process\n")
                self.registered = True
        except OSError:                                    # a read-only temporary folder: train without sharing
            return self
        self.adjust()
        return self

    def __exit__(self, *exc) -> None:
        if self.registered:
            self.own.unlink(missing_ok=True)
            self.registered = False
        torch.set_num_threads(self.threads)

    def live(self) -> int:
        """How many processes are training now (this one included)."""
        count = 0
        for entry in self.folder.iterdir():
            if entry.name.isdigit() and _alive(int(entry.name)):
                count += 1
        return max(1, count)

    def adjust(self) -> None:
        """Set PyTorch's threads to this process's share of the cores."""
        share = max(1, self.threads // self.live()) if self.registered else self.threads
        if share != torch.get_num_threads():
            torch.set_num_threads(share)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:                                        # it exists, but belongs to someone else
        return True
    return True


# --- The loop ---

_interruption_logs: list[list[History]] = []


@contextmanager
def record_interruptions():
    """Collect in the yielded list the History of every :func:`train` run in the block that was stopped early, so a
    caller such as ``pretrained`` can tell a partly trained model from a finished one."""
    log: list[History] = []
    _interruption_logs.append(log)
    try:
        yield log
    finally:
        _interruption_logs.pop()


def train(step: Callable[..., Mapping[str, torch.Tensor | float]], batches: Iterable, epochs: int = 1, *,
          model: nn.Module | None = None, average: RunningAverage | None = None, schedule: Any = None,
          after_step: Callable[[int], Mapping[str, torch.Tensor] | None] | None = None, capture: bool = False,
          log_every: int = 20, on_epoch_end: Callable[[int, History], None] | None = None,
          progress: bool = True, description: str = "training") -> History:
    """Call ``step(batch)`` for every minibatch of ``batches`` for ``epochs`` epochs and return the :class:`History`.

    ``step`` does one optimisation step and returns a dict of scalar values to log (tensors are fine and preferred:
    they are averaged on the device and copied to the host only every ``log_every`` steps). A batch that is a tuple
    is unpacked into ``step``'s arguments. ``on_epoch_end(epoch, history)`` can take snapshots. Pressing Stop (or
    Ctrl-C) ends training cleanly at any step: the model keeps what it learned and the history so far is returned. A
    NaN or infinite value, or one that blows up past :data:`BLOW_UP_FACTOR` × its first step's, raises
    :class:`TrainingDiverged` with advice.

    With ``model`` (the module being trained) the engine also watches its trainable weights — a size that grows
    :data:`WEIGHT_GROWTH`× between logging points raises :class:`TrainingDiverged` — puts back its last good weights
    when training diverges, and leaves it in eval mode. ``average`` (a :class:`RunningAverage`) is updated after
    every step and finished (batch norm recalibrated) at the end, interrupted or not. ``schedule`` (a learning-rate
    scheduler, or a list of them) is stepped after every step, and ``after_step(step_number)`` is called after it, both outside the step,
    so that a captured step stays the same at every call; ``after_step`` may return more values to log.
    ``capture=True`` says the step may be captured as a CUDA graph (:func:`course_utils.engine.captured.capture_step`:
    fixed shapes, no host syncs, the same work at every call, which :mod:`course_utils.engine.capture_audit` checks
    on any device): on CUDA it is, elsewhere it runs as written.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if isinstance(log_every, bool) or not isinstance(log_every, numbers.Integral) or log_every < 1:
        raise ValueError(f"log_every must be a positive integer, got {log_every!r}")
    epochs, log_every = int(epochs), int(log_every)
    history = History()
    per_epoch = len(batches) if hasattr(batches, "__len__") else None
    total = per_epoch * epochs if per_epoch is not None else None
    device = next(model.parameters()).device if model is not None else torch.device("cpu")
    watch = _Watch(model) if model is not None else None
    cores = SharedCores() if device.type == "cpu" else None
    one_step = audited(with_average(step, average), description, capture)
    if capture and model is not None:
        one_step = capture_step(one_step, device)
    next_learning_rate = schedule_stepper(schedule, one_step if isinstance(one_step, CapturedStep) else None)
    pending: dict[str, list] = {}
    step_number, last_batch = 0, ()
    started, cpu_started = time.perf_counter(), time.process_time()
    bar = tqdm(total=total, desc=description, disable=not progress, unit="step", leave=True)
    if model is not None:
        model.train()
    try:
        with cores if cores is not None else nullcontext(), watch.last_good.restoring() if watch is not None else nullcontext():
            try:
                for epoch in range(epochs):
                    for batch in batches:
                        last_batch = batch
                        values = one_step(*batch) if isinstance(batch, tuple) else one_step(batch)
                        step_number += 1
                        next_learning_rate()
                        if after_step is not None:
                            values = {**values, **(after_step(step_number) or {})}
                        for name, value in values.items():
                            pending.setdefault(name, []).append(value.detach() if isinstance(value, torch.Tensor) else value)
                        if step_number % log_every == 0:
                            _flush(pending, history, step_number, started, bar, watch)
                            if cores is not None:
                                cores.adjust()
                        bar.update(1)
                    if pending:
                        _flush(pending, history, step_number, started, bar, watch)
                    if on_epoch_end is not None:
                        on_epoch_end(epoch, history)
            except KeyboardInterrupt:
                history.interrupted = True
                for log in _interruption_logs:
                    log.append(history)
                if pending:
                    _flush(pending, history, step_number, started, bar, watch)
                print(f"Interrupted after {step_number} steps: the model keeps what it learned so far; "
                      "the history up to now is returned.")
        if average is not None:
            average.finish()
    finally:
        bar.close()
        history.seconds, history.cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        history.mode = getattr(one_step, "mode", "eager")
        if model is not None:
            model.eval()
    if progress and device.type == "cuda":      # on the CPU the progress bar's rate says it all
        images = last_batch[0] if isinstance(last_batch, tuple) else last_batch
        print(speed_line(description, history, len(images), device, history.mode))
    return history


class _Watch:
    """The trainable weights of a model, their size at the last logging point, and the last good copy."""

    def __init__(self, model: nn.Module):
        self.weights = [p for p in model.parameters() if p.requires_grad]
        self.last_good = LastGoodWeights(model)
        self.size = self.measure()

    @torch.no_grad()
    def measure(self) -> float:
        if not self.weights:
            return 0.0
        return torch.stack([w.detach().float().norm() for w in self.weights]).norm().item()

    def check(self, step_number: int) -> None:
        size = self.measure()
        check_weight_growth(size, self.size, step_number)
        self.size = size
        self.last_good.keep(step_number)


def with_average(step: Callable, average: RunningAverage | None) -> Callable:
    """``step`` followed by one update of ``average`` (inside the step, so a captured graph holds both)."""
    if average is None:
        return step

    def step_and_average(*batch):
        values = step(*batch)
        average.update()
        return values

    return step_and_average


def _flush(pending: dict[str, list], history: History, step_number: int, started: float, bar,
           watch: _Watch | None) -> None:
    """Log the mean of each pending value (one copy to the host per value), after checking for NaN and blow-ups in
    the values and, with a ``watch``, in the weights."""
    means, peaks = {}, {}
    for name, values in pending.items():
        if isinstance(values[0], torch.Tensor):
            window = torch.stack([v.float().reshape(()) for v in values])
            first, means[name], peaks[name] = torch.stack([window[0].abs(), window.mean(), window.abs().max()]).tolist()
        else:
            first, means[name], peaks[name] = abs(values[0]), float(sum(values) / len(values)), max(map(abs, values))
        history.initial.setdefault(name, first)
    pending.clear()
    check_finite(means, step_number)
    check_not_blown_up(peaks, history.initial, step_number)
    if watch is not None:
        watch.check(step_number)
    history.steps.append(step_number)
    history.elapsed.append(time.perf_counter() - started)
    for name, value in means.items():
        history.setdefault(name, []).append(value)
    bar.set_postfix({name: f"{value:.4g}" for name, value in means.items()}, refresh=False)
