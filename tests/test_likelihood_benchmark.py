"""benchmarks/likelihood.py: one command that trains (or loads) each likelihood model, scores it on the held-out
digits, prints a table and ends in one JSON line per model."""

import json
import math

import pytest
from benchmark_runner import run_benchmark_script

KEYS = {"model", "data", "test_nll_nats", "bits_per_dim", "train_seconds", "sample_seconds_64"}
PIXELS = 784


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One cache for this module's runs (the bundled digits' models trained in quick mode)."""
    return tmp_path_factory.mktemp("likelihood")


def run_benchmark(folder, *arguments):
    return run_benchmark_script("likelihood.py", folder, *arguments)


def test_quick_run_prints_a_table_and_one_json_line_per_model(shared):
    done = run_benchmark(shared, "--models", "pixelcnn,realnvp,vae", "--importance-samples", "20")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert sum(line.startswith("{") for line in lines) == 3, "exactly three JSON lines"
    records = [json.loads(line) for line in lines[-3:]]
    assert [record["model"] for record in records] == ["pixelcnn", "realnvp", "vae"]
    assert [record["data"] for record in records] == ["binarized", "dequantized", "binarized"]
    for record in records:
        assert set(record) == KEYS, record
        numbers = [record[key] for key in KEYS - {"model", "data"}]
        assert all(isinstance(x, float) and math.isfinite(x) for x in numbers), record
        assert record["train_seconds"] > 0 and record["sample_seconds_64"] > 0, record
        bits = record["test_nll_nats"] / (PIXELS * math.log(2)) + (8 if record["data"] == "dequantized" else 0)
        assert record["bits_per_dim"] == pytest.approx(bits, rel=1e-9), record
        assert 0 < record["bits_per_dim"] < (2 if record["data"] == "binarized" else 16), record

    rows = [line for line in lines if line.startswith("| ") and not line.startswith(("| model (data)", "| ---"))]
    assert len(rows) == 3, done.stdout
    for row, record in zip(rows, records):
        assert row.startswith(f"| {record['model']} ({record['data']}) | {record['test_nll_nats']:.1f} | "
                              f"{record['bits_per_dim']:.3f} |"), (row, record)


def test_bad_arguments_are_refused_before_any_work(shared):
    unknown = run_benchmark(shared, "--models", "unknown")
    assert unknown.returncode != 0 and "unknown model(s) ['unknown']" in unknown.stderr, unknown.stderr
    assert "pixelcnn" in unknown.stderr, "the error lists the models to choose from"
    no_samples = run_benchmark(shared, "--models", "vae", "--importance-samples", "0")
    assert no_samples.returncode != 0 and "argument --importance-samples" in no_samples.stderr, no_samples.stderr
    assert "Trained" not in unknown.stdout + no_samples.stdout
