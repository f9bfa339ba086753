"""benchmarks/latent_sampling.py: one command that times notebook 12's latent-space generators against the pixel-space
models of the same kind, in one run, and ends in one JSON line per model and batch."""

import json
import math

import pytest
from benchmark_runner import run_benchmark_script

KEYS = {"model", "pixel_model", "batch", "seconds", "ms_per_digit", "pixel_ms_per_digit", "speedup"}


def test_quick_run_prints_a_table_and_one_json_line_per_model_and_batch(tmp_path):
    done = run_benchmark_script("latent_sampling.py", tmp_path, "--batches", "3,5", "--repeats", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| model, batch |" in done.stdout and "× faster" in done.stdout
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [(record["model"], record["batch"]) for record in records] == [
        ("code prior (12)", 3), ("code prior (12)", 5), ("latent flow matching (12)", 3), ("latent flow matching (12)", 5)]
    assert [record["pixel_model"] for record in records] == ["pixel PixelCNN (11)"] * 2 + ["pixel flow matching (10)"] * 2
    for record in records:
        assert set(record) == KEYS, record
        assert all(isinstance(record[key], float) and math.isfinite(record[key]) and record[key] > 0
                   for key in KEYS - {"model", "pixel_model", "batch"}), record
        assert record["ms_per_digit"] == pytest.approx(1000 * record["seconds"] / record["batch"], rel=1e-9)
        assert record["speedup"] == pytest.approx(record["pixel_ms_per_digit"] / record["ms_per_digit"], rel=1e-9)
    assert not (tmp_path / "cache" / "models").exists(), "the timings train nothing and load nothing"


def test_a_bad_batch_list_stops_before_any_work(tmp_path):
    done = run_benchmark_script("latent_sampling.py", tmp_path, "--batches", "0")
    assert done.returncode == 2 and "--batches" in done.stderr
