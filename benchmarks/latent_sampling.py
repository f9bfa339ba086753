"""Benchmark: how much faster does generating in a VQ-VAE's latent space draw a digit than generating pixels?

    PYTHONPATH=. .venv/bin/python benchmarks/latent_sampling.py --batches 64,1000

Notebook 12's claim, measured in one run: its PixelCNN over the 7×7 code grid (49 code decisions, then one decoder
pass) against notebook 11's PixelCNN over the 784 pixels, and its flow matching on the 8×7×7 latents against
notebook 10's flow matching on the pixels (20 Euler steps each). Drawing time depends on the architecture and not on
the weights, so each model is built untrained from its recipe (nothing is trained or loaded). Each timing is the
median of ``--repeats`` draws. It prints a table, then one JSON object per timing with exactly the keys model,
pixel_model, batch, seconds, ms_per_digit, pixel_ms_per_digit, speedup.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from benchmarks.arguments import parse_with_threads, positive_int, positive_ints
from course_utils.engine.device import describe_device, get_device, synchronize
from course_utils.evaluation.tables import metrics_table
from course_utils.training.flow_matching import FlowRecipe
from course_utils.training.latent_models import CodePriorRecipe, LatentFlowRecipe
from course_utils.training.likelihood import PixelCNNRecipe

PAIRS = {"code prior (12)": (CodePriorRecipe, "pixel PixelCNN (11)", PixelCNNRecipe),
         "latent flow matching (12)": (LatentFlowRecipe, "pixel flow matching (10)", FlowRecipe)}
"""Each latent-space model of notebook 12 and the pixel-space model of the same kind it is measured against."""


def seconds_to_draw(model, batch: int, repeats: int, device) -> float:
    """The median wall time of ``repeats`` calls of ``model.sample(batch)`` (the first call not counted: warm-up)."""
    model.sample(min(batch, 8), rng=0)
    times = []
    for repeat in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        model.sample(batch, rng=repeat)
        synchronize(device)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=positive_ints, default=[64, 1000], help="digits drawn per call, e.g. 64,1000")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed draws per model and batch (median)")
    args = parse_with_threads(parser)

    device = get_device()
    print(f"device: {describe_device(device)}; load average {os.getloadavg()[0]:.1f}")
    torch.manual_seed(0)
    records = []
    for name, (recipe, pixel_name, pixel_recipe) in PAIRS.items():
        model, pixel_model = recipe().build().to(device).eval(), pixel_recipe().build().to(device).eval()
        for batch in args.batches:
            seconds = seconds_to_draw(model, batch, args.repeats, device)
            pixel_seconds = seconds_to_draw(pixel_model, batch, args.repeats, device)
            records.append({"model": name, "pixel_model": pixel_name, "batch": batch, "seconds": seconds,
                            "ms_per_digit": 1000 * seconds / batch, "pixel_ms_per_digit": 1000 * pixel_seconds / batch,
                            "speedup": pixel_seconds / seconds})
            print(f"{name}, {batch} digits: {seconds:.2f} s; {pixel_name}: {pixel_seconds:.2f} s", flush=True)
    print()
    print(metrics_table({f"{record['model']}, {record['batch']} digits": record for record in records},
                        ["ms_per_digit", "pixel_ms_per_digit", "speedup"], first="model, batch"))
    print()
    for record in records:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
