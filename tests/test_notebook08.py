"""Notebook 08's claims and cells: each failure moves the metrics the summary table says it moves (on the bundled
digits, with a briefly trained classifier as the judge), the notebook's precision solution passes its checker, and
the predict-then-measure cell hands the measured changes to the checker."""

import pytest
import torch
from notebook_code import run_cell_defining, run_experiment_cell

from course_utils.evaluation.failures import add_noise, drop_classes, gaussian_blur, imbalance, repeat_images
from course_utils.evaluation.leaderboard import Judge
from course_utils.evaluation.sample_sets import all_metrics
from course_utils.teaching.exercises import PASSED
from course_utils.teaching.exercises import evaluation as exercises

NOTEBOOK = "08_evaluating_generative_models.ipynb"
COUNT = 500


@pytest.fixture(scope="module")
def judge(trained_classifier, bundled_mnist):
    """A Judge with the tests' briefly trained classifier instead of the cached course classifier."""
    _, (test_images, _) = bundled_mnist
    judge = Judge.__new__(Judge)
    judge.device, judge.classifier, judge.classifier_info = None, trained_classifier, {}
    judge.reference = test_images
    return judge


@pytest.fixture(scope="module")
def table(judge, bundled_mnist):
    """The notebook's failure table at its strongest settings (and one weak one), on 500 images per set."""
    (images, labels), _ = bundled_mnist
    base, base_labels, pool = images[:COUNT], labels[:COUNT], images[COUNT:]
    sets = {"clean": base, "blur 2": gaussian_blur(base, 2.0), "noise 0.05": add_noise(base, 0.05),
            "8 classes dropped": drop_classes(base, base_labels, 8), "copies": repeat_images(pool[:COUNT], COUNT),
            "90% ones": imbalance(base, base_labels, 0.9)}
    return {name: all_metrics(judge, damaged, pool) for name, damaged in sets.items()}


def test_all_metrics_of_real_against_real_digits_are_the_clean_row(table):
    clean = table["clean"]
    assert set(clean) == {"inception_score", "frechet_distance", "confident_share", "precision", "recall", "swd_28",
                          "swd_14", "swd_7", "memorisation", "two_sample_accuracy"}
    assert clean["inception_score"] > 6.5 and clean["precision"] > 0.8 and clean["recall"] > 0.8
    assert 0.85 < clean["memorisation"] < 1.15 and abs(clean["two_sample_accuracy"] - 0.5) < 0.1


def test_blur_is_seen_by_the_fine_band_and_recall_while_precision_stays(table):
    """Precision misses what recall sees. With this briefly trained judge blur's precision is 0.96 against the clean
    digits' 0.93 on torch 2.14, and 0.90 against 0.93 on torch 2.2 (the judge trains differently); notebook 08's
    claim that it rises is printed there, in full mode, with the course's classifier."""
    clean, blur = table["clean"], table["blur 2"]
    assert blur["swd_28"] > 10 * clean["swd_28"] and blur["recall"] < 0.1
    assert blur["precision"] > clean["precision"] - 0.05 and blur["two_sample_accuracy"] > 0.95


def test_weak_noise_fools_the_score_but_not_the_two_sample_test(table):
    clean, noise = table["clean"], table["noise 0.05"]
    assert abs(noise["inception_score"] - clean["inception_score"]) < 0.5
    assert noise["two_sample_accuracy"] > 0.8 and noise["swd_7"] > 3 * clean["swd_7"]


def test_dropped_classes_cost_recall_not_precision(table):
    dropped = table["8 classes dropped"]
    assert dropped["recall"] < 0.2 and dropped["precision"] > 0.85 and dropped["inception_score"] < 3


def test_copies_are_caught_only_by_the_memorisation_ratio(table):
    clean, copies = table["clean"], table["copies"]
    assert copies["memorisation"] < 0.05 and copies["inception_score"] > 0.95 * clean["inception_score"]
    assert copies["recall"] > 0.8 * clean["recall"] and copies["two_sample_accuracy"] < 0.62


def test_an_imbalance_keeps_recall_and_costs_the_score(table):
    clean, ones = table["clean"], table["90% ones"]
    assert ones["recall"] > 0.6 and ones["inception_score"] < clean["inception_score"] / 2


def test_all_metrics_refuses_more_images_than_held_out_digits(judge):
    with pytest.raises(ValueError, match="compare at most 1000 images"):
        all_metrics(judge, torch.rand(1001, 1, 28, 28), torch.rand(10, 1, 28, 28))


def test_the_notebooks_precision_solution_passes():
    namespace = run_cell_defining(NOTEBOOK, "my_precision", {"torch": torch})
    assert exercises.precision.evaluate(namespace["my_precision"]).status == PASSED


def test_the_prediction_cell_hands_the_measured_changes_to_the_checker(table, capsys):
    columns = {"inception_score": "score", "recall": "recall", "memorisation": "memo."}
    measured = {"copies": [table["copies"]], "classes dropped": [table["8 classes dropped"]]}
    namespace = {"measured": measured, "clean": table["clean"], "columns": columns, "exercises": exercises}
    outcome = run_experiment_cell(NOTEBOOK, 'my_failure, my_prediction = "copies", "memorisation"', namespace)["outcome"]
    assert outcome["failure"] == "copies" and outcome["changes"]["memorisation"] == pytest.approx(-1.0, abs=0.05)
    assert "Your prediction, memorisation, is among the two that moved most" in capsys.readouterr().out


def test_the_prediction_cell_names_the_failures_when_one_is_misspelt(table):
    namespace = {"measured": {"copies": [table["copies"]], "classes dropped": [table["8 classes dropped"]]},
                 "clean": table["clean"], "columns": {"recall": "recall"}, "exercises": exercises}
    with pytest.raises(ValueError, match=r"choose one of 'copies', 'classes dropped'\. Did you mean 'copies'\?"):
        run_experiment_cell(NOTEBOOK, 'my_failure, my_prediction = "copy", "recall"', namespace)
