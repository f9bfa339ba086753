"""benchmarks/semi_supervised.py: the 100-label table from one command, ending in one JSON line per method with
exactly the keys the issue names; the recorded label-count curve that notebook 07 plots."""

import json

from benchmark_runner import run_benchmark_script

from course_utils.training.semi_supervised import RECORDED, recorded_results

KEYS = {"method", "labels", "accuracy_mean", "accuracy_std", "draws", "seconds"}


def run_benchmark(tmp_path, *arguments):
    return run_benchmark_script("semi_supervised.py", tmp_path, *arguments)


def test_quick_run_ends_in_one_json_line_per_method_and_records_them(tmp_path):
    record = tmp_path / "curve.json"
    done = run_benchmark(tmp_path, "--labels", "20,100", "--draws", "2", "--record", str(record))
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    records = [json.loads(line) for line in lines[-4:]]
    assert [(r["method"], r["labels"]) for r in records] == [("semi_supervised", 20), ("supervised", 20),
                                                             ("semi_supervised", 100), ("supervised", 100)]
    for r in records:
        assert set(r) == KEYS and r["draws"] == 2 and r["seconds"] > 0
        assert 0 <= r["accuracy_mean"] <= 1 and r["accuracy_std"] >= 0
    assert "| semi_supervised | 100 |" in done.stdout
    saved = json.loads(record.read_text())
    assert saved["records"] == records and "--labels 20,100" in saved["command"]
    assert recorded_results(record) == records


def test_bad_label_counts_are_explained(tmp_path):
    for labels in ("25", "0", "ten"):
        done = run_benchmark(tmp_path, "--labels", labels)
        assert done.returncode != 0 and "positive multiples of 10" in done.stderr


def test_the_recorded_curve_covers_every_label_count_for_both_methods():
    records = recorded_results()
    assert {(r["method"], r["labels"]) for r in records} == {
        (method, labels) for method in ("semi_supervised", "supervised") for labels in (20, 50, 100, 200, 1000, 4000)}
    assert all(set(r) == KEYS and 0.1 < r["accuracy_mean"] <= 1 for r in records)
    assert "--labels 20,50,100,200,1000,all" in json.loads(RECORDED.read_text())["command"]
