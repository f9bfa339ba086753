"""A training loop that every notebook shares: progress bar, history, safe interrupts, clear errors on NaN and blow-ups.

The notebook writes the few lines that matter — one optimisation ``step`` that returns its losses — and
``train`` repeats it over minibatches and epochs. Losses stay on the device between logging points, so a GPU
is never forced to wait for the host every step.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager

import torch
from tqdm.auto import tqdm


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite, or blew up far past its first value; the message explains what usually causes
    it and what to try."""


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


class History(dict):
    """What every training run returns: logged values, name → list of floats, one entry per logging point.

    ``steps`` holds the step of each entry; ``seconds`` and ``cpu_seconds`` the wall and CPU time of the run;
    ``interrupted`` is True if it was stopped early; ``initial`` the magnitude of each value at the first step that
    returned it (the untrained model's losses), the scale a blow-up is measured against.
    """

    def __init__(self):
        super().__init__()
        self.steps: list[int] = []
        self.initial: dict[str, float] = {}
        self.interrupted = False
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


def train(step: Callable[..., Mapping[str, torch.Tensor | float]], batches: Iterable, epochs: int, *,
          log_every: int = 20, on_epoch_end: Callable[[int, History], None] | None = None,
          progress: bool = True, description: str = "training") -> History:
    """Call ``step(batch)`` for every minibatch of ``batches`` for ``epochs`` epochs and return the :class:`History`.

    ``step`` does one optimisation step and returns a dict of scalar values to log (tensors are fine and preferred:
    they are averaged on the device and copied to the host only every ``log_every`` steps). A batch that is a tuple
    is unpacked into ``step``'s arguments. ``on_epoch_end(epoch, history)`` can take snapshots. Pressing Stop (or
    Ctrl-C) ends training cleanly: the model keeps what it learned and the history so far is returned. A NaN or
    infinite value, or one that blows up past :data:`BLOW_UP_FACTOR` × its first step's (see
    :func:`check_not_blown_up`), raises :class:`TrainingDiverged` with advice.
    """
    if not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if not isinstance(log_every, numbers.Integral) or log_every < 1:
        raise ValueError(f"log_every must be a positive integer, got {log_every!r}")
    epochs, log_every = int(epochs), int(log_every)
    history = History()
    per_epoch = len(batches) if hasattr(batches, "__len__") else None
    total = per_epoch * epochs if per_epoch is not None else None
    pending: dict[str, list] = {}
    step_number = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    bar = tqdm(total=total, desc=description, disable=not progress, unit="step", leave=True)
    try:
        for epoch in range(epochs):
            for batch in batches:
                values = step(*batch) if isinstance(batch, tuple) else step(batch)
                step_number += 1
                for name, value in values.items():
                    pending.setdefault(name, []).append(value.detach() if isinstance(value, torch.Tensor) else value)
                if step_number % log_every == 0:
                    _flush(pending, history, step_number, bar)
                bar.update(1)
            if pending:
                _flush(pending, history, step_number, bar)
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)
    except KeyboardInterrupt:
        history.interrupted = True
        for log in _interruption_logs:
            log.append(history)
        if pending:
            _flush(pending, history, step_number, bar)
        print(f"Interrupted after {step_number} steps: the model keeps what it learned so far; "
              "the history up to now is returned.")
    finally:
        bar.close()
        history.seconds, history.cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return history


def _flush(pending: dict[str, list], history: History, step_number: int, bar) -> None:
    """Log the mean of each pending value (one copy to the host per value), after checking for NaN and blow-ups."""
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
    history.steps.append(step_number)
    for name, value in means.items():
        history.setdefault(name, []).append(value)
    bar.set_postfix({name: f"{value:.4g}" for name, value in means.items()}, refresh=False)
