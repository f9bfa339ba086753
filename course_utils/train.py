"""A training loop that every notebook shares: progress bar, history, safe interrupts, clear errors on NaN.

The notebook writes the few lines that matter — one optimisation ``step`` that returns its losses — and
``train`` repeats it over minibatches and epochs. Losses stay on the device between logging points, so a GPU
is never forced to wait for the host every step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping

import torch
from tqdm.auto import tqdm


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message explains what usually causes it and what to try."""


NAN_ADVICE = (
    "Things to try: a smaller learning rate (10× smaller is a good first step); a loss computed from logits "
    "(e.g. binary_cross_entropy_with_logits) instead of taking the log of a probability that can reach 0; "
    "gradient clipping (torch.nn.utils.clip_grad_norm_); and checking the input data for NaN. Re-create the "
    "model before retrying: its weights may already be NaN."
)


class History(dict):
    """What every training run returns: logged values, name → list of floats, one entry per logging point.

    ``steps`` holds the step of each entry; ``seconds`` and ``cpu_seconds`` the wall and CPU time of the run;
    ``interrupted`` is True if it was stopped early.
    """

    def __init__(self):
        super().__init__()
        self.steps: list[int] = []
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


def train(step: Callable[..., Mapping[str, torch.Tensor | float]], batches: Iterable, epochs: int, *,
          log_every: int = 20, on_epoch_end: Callable[[int, History], None] | None = None,
          progress: bool = True, description: str = "training") -> History:
    """Call ``step(batch)`` for every minibatch of ``batches`` for ``epochs`` epochs and return the :class:`History`.

    ``step`` does one optimisation step and returns a dict of scalar values to log (tensors are fine and preferred:
    they are averaged on the device and copied to the host only every ``log_every`` steps). A batch that is a tuple
    is unpacked into ``step``'s arguments. ``on_epoch_end(epoch, history)`` can take snapshots. Pressing Stop (or
    Ctrl-C) ends training cleanly: the model keeps what it learned and the history so far is returned. A NaN or
    infinite value raises :class:`TrainingDiverged` with advice.
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if not isinstance(log_every, int) or log_every < 1:
        raise ValueError(f"log_every must be a positive integer, got {log_every!r}")
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
        if pending:
            _flush(pending, history, step_number, bar)
        print(f"Interrupted after {step_number} steps: the model keeps what it learned so far; "
              "the history up to now is returned.")
    finally:
        bar.close()
        history.seconds, history.cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return history


def _flush(pending: dict[str, list], history: History, step_number: int, bar) -> None:
    means = {}
    for name, values in pending.items():
        if isinstance(values[0], torch.Tensor):
            means[name] = torch.stack([v.float().reshape(()) for v in values]).mean().item()
        else:
            means[name] = float(sum(values) / len(values))
    pending.clear()
    check_finite(means, step_number)
    history.steps.append(step_number)
    for name, value in means.items():
        history.setdefault(name, []).append(value)
    bar.set_postfix({name: f"{value:.4g}" for name, value in means.items()}, refresh=False)
