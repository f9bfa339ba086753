"""benchmarks/sample_quality.py: one command that trains (or loads) each model, scores it, and ends in JSON lines."""

import json
import math

import pytest
from benchmark_runner import run_benchmark_script

from course_utils.evaluation.leaderboard import RECIPES, recipe_for, recorded_scores

KEYS = {"model", "inception_score", "frechet_distance", "confident_share", "class_min", "class_max", "train_seconds",
        "samples"}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One cache for this module's runs: the judge's classifier and a quick model that one test trained, the next
    loads (what a second run of the command does; the first test checks that it gives the same numbers)."""
    return tmp_path_factory.mktemp("sample-quality")


def run_benchmark(folder, *arguments):
    return run_benchmark_script("sample_quality.py", folder, *arguments)


def test_quick_run_prints_a_table_and_one_json_line_per_model(shared):
    record_file = shared / "recorded.json"
    done = run_benchmark(shared, "--models", "dcgan,mlp_gan,vae", "--samples", "200", "--set", "dcgan.width=16",
                         "--record", str(record_file))
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    records = [json.loads(line) for line in lines[-3:]]
    written = json.loads(record_file.read_text())
    assert written["records"] == records and written["mode"] == "quick" and "--models dcgan,mlp_gan,vae" in written["command"]
    assert list(recorded_scores(record_file)) == ["DCGAN (05)", "MLP GAN (04)", "VAE (03)"], "named as in the leaderboard"
    assert [record["model"] for record in records] == ["dcgan", "mlp_gan", "vae"]
    for record in records:
        assert set(record) == KEYS, record
        assert 1.0 <= record["inception_score"] <= 10.0 and record["frechet_distance"] >= 0
        assert 0.0 <= record["confident_share"] <= 1.0 and 0 <= record["class_min"] <= record["class_max"] <= 1000
        assert record["samples"] == 200 and record["train_seconds"] > 0 and math.isfinite(record["train_seconds"])
    assert "| real digits (training split) |" in done.stdout and "| uniform noise |" in done.stdout
    assert "| dcgan, width=16 |" in done.stdout, "a changed recipe field is named in the table"

    again = run_benchmark(shared, "--models", "vae", "--samples", "200")
    assert again.returncode == 0 and json.loads(again.stdout.strip().splitlines()[-1]) == records[2], \
        "the second run loads the cached model and draws the same samples: the same numbers"


def test_bad_arguments_are_explained(shared):
    unknown = run_benchmark(shared, "--models", "gan9000")
    assert unknown.returncode != 0 and "unknown model(s) ['gan9000']" in unknown.stderr
    bad_set = run_benchmark(shared, "--models", "dcgan", "--set", "width=64")
    assert bad_set.returncode != 0 and "MODEL.FIELD=VALUE" in bad_set.stderr


def test_recipe_for_changes_fields_and_names_unknown_ones():
    assert recipe_for("dcgan", width=8).width == 8 and set(RECIPES) >= {"vae", "mlp_gan", "dcgan"}
    with pytest.raises(ValueError, match="has no field"):
        recipe_for("dcgan", wdth=8)
    with pytest.raises(ValueError, match="unknown model"):
        recipe_for("stylegan")


def test_a_recipe_seed_is_a_recipe_field_not_the_sampling_seed(shared):
    done = run_benchmark(shared, "--models", "vae", "--samples", "100", "--seed", "3", "--set", "vae.seed=1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| vae, seed=1 |" in done.stdout and json.loads(done.stdout.strip().splitlines()[-1])["samples"] == 100


def test_the_benchmark_scores_the_cgan_on_the_asked_for_class(shared):
    done = run_benchmark(shared, "--models", "cgan", "--samples", "100", "--set", "cgan.width=8")
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["model"] == "cgan" and 0.0 <= record["label_accuracy"] <= 1.0 and record["samples"] == 100
    assert "asked-for class" in done.stdout and f"| {record['label_accuracy']:.1%} |" in done.stdout


def test_all_metrics_prints_notebook_08s_leaderboard_with_every_number(shared):
    done = run_benchmark(shared, "--models", "vae", "--samples", "200", "--all-metrics")
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(record) == KEYS | {"precision", "recall", "swd_28", "swd_14", "swd_7", "memorisation",
                                  "two_sample_accuracy", "metrics_seconds"}
    assert 0 <= record["precision"] <= 1 and 0 <= record["recall"] <= 1 and record["metrics_seconds"] > 0
    assert "| images | score ↑ | Fréchet ↓ | precision ↑ |" in done.stdout
    real = next(line for line in done.stdout.splitlines() if line.startswith("| real digits (training split) |"))
    assert 0.7 < float(real.split("|")[8]) < 1.3, "real digits are not copies of the *other* training digits"
    noise = next(line for line in done.stdout.splitlines() if line.startswith("| uniform noise |"))
    assert float(noise.split("|")[9]) > 0.95, "the two-sample test tells noise from digits"


def test_the_recorded_scores_notebook_11_shows_were_measured_in_full_mode():
    """The rows notebook 11 puts beside its own models: full-mode runs of the DCGAN and the flow-matching model, with
    every score the benchmark prints."""
    from course_utils.evaluation.leaderboard import RECORDED_SCORES

    recorded = json.loads(RECORDED_SCORES.read_text())
    assert recorded["mode"] == "full" and recorded["command"].startswith("benchmarks/sample_quality.py")
    rows = recorded_scores()
    assert {"DCGAN (05)", "flow matching (10)"} <= set(rows)
    for row in rows.values():
        assert set(row) == KEYS and row["samples"] == 1000
        assert 1.0 <= row["inception_score"] <= 10.0 and 0 <= row["frechet_distance"] < 200
