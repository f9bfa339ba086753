"""What a training run keeps beside the weights: samples or checkpoints of G at chosen epochs, and the record that
joins them to the logged curves.
"""

from __future__ import annotations

import math

import torch

from ..models.generative import GenerativeModel


def progress_epochs(epochs: int) -> set[int]:
    """Epochs 1, 2, 5, 10, 20, 50, 100, … up to ``epochs``, and the last one: when to look at a model's samples."""
    marks, scale = set(), 1
    while scale <= epochs:
        marks |= {step * scale for step in (1, 2, 5) if step * scale <= epochs}
        scale *= 10
    return marks | {epochs}


class Snapshots:
    """The images a model decodes from the same fixed latents after chosen epochs: training progress you can watch.

    Pass it as ``on_epoch_end`` to ``train`` or ``fit_gan``. ``epochs`` (counted from 1) picks when; every epoch if
    None. ``seed`` fixes the latents, so every run and every machine shows the same ``count`` "digits" growing up.
    """

    def __init__(self, model: GenerativeModel, count: int = 16, seed: int = 5, epochs: set[int] | None = None):
        self.model, self.wanted = model, epochs
        self.latents = model.sample_latent(count, rng=seed)
        self.epochs: list[int] = []
        self.images: list[torch.Tensor] = []

    def __call__(self, epoch: int, history) -> None:
        if self.wanted is None or epoch + 1 in self.wanted:
            self.epochs.append(epoch + 1)
            self.images.append(self.model.decode(self.latents.to(self.model.device)).cpu())


class Checkpoints:
    """The generator as it was after chosen epochs, beside what training logged during each of those epochs.

    Pass it as ``on_epoch_end`` (alone or with others through ``course_utils.engine.train.every_epoch``). After each
    epoch in ``epochs`` (counted from 1) it keeps a copy of the weights of ``model.sampler`` (the network ``decode``
    runs) and, for every logged value (a critic's Wasserstein estimate, D's loss, …), its mean over that epoch. So
    the samples of any checkpoint can be scored later, e.g. to ask whether a loss tracks sample quality:
    ``model.sampler.load_state_dict(record["generators"][k])`` on a fresh model of the same recipe, then sample.
    """

    def __init__(self, model: GenerativeModel, epochs: set[int]):
        self.model, self.wanted = model, epochs
        self.logged: dict[str, int] = {}                    # how many entries of each value earlier epochs logged
        self.epochs: list[int] = []
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {}
        self.generators: list[dict[str, torch.Tensor]] = []

    def __call__(self, epoch: int, history) -> None:
        if epoch + 1 in self.wanted:
            self.epochs.append(epoch + 1)
            self.steps.append(history.steps[-1])
            for name, values in history.items():
                this_epoch = values[self.logged.get(name, 0):]
                self.values.setdefault(name, []).append(sum(this_epoch) / len(this_epoch) if this_epoch else math.nan)
            self.generators.append({name: value.detach().cpu().clone()
                                    for name, value in self.model.sampler.state_dict().items()})
        self.logged = {name: len(values) for name, values in history.items()}

    def record(self) -> dict:
        """``epochs`` and ``steps`` (K each, the step count at the end of each chosen epoch), ``values`` (name → K
        epoch means) and ``generators`` (K state dicts of ``model.sampler``), ready for a checkpoint's info."""
        return {"epochs": torch.tensor(self.epochs), "steps": torch.tensor(self.steps),
                "values": {name: torch.tensor(values) for name, values in self.values.items()},
                "generators": self.generators}


def evenly_spaced_epochs(epochs: int, count: int) -> set[int]:
    """``count`` epochs spread evenly over 1 … ``epochs``, ending with the last (fewer if there are fewer epochs)."""
    return {max(1, round(epochs * k / count)) for k in range(1, count + 1)}


def training_record(history, snapshots: Snapshots) -> dict:
    """What a generative model's recipe keeps beside its weights: the curves (``history``, with ``steps`` and the ``elapsed`` seconds), the
    ``snapshots`` (E×count×1×28×28) with their ``snapshot_epochs``, and the training time and device. A run stopped
    before its first snapshot has E = 0."""
    images = torch.stack(snapshots.images) if snapshots.images else torch.empty(0, len(snapshots.latents), 1, 28, 28)
    return {"history": {**{name: list(values) for name, values in history.items()}, "steps": list(history.steps),
                        "elapsed": list(history.elapsed)},
            "snapshot_epochs": torch.tensor(snapshots.epochs, dtype=torch.long), "snapshots": images,
            "train_seconds": history.seconds, "train_cpu_seconds": history.cpu_seconds,
            "device": str(snapshots.model.device)}
