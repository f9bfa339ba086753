"""benchmarks/captured_steps.py: every recipe's training steps per second, eager and captured, in one run; on a CPU
only the eager column (there is nothing to capture), and one JSON line per recipe."""

import json
import math

from benchmark_runner import run_benchmark_script

KEYS = {"recipe", "capturable", "mode", "eager_steps_per_s", "captured_steps_per_s", "speedup", "device"}


def test_a_cpu_run_times_the_eager_steps_and_captures_nothing(tmp_path):
    done = run_benchmark_script("captured_steps.py", tmp_path, "--steps", "40", "--recipes",
                                "LabelToImageRecipe,ProgressiveRecipe")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| recipe | eager steps/s ↑ | captured steps/s ↑ | × faster ↑ |" in done.stdout
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [(r["recipe"], r["capturable"]) for r in records] == [("LabelToImageRecipe", True),
                                                                 ("ProgressiveRecipe", False)]
    for record in records:
        assert set(record) == KEYS, record
        assert math.isfinite(record["eager_steps_per_s"]) and record["eager_steps_per_s"] > 0, record
        assert (record["mode"], record["captured_steps_per_s"], record["speedup"], record["device"]) == (
            "eager", None, None, "cpu"), record
    assert not (tmp_path / "cache" / "models").exists(), "the timings train from scratch and cache nothing"


def test_bad_arguments_stop_before_any_work(tmp_path):
    done = run_benchmark_script("captured_steps.py", tmp_path, "--steps", "30")
    assert done.returncode == 2 and "multiple of 20" in done.stderr
    done = run_benchmark_script("captured_steps.py", tmp_path, "--recipes", "NoSuchRecipe")
    assert done.returncode == 2 and "no recipe called NoSuchRecipe" in done.stderr and "VAERecipe" in done.stderr
