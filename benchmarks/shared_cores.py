"""Two trainings at once on one CPU: steps per second of notebook 05's DCGAN alone and beside a second one.

``make warmup`` training while a notebook kernel trains beside it is what an instructor does before class. Each row
starts ``--trainings`` processes that each train the DCGAN recipe's step through the course's engine for
``--seconds`` of wall time, and prints each one's steps per second:

* **shared** — the engine as it is: a CPU training registers itself and takes its share of the cores
  (``course_utils.engine.train.SharedCores``);
* **plain** — ``COURSE_SHARE_CORES=0``: every process keeps PyTorch's thread count, as plain PyTorch does.

Run on an otherwise idle machine: ``PYTHONPATH=. .venv/bin/python benchmarks/shared_cores.py [--seconds 20]``.
It prints a table and one JSON line per row.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.arguments import positive_float, positive_int

ROOT = Path(__file__).resolve().parents[1]


def one_training(seconds: float) -> None:
    """Train the DCGAN recipe's step for ``seconds`` of wall time; print the steps per second as JSON."""
    import torch

    from course_utils.engine.data import load_mnist
    from course_utils.engine.train import for_seconds, train
    from course_utils.training.dcgan import DCGANRecipe
    from course_utils.training.gan import adam_pair, training_images

    recipe = DCGANRecipe()
    gan = recipe.build()
    real = training_images(gan, load_mnist("train", source="bundled")[0])
    step = recipe.make_step(gan, *adam_pair(gan.generator, gan.discriminator, device="cpu", g_lr=recipe.g_lr,
                                            d_lr=recipe.d_lr, betas=recipe.betas))
    batches = for_seconds(seconds, lambda fraction: real[torch.randint(len(real), (recipe.batch_size,))])
    threads = []
    history = train(step, batches, model=gan, progress=False, on_epoch_end=lambda *_: threads.append(torch.get_num_threads()))
    print(json.dumps({"steps": history.steps[-1], "seconds": history.seconds, "threads": threads[-1]}))


def run_row(mode: str, trainings: int, seconds: float) -> dict:
    """Start ``trainings`` processes at once in ``mode`` ("shared" or "plain"); return their steps per second."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "COURSE_SHARE_CORES": "1" if mode == "shared" else "0"}
    environment.pop("OMP_NUM_THREADS", None)
    processes = [subprocess.Popen([sys.executable, __file__, "--one", str(seconds)], env=environment,
                                  stdout=subprocess.PIPE, text=True) for _ in range(trainings)]
    results = [json.loads(process.communicate()[0].strip().splitlines()[-1]) for process in processes]
    rates = [result["steps"] / result["seconds"] for result in results]
    return {"mode": mode, "trainings": trainings, "steps_per_second": [round(rate, 1) for rate in rates],
            "total_steps_per_second": round(sum(rates), 1), "threads": [r["threads"] for r in results],
            "cores": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=positive_float, default=20.0, help="wall time each training runs")
    parser.add_argument("--trainings", type=positive_int, default=2, help="trainings at once in the shared rows")
    parser.add_argument("--one", type=positive_float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        one_training(args.one)
        return
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the first row")
    rows = []
    for mode, trainings in [("plain", 1), ("plain", args.trainings), ("shared", 1), ("shared", args.trainings)]:
        rows.append(run_row(mode, trainings, args.seconds))
        time.sleep(2)
    alone = {row["mode"]: row["total_steps_per_second"] for row in rows if row["trainings"] == 1}
    print("| engine | trainings at once | steps/s of each | all together | vs one alone | threads each (while training) |")
    print("| --- | ---: | --- | ---: | ---: | --- |")
    for row in rows:
        print(f"| {row['mode']} | {row['trainings']} | {', '.join(map(str, row['steps_per_second']))} | "
              f"{row['total_steps_per_second']} | {row['total_steps_per_second'] / alone[row['mode']]:.2f}× | "
              f"{', '.join(map(str, row['threads']))} |")
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
