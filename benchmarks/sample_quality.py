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
The value is read as a Python literal (``--set dcgan.betas=0.0,0.9``, ``--set dcgan.train_images=None``) and checked by
the recipe as it is built: an unknown field, or a value the field does not take, stops the command with the recipe's
one-line explanation before anything is trained.

``--record PATH`` also writes the records, the command, the date and the mode to a JSON file: notebook 11 shows the
full-mode rows of ``course_utils/recorded/sample_quality.json`` beside the models it trains itself.

``--all-metrics`` scores every set with all of notebook 08's numbers instead (``course_utils.evaluation.sample_sets.all_metrics``:
precision and recall, the sliced Wasserstein distances, the memorisation ratio against the training digits, the
two-sample test), prints notebook 08's leaderboard, and adds those keys and ``metrics_seconds`` (the time the
numbers took) to each JSON line. Its real row is training digits scored against the *other* training digits for
memorisation, as in the notebook.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
import typing
from datetime import date
from pathlib import Path

import torch

from benchmarks.arguments import model_names, parse_with_threads, positive_int
from course_utils.engine.config import quick_mode
from course_utils.engine.data import load_mnist
from course_utils.engine.device import describe_device, get_device
from course_utils.evaluation.leaderboard import RECIPES, Judge, recipe_for, samples_of, score_model, scores_table
from course_utils.evaluation.sample_sets import METRIC_COLUMNS, all_metrics
from course_utils.evaluation.tables import metrics_table

def literal(text: str) -> typing.Any:
    """``--set``'s value as Python reads it (``64``, ``0.0,0.9``, ``None``, ``nan``), or as text where it is none."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        try:
            return float(text)
        except ValueError:
            return text


def parse_overrides(settings: list[str], models: list[str]) -> dict[str, dict]:
    """``["dcgan.width=64", "dcgan.betas=0.0,0.9"]`` → ``{"dcgan": {"width": 64, "betas": (0.0, 0.9)}}``. Each value is
    read as a literal and checked by the recipe itself, as any recipe is when it is built: ValueError names a
    malformed setting, an unknown field or a value the field does not take, before anything is trained."""
    overrides: dict[str, dict] = {name: {} for name in models}
    for setting in settings:
        target, _, value = setting.partition("=")
        name, _, field = target.partition(".")
        if not value or not field or name not in overrides:
            raise ValueError(f"{setting!r}: write MODEL.FIELD=VALUE for one of the models given to --models")
        overrides[name][field] = literal(value)
    for name in models:
        recipe_for(name, **overrides[name])
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
    parser.add_argument("--models", type=model_names(RECIPES), default="dcgan,mlp_gan",
                        help=f"comma-separated, from: {', '.join(RECIPES)}")
    parser.add_argument("--samples", type=positive_int, default=1000,
                        help="images drawn per model (and per reference row)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent vectors drawn for the samples")
    parser.add_argument("--set", action="append", default=[], metavar="MODEL.FIELD=VALUE", help="change a recipe field")
    parser.add_argument("--all-metrics", action="store_true", help="every number of notebook 08 (slower)")
    parser.add_argument("--record", default=None, metavar="PATH",
                        help="also write the records, with the command and date, to this JSON file (notebook 11 reads "
                             "course_utils/recorded/sample_quality.json)")
    args = parse_with_threads(parser)
    models = args.models
    try:
        overrides = parse_overrides(args.set, models)
    except ValueError as error:
        parser.error(f"argument --set: {' '.join(str(error).split())}")  # one line, whatever the recipe says
    if args.all_metrics and (digits := len(load_mnist("train")[0])) < 2 * args.samples:
        parser.error(f"argument --samples: --all-metrics needs at least {2 * args.samples} training digits, the "
                     f"active data has {digits}")

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
    if args.record:
        Path(args.record).write_text(json.dumps({"command": " ".join(["benchmarks/sample_quality.py"] + sys.argv[1:]),
                                                 "date": date.today().isoformat(), "device": describe_device(device),
                                                 "mode": "quick" if quick_mode() else "full", "records": records},
                                                indent=1) + "\n")
    print()
    for record in records:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
