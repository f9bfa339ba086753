"""benchmarks/captured_steps.py: every recipe's training steps per second, eager and captured, in one run; on a CPU
only the eager column (there is nothing to capture), and one JSON line per recipe."""

import json
import math
import sys

import pytest
from benchmark_runner import run_benchmark_script

from benchmarks import captured_steps

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


@pytest.mark.parametrize("arguments, words", [
    (["--steps", "30"], "multiple of 20"),
    (["--recipes", "NoSuchRecipe"], "no recipe called NoSuchRecipe; the recipes are AutoencoderRecipe"),
])
def test_bad_arguments_stop_before_any_work(arguments, words, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["captured_steps.py", *arguments])
    with pytest.raises(SystemExit) as stopped:
        captured_steps.main()
    assert stopped.value.code == 2 and words in capsys.readouterr().err
