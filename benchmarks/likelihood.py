"""Benchmark: how well do the course's likelihood models fit the held-out digits? One command, one table.

    PYTHONPATH=. .venv/bin/python benchmarks/likelihood.py --models pixelcnn,realnvp,vae

For each named model it trains the model with its recipe (full mode; quick mode with COURSE_QUICK=1) on the active
data source, or loads it from COURSE_CACHE, and scores it on the held-out test digits: the PixelCNN's exact −log p(x)
of the digits binarized once (``binarized``); the RealNVP flow's −log p(y) of the digits dequantized once
(``dequantized``: nats on [0, 1)⁷⁸⁴, and the bound on the 8-bit digits it gives, in bits per dimension); the VAE,
trained on binarized digits (notebook 03's model with ``binarized=True``), by its importance-weighted bound with
K = 1,000 samples on the same binarized digits as the PixelCNN. It then times drawing 64 samples. It prints a table,
then one JSON object per model with exactly the keys model, data, test_nll_nats, bits_per_dim, train_seconds,
sample_seconds_64.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from benchmarks.arguments import model_names, parse_with_threads, positive_int
from course_utils.engine.device import describe_device, get_device
from course_utils.evaluation.likelihoods import LIKELIHOOD_MODELS, likelihood_record
from course_utils.evaluation.tables import metrics_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=model_names(LIKELIHOOD_MODELS), default="pixelcnn,realnvp,vae",
                        help=f"comma-separated, from: {', '.join(LIKELIHOOD_MODELS)}")
    parser.add_argument("--importance-samples", type=positive_int, default=1000,
                        help="K, the importance samples of the VAE's bound (the row's test_nll_nats)")
    args = parse_with_threads(parser)

    device = get_device()
    print(f"device: {describe_device(device)}; load average {os.getloadavg()[0]:.1f}")
    records = []
    for name in args.models:
        started = time.perf_counter()
        records.append(likelihood_record(name, device, importance_samples=args.importance_samples))
        print(f"{name}: scored in {time.perf_counter() - started:.0f} s", flush=True)
    print()
    print(metrics_table({f"{record['model']} ({record['data']})": record for record in records},
                        ["test_nll_nats", "bits_per_dim", "train_seconds", "sample_seconds_64"], first="model (data)"))
    print()
    for record in records:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
