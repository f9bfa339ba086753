"""Benchmark: how much do the course's generative models' samples look like digits? One command, one table.

    PYTHONPATH=. .venv/bin/python benchmarks/sample_quality.py --models dcgan,mlp_gan,vae [--samples 1000]

For each named model it trains the model with its recipe (full mode; quick mode with COURSE_QUICK=1) on the active
data source, or loads it from COURSE_CACHE; draws the samples with a fixed seed; and scores them against the held-out
test digits with the course classifier (``course_utils.evaluation.leaderboard``, the same code as every other score in the
course). It prints a table with two reference rows, real training digits (what a perfect copy of the training
distribution scores; they are not the reference set) and uniform noise, and then, as its last lines, one JSON object
per model with the keys model, inception_score, frechet_distance, confident_share, class_min, class_max,
train_seconds, samples (and label_accuracy for class-conditional models).

``--set dcgan.width=64`` changes one recipe field, to measure a variant; a variant is trained and cached on its own.
The value is read as the field's type (``--set dcgan.betas=0.0,0.9``, ``--set dcgan.train_images=None``); an unknown
field, or a value the field or the recipe does not take, stops the command with one line before anything is trained.

``--all-metrics`` scores every set with all of notebook 08's numbers instead (``course_utils.evaluation.sample_sets.all_metrics``:
precision and recall, the sliced Wasserstein distances, the memorisation ratio against the training digits, the
two-sample test), prints notebook 08's leaderboard, and adds those keys and ``metrics_seconds`` (the time the
numbers took) to each JSON line. Its real row is training digits scored against the *other* training digits for
memorisation, as in the notebook.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
import types
import typing

import torch

from benchmarks.arguments import finite_float, positive_int, whole_number
from course_utils.engine.data import load_mnist
from course_utils.engine.device import describe_device, get_device
from course_utils.evaluation.leaderboard import RECIPES, Judge, recipe_for, samples_of, score_model, scores_table
from course_utils.evaluation.sample_sets import METRIC_COLUMNS, all_metrics
from course_utils.evaluation.tables import metrics_table

TRUE, FALSE = ("true", "yes", "1"), ("false", "no", "0")
KINDS = {int: "a whole number", float: "a finite number", bool: "true or false", str: "text", type(None): "None"}


def describe(kind: typing.Any) -> str:
    """A recipe field's type as written with ``--set``: ``a whole number or None``, ``tuple[float, float] (…)``."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return " or ".join(describe(member) for member in typing.get_args(kind))
    return KINDS.get(kind) or f"{kind} (comma-separated, e.g. 0.0,0.9)"


def read_value(text: str, kind: typing.Any) -> typing.Any:
    """``text`` as a value of the recipe field type ``kind`` (see ``describe``); ValueError if it is not one."""
    text, args = text.strip(), typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        for member in args:
            try:
                return read_value(text, member)
            except ValueError:
                pass
    elif typing.get_origin(kind) is tuple:
        items = [item.strip() for item in text.strip("()[] ").split(",") if item.strip()]
        members = [args[0]] * len(items) if args[1:] == (...,) else list(args)
        if len(items) == len(members):
            return tuple(read_value(item, member) for item, member in zip(items, members))
    elif kind is type(None) and text == "None":
        return None
    elif kind is bool and text.lower() in TRUE + FALSE:
        return text.lower() in TRUE
    elif kind in (int, float):
        try:
            return whole_number(text) if kind is int else finite_float(text)
        except argparse.ArgumentTypeError:
            pass
    elif kind is str:
        return text
    raise ValueError(f"{text!r} is not {describe(kind)}")


def parse_overrides(settings: list[str], models: list[str]) -> dict[str, dict]:
    """``["dcgan.width=64", "dcgan.betas=(0.0, 0.9)"]`` → ``{"dcgan": {"width": 64, "betas": (0.0, 0.9)}}``, each
    value read as its recipe field's type; ValueError names a malformed setting, an unknown field or a bad value."""
    overrides: dict[str, dict] = {name: {} for name in models}
    for setting in settings:
        target, _, value = setting.partition("=")
        name, _, field = target.partition(".")
        if not value or not field or name not in overrides:
            raise ValueError(f"{setting!r}: write MODEL.FIELD=VALUE for one of the models given to --models")
        recipe = type(recipe_for(name))
        fields = [f.name for f in dataclasses.fields(recipe)]
        if field not in fields:
            raise ValueError(f"{setting!r}: {recipe.__name__} has no field {field!r}; its fields are "
                             f"{', '.join(fields)}")
        kind = typing.get_type_hints(recipe)[field]
        try:
            overrides[name][field] = read_value(value, kind)
        except ValueError:
            raise ValueError(f"{setting!r}: {recipe.__name__}.{field} takes {describe(kind)}, not {value!r}") from None
    for name in models:
        recipe_for(name, **overrides[name])              # the recipe's own checks (ranges, choices) raise ValueError
    return overrides


def row_name(name: str, overrides: dict) -> str:
    """The model's name, followed by the recipe fields changed with --set."""
    return name + "".join(f", {field}={value}" for field, value in overrides.items())


def leaderboard_of_every_metric(judge: Judge, models: list[str], samples: int, seed: int,
                                overrides: dict[str, dict]) -> tuple[dict, list[dict]]:
    """Notebook 08's leaderboard: every metric of ``all_metrics`` for real training digits, uniform noise and each
    model; returns the table's rows and one record per model (the sample-quality keys plus every metric)."""
    train, _ = load_mnist("train", device=judge.device)
    noise = torch.rand(samples, 1, 28, 28, generator=torch.Generator().manual_seed(seed)).to(train.device)
    rows = {"real digits (training split)": all_metrics(judge, train[:samples], train[samples:], seed=seed),
            "uniform noise": all_metrics(judge, noise, train, seed=seed)}
    records = []
    for name in models:
        images, labels, info = samples_of(name, judge.device, samples, seed, overrides[name])
        started = time.perf_counter()
        metrics = all_metrics(judge, images, train, seed=seed)
        seconds = time.perf_counter() - started
        record = {"model": name, **judge(images, labels), **metrics, "metrics_seconds": seconds,
                  "train_seconds": float(info.get("train_seconds", float("nan"))), "samples": samples}
        records.append(record)
        rows[row_name(name, overrides[name])] = record
    return rows, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="dcgan,mlp_gan", help=f"comma-separated, from: {', '.join(RECIPES)}")
    parser.add_argument("--samples", type=positive_int, default=1000,
                        help="images drawn per model (and per reference row)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent vectors drawn for the samples")
    parser.add_argument("--set", action="append", default=[], metavar="MODEL.FIELD=VALUE", help="change a recipe field")
    parser.add_argument("--all-metrics", action="store_true", help="every number of notebook 08 (slower)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="CPU threads for PyTorch (default: PyTorch's choice)")
    args = parser.parse_args()
    models = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in models if name not in RECIPES]
    if unknown or not models:
        problem = f"unknown model(s) {unknown}" if unknown else "no model named"
        parser.error(f"argument --models: {problem}; choose from {', '.join(RECIPES)}")
    try:
        overrides = parse_overrides(args.set, models)
    except ValueError as error:
        parser.error(f"argument --set: {' '.join(str(error).split())}")  # one line, whatever the recipe says
    if args.all_metrics and (digits := len(load_mnist("train")[0])) < 2 * args.samples:
        parser.error(f"argument --samples: --all-metrics needs at least {2 * args.samples} training digits, the "
                     f"active data has {digits}")
    if args.threads:
        torch.set_num_threads(args.threads)

    device = get_device()
    print(f"device: {describe_device(device)}; {args.samples} samples per model; load average {os.getloadavg()[0]:.1f}")
    judge = Judge(device)
    print(f"judge: the course classifier, {judge.classifier_info['test_accuracy']:.1%} accurate on the "
          f"{len(judge.reference):,} held-out test digits that every sample set is compared with")
    if args.all_metrics:
        rows, records = leaderboard_of_every_metric(judge, models, args.samples, args.seed, overrides)
    else:
        rows = judge.reference_rows(args.samples, seed=args.seed)
        records = []
        for name in models:
            record = score_model(name, judge, args.samples, args.seed, overrides[name])
            records.append(record)
            rows[row_name(name, overrides[name])] = record
    print()
    print(metrics_table(rows, METRIC_COLUMNS) if args.all_metrics else scores_table(rows))
    print()
    for record in records:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
