"""A recipe: one small frozen dataclass holding everything that defines a trained model.

Sizes, latent width, batch size, epochs, learning rates, augmentation and the seed live in one place. The recipe
builds the model (``build()``), knows how to train it (``fit()``, for the models the course caches), is saved inside
the checkpoint, and its hash is the cache key: change any field and :func:`course_utils.engine.checkpoints.pretrained`
trains a new model instead of loading a stale one. Fields that differ in quick mode take their value from
``budget(full=..., quick=...)`` when the recipe is created, so quick and full models never share a cache file.

Every recipe is checked when it is created (``DCGANRecipe(...)``, ``dataclasses.replace(recipe, ...)``), from its
field annotations and the range table :data:`LIMITS`: a value of the wrong type, a NaN or an infinity, or a number
out of its range is refused with a ``ValueError`` that names the recipe, the field, the value and what to write
instead, before anything is trained or cached. Lists become tuples and numpy or whole numbers become the Python
``int``/``float`` the annotation asks for, so equal recipes are equal and share one cache file.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from .data import labels_checked_at_entry, load_mnist
from .train import History, check_training_data


@dataclasses.dataclass(frozen=True)
class Limit:
    """The values a recipe field may take beyond its annotated type: one row of :data:`LIMITS`.

    ``means`` says what the field is, for the message. ``low``/``high`` bound a number (inclusive, or exclusive
    with ``low_open``/``high_open``); ``choices`` lists the strings allowed, either literally or as
    ``"module:NAME"``, a constant of this package (a tuple, or a dict whose keys are the choices) read when first
    needed, so the list lives beside the code that uses it and this module imports no model. For a tuple field the
    bounds and choices hold for each element, ``total`` is what the elements add up to (within 1e-6) and
    ``min_length`` the fewest elements. ``None``, where the annotation allows it, is never checked against a limit.
    """

    means: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | str | None = None
    total: float | None = None
    min_length: int = 0

    def allowed(self) -> tuple[str, ...]:
        """The strings allowed (``choices`` read from its module if it names a constant there)."""
        return _choices(self.choices) if isinstance(self.choices, str) else tuple(self.choices or ())

    def rule(self) -> str:
        """The range in words: ``≥ 1``, ``> 0``, ``in [0, 1)``, ``one of 'a', 'b'``."""
        if self.choices is not None:
            return "one of " + ", ".join(map(repr, self.allowed()))
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '≥'} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '≤'} {self.high:g}"
        return "anything of its type"

    def admits(self, value: Any) -> bool:
        """Whether one number or string (not a tuple) is within the limit."""
        if self.choices is not None:
            return value in self.allowed()
        return ((self.low is None or (value > self.low if self.low_open else value >= self.low))
                and (self.high is None or (value < self.high if self.high_open else value <= self.high)))


@functools.cache
def _choices(source: str) -> tuple[str, ...]:
    """``"module:NAME"`` → the choices that constant holds (its keys if it is a dict), ``module`` relative to course_utils."""
    module, _, name = source.partition(":")
    return tuple(getattr(importlib.import_module(f"..{module}", __package__), name))


def _count(means: str) -> Limit:
    return Limit(means, low=1)


def _positive(means: str) -> Limit:
    return Limit(means, low=0, low_open=True)


def _decay(means: str) -> Limit:
    return Limit(means, low=0, high=1, high_open=True)


def _share(means: str) -> Limit:
    return Limit(means, low=0, high=1)


def _at_least_zero(means: str) -> Limit:
    return Limit(means, low=0)


LIMITS: Mapping[str, Limit] = types.MappingProxyType({
    # counts: whole numbers ≥ 1 (for tuples, each element)
    "batch_size": _count("images per minibatch"),
    "epochs": _count("passes over the training digits"),
    "images_seen": _count("the training length, in images shown to the model"),
    "train_images": _count("the training digits used; None uses them all"),
    "latent_dim": _count("the size of the latent"),
    "width": _count("the network's width, in channels"),
    "hidden": _count("hidden units"),
    "g_hidden": _count("the generator's hidden layer sizes"),
    "d_hidden": _count("the discriminator's hidden layer sizes"),
    "channels": _count("feature maps at each level"),
    "n_critic": _count("critic steps per generator step"),
    "steps": _count("a number of steps"),
    "warmup_steps": _count("steps of learning-rate warm-up"),
    "per_class": _count("labelled digits per class; None labels every digit"),
    "codebook_size": _count("the number of vectors in the codebook"),
    "code_dim": _count("the length of each codebook vector"),
    "layers": _count("the number of layers"),
    "blocks": _count("the number of residual blocks"),
    "restart_every": _count("steps between restarts of unused codes"),
    # whole numbers ≥ 0
    "seed": _at_least_zero("the random seed"),
    "label_seed": _at_least_zero("the seed that draws the labelled digits"),
    "max_shift": _at_least_zero("the largest random shift, in pixels"),
    "checkpoints": _at_least_zero("copies of the generator kept along training; 0 keeps none"),
    # durations and learning rates: finite and > 0
    "seconds": _positive("the training time, in seconds"),
    "lr": _positive("the learning rate"),
    "g_lr": _positive("the generator's learning rate"),
    "d_lr": _positive("the discriminator's learning rate"),
    "max_lr": _positive("the peak of the one-cycle learning rate"),
    # decays in [0, 1): 1 would never move
    "average_decay": _decay("the decay of the running average of the weights; 0 uses the weights themselves"),
    "betas": _decay("Adam's β₁ and β₂"),
    "dropout": _decay("the dropout probability"),
    # shares and probabilities in [0, 1]
    "drop_label": _share("the share of labels dropped for classifier-free guidance"),
    "shifted_fraction": _share("the share of each minibatch randomly shifted"),
    "phases": Limit("the shares of the training time spent in each phase", low=0, total=1.0),
    # weights ≥ 0 (the gradient penalty's > 0: the WGAN-GP critic step refuses 0)
    "guidance": _at_least_zero("the classifier-free guidance weight"),
    "pixel_weight": _at_least_zero("the weight of the pixel term"),
    "commitment": _at_least_zero("the weight β of the commitment loss"),
    "penalty_weight": _positive("the gradient penalty's weight λ"),
    # words from a fixed vocabulary, kept beside the code that reads them
    "loss": Limit("the GAN's loss", choices="maths.losses:GAN_LOSSES"),
    "normalisation": Limit("the discriminator's normalisation", choices="models.dcgan:NORMALISATIONS"),
    "time_sampling": Limit("how training times are drawn", choices="training.flow_matching:TIME_SAMPLINGS"),
    "solver": Limit("the ODE solver that samples", choices="models.flow:SOLVERS"),
    "feature_layers": Limit("the classifier layers the perceptual loss compares",
                            choices=("conv1", "conv2", "hidden"), min_length=1),   # DigitClassifier.features
})
"""The range of every field the course's recipes use, by field name; a field not here gets the type check only.
A recipe whose field of the same name means something else (or that adds a field with a range) sets its own
``limits = {**Recipe.limits, "field": Limit(...)}`` (as a plain class attribute, not an annotated field)."""


class _Refused(Exception):
    """Why one value does not fit its annotation or its limit (the caller adds the recipe, the field and the fix)."""


def _describe(hint: Any) -> str:
    """An annotation in words: ``int`` → "a whole number (int)", ``tuple[float, float]`` → "a tuple of 2 numbers"."""
    if hint is type(None):
        return "None"
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint))
    if typing.get_origin(hint) is tuple or hint is tuple:
        args = typing.get_args(hint)
        if not args:
            return "a tuple"
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a tuple of {_plural(args[0])}"
        if len(set(args)) == 1:
            return f"a tuple of {len(args)} {_plural(args[0])}"
        return f"a tuple ({', '.join(_describe(arg) for arg in args)})"
    return {int: "a whole number (int)", float: "a finite number (float)", bool: "True or False (bool)",
            str: "a string (str)"}.get(hint, repr(hint))


def _plural(hint: Any) -> str:
    return {int: "whole numbers", float: "numbers", bool: "bools", str: "strings"}.get(hint, f"({_describe(hint)})s")


def _kind(value: Any) -> str:
    """What a refused value is, in words: "the str 'abc'", "the float 2.5", "True (a bool)"."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return f"{value!r} (a bool)"
    return f"the {type(value).__name__} {value!r}"


def _convert(value: Any, hint: Any, where: str) -> Any:
    """``value`` as the plain Python value ``hint`` asks for (numpy numbers → int/float, int → float, list → tuple),
    or :class:`_Refused` saying why it cannot be; floats must be finite."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise _Refused(f"{where} must be {_describe(hint)}, not None")
        options = [arg for arg in args if arg is not type(None)]
        problems = []
        for option in options:
            try:
                return _convert(value, option, where)
            except _Refused as problem:
                problems.append(problem)
        if len(problems) == 1:                          # X | None: X's reason, naming None as allowed too
            raise _Refused(str(problems[0]).replace(f"must be {_describe(options[0])}", f"must be {_describe(hint)}", 1))
        raise _Refused(f"{where} must be {_describe(hint)}, not {_kind(value)}")
    if hint is type(None):
        if value is None:
            return None
        raise _Refused(f"{where} must be None, not {_kind(value)}")
    if hint is bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise _Refused(f"{where} must be True or False, not {_kind(value)}")
    if hint is int:
        if isinstance(value, (bool, np.bool_)):
            raise _Refused(f"{where} must be a whole number (int), not {_kind(value)}")
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
            raise _Refused(f"{where} must be a whole number (int), not {_kind(value)}: write {int(value)}")
        raise _Refused(f"{where} must be a whole number (int), not {_kind(value)}")
    if hint is float:
        if isinstance(value, (bool, np.bool_)):
            raise _Refused(f"{where} must be a number (float), not {_kind(value)}")
        if isinstance(value, (int, float, np.integer, np.floating)):
            number = float(value)
            if not math.isfinite(number):
                raise _Refused(f"{where} must be a finite number, not {number!r}")
            return number
        raise _Refused(f"{where} must be a number (float), not {_kind(value)}"
                       + (": write it without quotes" if isinstance(value, str) and _is_number(value) else ""))
    if hint is str:
        if isinstance(value, str):
            return str(value)
        raise _Refused(f"{where} must be a string (str), not {_kind(value)}")
    if origin is tuple or hint is tuple:
        if isinstance(value, np.ndarray) and value.ndim == 1:
            value = value.tolist()
        if not isinstance(value, (tuple, list)):
            raise _Refused(f"{where} must be {_describe(hint)}, not {_kind(value)}")
        if not args:
            return tuple(value)
        if len(args) == 2 and args[1] is Ellipsis:
            element_types = [args[0]] * len(value)
        elif len(value) != len(args):
            raise _Refused(f"{where} must be {_describe(hint)}, not {len(value)} of them: {tuple(value)!r}")
        else:
            element_types = list(args)
        return tuple(_convert(item, item_type, f"{where}[{i}]")
                     for i, (item, item_type) in enumerate(zip(value, element_types)))
    raise TypeError(f"{where}: the recipe check does not know the annotation {hint!r}; a recipe field is an int, "
                    f"float, bool, str, a tuple of those, or one of them | None")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_limit(value: Any, limit: Limit, where: str) -> None:
    """:class:`_Refused` if ``value`` (already converted) breaks ``limit``; a tuple's elements are checked one by one."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, tuple):
        if len(value) < limit.min_length:
            raise _Refused(f"{where} ({limit.means}) needs at least {limit.min_length} element(s), got {value!r}")
        for i, item in enumerate(value):
            _check_limit(item, limit, f"{where}[{i}]")
        if limit.total is not None and abs(math.fsum(value) - limit.total) > 1e-6:
            raise _Refused(f"{where} ({limit.means}) must add up to {limit.total:g}, but adds up to {math.fsum(value):g}")
        return
    numeric = isinstance(value, (int, float))
    if (limit.choices is not None) == numeric or (not numeric and not isinstance(value, str)):
        raise TypeError(f"{where}: the limit {limit.rule()!r} ({limit.means}) does not fit the value {value!r}; "
                        f"a recipe whose field means something else sets its own limits = {{**Recipe.limits, ...}}")
    if not limit.admits(value):
        raise _Refused(f"{where} ({limit.means}) must be {limit.rule()}, not {value!r}")


@functools.cache
def _field_types(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, resolved annotation) of every dataclass field of ``cls``, read once per class."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception as error:                           # a name the annotations use cannot be found
        raise TypeError(f"the field annotations of {cls.__qualname__} cannot be read ({type(error).__name__}: "
                        f"{error}); define the names they use at the top of {cls.__module__}") from error
    return tuple((field.name, hints.get(field.name, Any)) for field in dataclasses.fields(cls))


def _example(cls: type, name: str) -> str:
    """``name=<the default>``, to show what a good value looks like (empty if the field has no default)."""
    field = next(field for field in dataclasses.fields(cls) if field.name == name)
    try:
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            return ""
    except Exception:                                   # a default that cannot be computed now: no example
        return ""
    return f"{name}={default!r}"


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Base of every model's recipe; subclasses add their fields, ``build()`` and, if the course caches them, ``fit()``.

    ``seed`` fixes the initial weights and the order of the minibatches, so one recipe always trains the same model.
    Every field is checked on creation against its annotation and its row of ``limits`` (see :data:`LIMITS`); a
    subclass that needs its own ``__post_init__`` calls ``super().__post_init__()`` first.
    """

    name: ClassVar[str] = "model"
    limits: ClassVar[Mapping[str, Limit]] = LIMITS
    uses_labels: ClassVar[bool] = False
    """Whether the model learns from the class labels as well as the images (``train_on`` then needs them)."""
    capturable: ClassVar[bool] = True
    """Whether the training step may be captured as a CUDA graph: fixed shapes, no host waits, the same work at every
    call (``tests/test_capture_audit.py`` checks each recipe's step on the CPU). A recipe that sets it False says why in
    :attr:`not_captured_because`."""
    not_captured_because: ClassVar[str] = ""
    revision: ClassVar[int] = 0
    """Raised when a change of the training code changes what this recipe trains, so that a model cached by the old
    code is not loaded as if it were the new one (it is part of :meth:`key` once above 0). A recipe that averages its
    weights (``average_decay`` > 0) counts one more: that average became normalised over the steps it has seen (issue
    30), which changed what every such recipe trains."""
    seed: int = 0

    def __post_init__(self) -> None:
        """Check every field and store it in its plain form (tuples, Python numbers); ``ValueError`` for a bad one."""
        cls = type(self)
        for name, hint in _field_types(cls):
            value = getattr(self, name)
            try:
                checked = _convert(value, hint, name)
                if name in cls.limits:
                    _check_limit(checked, cls.limits[name], name)
            except _Refused as problem:
                limit, example = cls.limits.get(name), _example(cls, name)
                fix = f"give {name} {_describe(hint)}" + (f", {limit.rule()}" if limit else "")
                fix += f", e.g. {example} (the default)" if example else ""
                raise ValueError(f"{cls.__name__}({name}={value!r}) is refused: {problem}. Fix: {fix}.") from None
            object.__setattr__(self, name, checked)

    def build(self) -> nn.Module:
        """A fresh, untrained model with this recipe's sizes."""
        raise NotImplementedError(f"{type(self).__name__} does not say how to build its model")

    def requires(self) -> tuple[Recipe, ...]:
        """The recipes of the trained models this one builds on (``fit`` loads them with ``pretrained``): none here.
        Their keys join this recipe's :meth:`key`, so a retrained autoencoder retrains what was built on it."""
        return ()

    def fit(self, model: nn.Module, device: torch.device | str | None) -> dict[str, Any]:
        """Train ``model`` in place on ``device`` and return numbers worth keeping with it (test accuracy, curves, …)."""
        raise NotImplementedError(f"the {self.name} is trained in its notebook, not cached: {type(self).__name__} has no fit()")

    def training_data(self, device: torch.device | str | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The training digits and their labels on ``device``: the first ``train_images`` if the recipe has that field
        (quick mode trains on fewer), all of them otherwise."""
        images, labels = load_mnist("train", device=device)
        count = getattr(self, "train_images", None)
        return images[:count], labels[:count]

    def train_on(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor | None = None, *,
                 on_epoch_end: Callable[[int, History], None] | None = None, progress: bool = True,
                 **options) -> History:
        """Train ``model`` in place on ``images`` (N×1×28×28 in [0, 1], on the device to train on) and, for a recipe
        that ``uses_labels``, their class ``labels``; returns the engine's history.

        The images and labels are checked here, for every recipe, before a single step (range, dtype, NaN, shape,
        one label per image); then ``train_steps`` runs the recipe's step in the engine
        (:func:`course_utils.engine.train.train`). ``options`` go to ``train_steps`` (e.g. an autoencoder's ``loss_fn``).
        """
        if self.uses_labels and labels is None:
            raise ValueError(f"the {self.name} learns from labels: pass the training labels beside the images")
        check_training_data(images, labels)
        with labels_checked_at_entry():
            return self.train_steps(model, images, labels if self.uses_labels else None, on_epoch_end=on_epoch_end,
                                    progress=progress, **options)

    def train_steps(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor | None, *,
                    on_epoch_end: Callable[[int, History], None] | None = None, progress: bool = True) -> History:
        """The recipe's training on checked data: its optimiser, batches and step, run by the engine."""
        raise NotImplementedError(f"{type(self).__name__} does not say how its model is trained")

    def epochs_for(self, num_images: int) -> int:
        """For recipes that set their training length as ``images_seen``: the epochs over ``num_images`` digits that
        show the model about that many images (at least 1), so 4,000 bundled digits and 60,000 full-MNIST digits
        get the same amount of training."""
        if num_images < 1:
            raise ValueError(f"need at least one training image, got {num_images}")
        return max(1, round(self.images_seen / num_images))

    def fields(self) -> dict[str, Any]:
        """The recipe as plain data (numbers, strings, tuples): what the checkpoint stores beside the weights. The
        check at creation already made every field a plain Python value (a numpy number given for a field counts as
        the number it equals), so it names the same cache file and loads with ``weights_only=True``."""
        return dataclasses.asdict(self)

    def key(self) -> str:
        """``<name>-<hash of the class and every field>``: the cache file's name, different for any change of a field.

        The class is named with its module, so two recipe classes of the same name in different modules never share
        a cache file. A class's :attr:`revision` above 0 joins the hash, so old cache files stop matching, and so do
        the keys of the recipes it :meth:`requires`."""
        cls = type(self)
        number = cls.revision + (1 if getattr(self, "average_decay", 0.0) else 0)
        revision = {"revision": number} if number else {}
        built_on = {"requires": [recipe.key() for recipe in self.requires()]} if self.requires() else {}
        text = json.dumps({"recipe": f"{cls.__module__}.{cls.__qualname__}", **revision, **built_on, **self.fields()},
                          sort_keys=True, default=str)
        return f"{re.sub(r'[^a-z0-9]+', '_', self.name.lower())}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"

