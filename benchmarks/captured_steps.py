"""Benchmark: training steps per second of every recipe, eager and captured as a CUDA graph, in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/captured_steps.py [--steps 200] [--recipes VAERecipe,DCGANRecipe]

Issue 34's first measurement. Every recipe of the course (found as the engine-contract tests find them) builds its
full-size model and trains it on the bundled training digits through ``Recipe.train_on`` for ``--steps`` steps,
twice: eagerly (``COURSE_CUDA_GRAPHS=0``) and as the engine runs it by default, captured where the recipe allows
(:attr:`~course_utils.engine.recipe.Recipe.capturable`). The rate counts the steps after the first logging point
(20 steps), so cuDNN's search, the warm-up and the capture itself are left out. On a CPU there is nothing to capture
and only the eager column is measured. It prints a table, then one JSON object per recipe with exactly the keys
recipe, capturable, mode, eager_steps_per_s, captured_steps_per_s, speedup, device (captured_steps_per_s and speedup
are null where nothing was captured; mode is how the default run's steps ran).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from benchmarks.arguments import parse_with_threads, positive_int
from course_utils.engine.captured import GRAPHS_VARIABLE
from course_utils.engine.device import describe_device, get_device
from course_utils.engine.recipe import Recipe
from course_utils.evaluation.tables import metrics_table
from course_utils.warmup import course_recipe_classes

LOG_EVERY = 20
"""The engine's logging interval: the rate is measured between its logging points."""


def stop_after(steps: int):
    """An optimiser hook that presses Ctrl-C once every optimiser has taken ``steps`` + 1 updates, i.e. inside the
    step after ``steps`` whole ones, which the engine then does not count (the least-updated optimiser counts the
    steps: the WGAN-GP's critic takes five updates per step); returns the hook's handle."""
    counts: dict[int, int] = {}

    def hook(optimizer, args, kwargs):
        counts[id(optimizer)] = counts.get(id(optimizer), 0) + 1
        if min(counts.values()) > steps:
            raise KeyboardInterrupt

    return register_optimizer_step_post_hook(hook)


def steps_per_second(recipe: Recipe, images: torch.Tensor, labels: torch.Tensor, steps: int, captured: bool,
                     device: torch.device) -> tuple[float, str]:
    """(steps per second after the first logging point, how the steps ran) for ``steps`` steps of ``recipe``."""
    os.environ[GRAPHS_VARIABLE] = "1" if captured else "0"
    torch.manual_seed(recipe.seed)
    model = recipe.build().to(device)
    handle = stop_after(steps)
    try:
        with contextlib.redirect_stdout(io.StringIO()):         # the engine's "Interrupted after …" line
            history = recipe.train_on(model, images, labels if recipe.uses_labels else None, progress=False)
    finally:
        handle.remove()
    done = [(step, at) for step, at in zip(history.steps, history.elapsed) if step <= steps]
    (first, started), (last, ended) = done[0], done[-1]
    if last <= first:
        raise SystemExit(f"{type(recipe).__name__} trained {last} steps, too few to time: its training is shorter "
                         f"than --steps {steps} (or than {2 * LOG_EVERY})")
    del model
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return (last - first) / (ended - started), history.mode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=positive_int, default=200,
                        help=f"steps per run, a multiple of {LOG_EVERY} and at least {2 * LOG_EVERY}")
    parser.add_argument("--recipes", default="", help="comma-separated recipe class names (default: every recipe)")
    args = parse_with_threads(parser)
    if args.steps % LOG_EVERY or args.steps < 2 * LOG_EVERY:
        parser.error(f"--steps must be a multiple of {LOG_EVERY} and at least {2 * LOG_EVERY}, got {args.steps}")
    classes = {cls.__name__: cls for cls in course_recipe_classes()}
    chosen = [name for name in args.recipes.split(",") if name] or list(classes)
    unknown = sorted(set(chosen) - set(classes))
    if unknown:
        parser.error(f"--recipes: no recipe called {', '.join(unknown)}; the recipes are {', '.join(classes)}")
    os.environ.pop("COURSE_QUICK", None)                      # the full-size models, as a full run trains them

    device = get_device()
    print(f"device: {describe_device(device)}; load average {os.getloadavg()[0]:.1f}")
    records = []
    for name in chosen:
        recipe = classes[name]()
        images, labels = recipe.training_data(device)
        eager, _ = steps_per_second(recipe, images, labels, args.steps, captured=False, device=device)
        captured, mode = (steps_per_second(recipe, images, labels, args.steps, captured=True, device=device)
                          if device.type == "cuda" else (None, "eager"))
        graph = captured if mode == "CUDA graph" else None
        records.append({"recipe": name, "capturable": recipe.capturable, "mode": mode, "eager_steps_per_s": eager,
                        "captured_steps_per_s": graph, "speedup": graph / eager if graph else None,
                        "device": device.type})
        print(f"{name}: eager {eager:,.0f} steps/s" + (f", captured {graph:,.0f} steps/s" if graph else
                                                         f" ({mode})"), flush=True)
    os.environ.pop(GRAPHS_VARIABLE, None)
    print()
    print(metrics_table({record["recipe"]: {key: value for key, value in record.items() if value is not None}
                         for record in records},
                        ["eager_steps_per_s", "captured_steps_per_s", "speedup"], first="recipe", required=False))
    print()
    for record in records:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
