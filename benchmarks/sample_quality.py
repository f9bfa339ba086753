"""Benchmark: how much do the course's generative models' samples look like digits? One command, one table.

    PYTHONPATH=. .venv/bin/python benchmarks/sample_quality.py --models dcgan,mlp_gan,vae [--samples 1000]

For each named model it trains the model with its recipe (full mode; quick mode with COURSE_QUICK=1) on the active
data source, or loads it from COURSE_CACHE; draws the samples with a fixed seed; and scores them against the held-out
test digits with the course classifier (``course_utils.leaderboard``, the same code as every other score in the
course). It prints a table with two reference rows, real training digits (what a perfect copy of the training
distribution scores; they are not the reference set) and uniform noise, and then, as its last lines, one JSON object
per model with the keys model, inception_score, frechet_distance, confident_share, class_min, class_max,
train_seconds, samples (and label_accuracy for class-conditional models).

``--set dcgan.width=64`` changes one recipe field, to measure a variant; a variant is trained and cached on its own.
"""

from __future__ import annotations

import argparse
import ast
import json
import os

import torch

from course_utils.device import describe_device, get_device
from course_utils.leaderboard import RECIPES, Judge, markdown_table, score_model


def parse_overrides(settings: list[str], models: list[str]) -> dict[str, dict]:
    """``["dcgan.width=64", "dcgan.betas=(0.0, 0.9)"]`` → ``{"dcgan": {"width": 64, "betas": (0.0, 0.9)}}``."""
    overrides: dict[str, dict] = {name: {} for name in models}
    for setting in settings:
        target, _, value = setting.partition("=")
        name, _, field = target.partition(".")
        if not value or not field or name not in overrides:
            raise SystemExit(f"--set {setting!r}: write MODEL.FIELD=VALUE for one of the models given to --models")
        try:
            overrides[name][field] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[name][field] = value                       # a plain string, e.g. dcgan.loss=hinge
    return overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="dcgan,mlp_gan", help=f"comma-separated, from: {', '.join(RECIPES)}")
    parser.add_argument("--samples", type=int, default=1000, help="images drawn per model (and per reference row)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent vectors drawn for the samples")
    parser.add_argument("--set", action="append", default=[], metavar="MODEL.FIELD=VALUE", help="change a recipe field")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for PyTorch (default: PyTorch's choice)")
    args = parser.parse_args()
    models = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = [name for name in models if name not in RECIPES]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {', '.join(RECIPES)}")
    overrides = parse_overrides(args.set, models)
    if args.threads:
        torch.set_num_threads(args.threads)

    device = get_device()
    print(f"device: {describe_device(device)}; {args.samples} samples per model; load average {os.getloadavg()[0]:.1f}")
    judge = Judge(device)
    print(f"judge: the course classifier, {judge.classifier_info['test_accuracy']:.1%} accurate on the "
          f"{len(judge.reference):,} held-out test digits that every sample set is compared with")
    rows = judge.reference_rows(args.samples, seed=args.seed)
    records = []
    for name in models:
        record = score_model(name, judge, args.samples, args.seed, overrides[name])
        records.append(record)
        rows[name + "".join(f", {field}={value}" for field, value in overrides[name].items())] = record
    print()
    print(markdown_table(rows))
    print()
    for record in records:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
