"""Benchmark: how well does notebook 07's semi-supervised GAN classify digits from a few labels? One command, one table.

    PYTHONPATH=. .venv/bin/python benchmarks/semi_supervised.py --labels 100 [--draws 3] [--ablation]
    PYTHONPATH=. .venv/bin/python benchmarks/semi_supervised.py --labels 20,50,100,200,1000,all --draws 1

For each label count and each of ``--draws`` label draws (seeds 0, 1, …) it trains two models with the recipes of
``course_utils.training.semi_supervised`` (full mode; quick mode with COURSE_QUICK=1), or loads them from
COURSE_CACHE: the semi-supervised GAN with feature matching, and the supervised baseline (the same network, the same
shifted labelled digits and the same number of steps, with only the labelled term). Accuracy is measured on the
held-out test digits. The semi-supervised GAN is scored at the end of training. The baseline is scored at its best
epoch on the test digits: an early stop that peeks at the test set and can only flatter it, so the gap printed is
not inflated by a weak baseline. ``--ablation`` adds the rows between the two on the first draw. The last lines are
one JSON object per method and label count with the keys method, labels, accuracy_mean, accuracy_std, draws,
seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from datetime import date
from pathlib import Path

import torch

from benchmarks.arguments import parse_with_threads, positive_int
from course_utils.engine.checkpoints import pretrained
from course_utils.engine.data import load_mnist
from course_utils.engine.device import describe_device, get_device
from course_utils.training.semi_supervised import ABLATION, SemiSupervisedRecipe, baseline_recipe

METHODS = {"semi_supervised": lambda per_class, draw: SemiSupervisedRecipe(per_class=per_class, label_seed=draw),
           "supervised": lambda per_class, draw: baseline_recipe(per_class=per_class, label_seed=draw)}


def parse_labels(text: str, num_classes: int = 10) -> list[int | None]:
    """``"20,100,all"`` → per-class counts ``[2, 10, None]`` (None: every training digit labelled); argparse type."""
    counts: list[int | None] = []
    for item in text.split(","):
        item = item.strip()
        if item == "all":
            counts.append(None)
        elif item.isdigit() and int(item) > 0 and int(item) % num_classes == 0:
            counts.append(int(item) // num_classes)
        else:
            raise argparse.ArgumentTypeError(f"{item!r}: give label counts that are positive multiples of "
                                             f"{num_classes} (an equal number per digit), or 'all'")
    return counts


def score(info: dict, method: str) -> float:
    """The semi-supervised GAN's final test accuracy; the baseline's best (test-peeking early stop)."""
    return info["best_test_accuracy"] if method == "supervised" else info["test_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=parse_labels, default="100",
                        help="comma-separated label counts (multiples of 10) or 'all'")
    parser.add_argument("--draws", type=positive_int, default=3, help="label draws per count (seeds 0, 1, …)")
    parser.add_argument("--ablation", action="store_true", help="also the ablation rows, on the first draw")
    parser.add_argument("--record", default=None, metavar="PATH",
                        help="also write the records, with the command and date, to this JSON file (notebook 07 plots "
                             "course_utils/recorded/semi_supervised_labels.json)")
    args = parse_with_threads(parser)
    device = get_device()
    train_labels = load_mnist("train")[1]
    fewest = int(torch.bincount(train_labels).min())
    if any(per_class is not None and per_class > fewest for per_class in args.labels):
        parser.error(f"argument --labels: the {len(train_labels):,} training digits have only {fewest} of their "
                     f"rarest digit: ask for at most {10 * fewest} labels, or 'all'")
    print(f"device: {describe_device(device)}; {len(train_labels):,} training digits; load average "
          f"{os.getloadavg()[0]:.1f}")

    records, rows = [], []
    for per_class in args.labels:
        labels = len(train_labels) if per_class is None else 10 * per_class
        for method, recipe_for in METHODS.items():
            infos = [pretrained(recipe_for(per_class, draw), device, verbose=False)[1] for draw in range(args.draws)]
            accuracies = [score(info, method) for info in infos]
            records.append({"method": method, "labels": labels, "accuracy_mean": statistics.mean(accuracies),
                            "accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
                            "draws": len(accuracies), "seconds": sum(info["train_seconds"] for info in infos)})
            rows.append((method, labels, accuracies, records[-1]))
        if args.ablation:
            for name, fields in ABLATION.items():
                info = pretrained(SemiSupervisedRecipe(per_class=per_class, **fields), device, verbose=False)[1]
                rows.append((f"ablation: {name}", labels, [info["test_accuracy"]], None))

    print()
    print("| method | labels | accuracy per draw | mean ± std | train s |")
    print("| --- | ---: | --- | ---: | ---: |")
    for method, labels, accuracies, record in rows:
        per_draw = " / ".join(f"{a:.1%}" for a in accuracies)
        summary = (f"{record['accuracy_mean']:.1%} ± {record['accuracy_std']:.1%}" if record else "—")
        seconds = f"{record['seconds']:.0f}" if record else "—"
        print(f"| {method} | {labels:,} | {per_draw} | {summary} | {seconds} |")
    if args.record:
        Path(args.record).write_text(json.dumps({"command": " ".join(["benchmarks/semi_supervised.py"] + sys.argv[1:]),
                                                 "date": date.today().isoformat(), "device": describe_device(device),
                                                 "records": records}, indent=1) + "\n")
    print()
    for record in records:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
