"""Notebook 09's written-out cells and exercises: the equalised learning rate demonstration shows what the text says,
the checkers name the usual mistakes of the fade-in and read the truncation experiment, and the overview slides show
the course's own diagrams."""

import re
import types
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from notebook_code import run_cell_defining, run_experiment_cell
from torch import nn

from course_utils.models.progressive_gan import EqualizedLinear
from course_utils.teaching.exercises import NOT_ATTEMPTED, PASSED, WRONG
from course_utils.teaching.exercises import progressive as exercises

NOTEBOOK = "09_progressive_and_beyond.ipynb"
ROOT = Path(__file__).resolve().parents[1]


def test_equalised_layers_learn_at_one_relative_speed_and_plain_ones_do_not():
    namespace = run_cell_defining(NOTEBOOK, "relative_change_after_one_step",
                                  {"torch": torch, "nn": nn, "EqualizedLinear": EqualizedLinear})
    change = namespace["relative_change_after_one_step"]
    torch.manual_seed(0)
    plain = [change(nn.Linear(fan_in, 8), lambda layer: layer.weight) for fan_in in (16, 1024)]
    equalised = [change(EqualizedLinear(fan_in, 8), lambda layer: layer.weight * layer.scale) for fan_in in (16, 1024)]
    assert plain[1] / plain[0] > 4, "with plain layers, 64× the fan-in moves the weights about 8× more, relatively"
    assert equalised[1] / equalised[0] == pytest.approx(1, abs=0.2)


def _fade_in_solution(old_small, new, alpha):
    return (1 - alpha) * F.interpolate(old_small, scale_factor=2) + alpha * new


def test_the_fade_in_checker_passes_the_solution_and_names_each_mistake():
    assert exercises.fade_in.evaluate(_fade_in_solution).status == PASSED
    mistakes = {
        "swapped": lambda old, new, a: a * F.interpolate(old, scale_factor=2) + (1 - a) * new,
        "1 − α": lambda old, new, a: F.interpolate(old, scale_factor=2) + a * new,
        "nearest-neighbour": lambda old, new, a: ((1 - a) * F.interpolate(old, scale_factor=2, mode="bilinear")
                                                  + a * new),
        "enlarge the old image first": lambda old, new, a: (1 - a) * old + a * new[..., ::2, ::2],
    }
    for expected_words, attempt in mistakes.items():
        feedback = exercises.fade_in.evaluate(attempt)
        assert feedback.status == WRONG and expected_words in feedback.message, (expected_words, feedback.message)
    assert exercises.fade_in.evaluate(lambda old, new, a: None).status == NOT_ATTEMPTED


REFERENCE = {"precision": 0.56, "recall": 0.88}


@pytest.mark.parametrize("prediction, words", [({"precision": "up", "recall": "down"}, ["went up, as you predicted",
                                                                                          "went down, as you predicted"]),
                                               ({"precision": "down", "recall": "up"}, ["not down as you predicted",
                                                                                        "not up as you predicted"])])
def test_the_truncation_experiment_compares_the_prediction_with_the_measurement(prediction, words):
    outcome = {"threshold": 0.4, "prediction": prediction, "precision": 0.76, "recall": 0.23, "reference": REFERENCE}
    feedback = exercises.truncation_experiment.evaluate(outcome)
    assert feedback.status == PASSED and all(w in feedback.message for w in words), feedback.message
    assert "0.56 → 0.76" in feedback.message


@pytest.mark.parametrize("threshold, prediction, words", [(None, {"precision": "up", "recall": "down"}, "below 3"),
                                                          (5.0, {"precision": "up", "recall": "down"}, "below 3"),
                                                          (-1.0, {"precision": "up", "recall": "down"}, "positive"),
                                                          (0.5, {"precision": "?", "recall": "down"}, "prediction")])
def test_the_truncation_experiment_asks_for_a_threshold_and_a_prediction(threshold, prediction, words):
    outcome = {"threshold": threshold, "prediction": prediction, "precision": 0.7, "recall": 0.4,
               "reference": REFERENCE}
    feedback = exercises.truncation_experiment.evaluate(outcome)
    assert feedback.status == WRONG and words in feedback.message


def test_a_change_too_small_to_measure_is_called_so():
    outcome = {"threshold": 2.5, "prediction": {"precision": "up", "recall": "down"}, "precision": 0.565,
               "recall": 0.875, "reference": REFERENCE}
    assert exercises.truncation_experiment.evaluate(outcome).message.count("barely moved") == 2


def test_the_experiment_cell_measures_the_chosen_threshold_and_hands_it_over():
    asked = []

    def measure(images):
        return {"precision": 0.8, "recall": 0.3, "count": len(images)}

    namespace = {"measure": measure, "exercises": exercises, "truncation_rows": {"none": REFERENCE},
                 "dcgan": types.SimpleNamespace(decode=lambda z: z),
                 "truncated_latents": lambda threshold: asked.append(threshold) or torch.zeros(5, 16)}
    change = 'my_threshold = 0.6\nmy_prediction = {"precision": "up", "recall": "down"}'
    outcome = run_experiment_cell(NOTEBOOK, change, namespace)["outcome"]
    assert asked == [0.6]
    assert outcome == {"threshold": 0.6, "prediction": {"precision": "up", "recall": "down"}, "precision": 0.8,
                       "recall": 0.3, "reference": REFERENCE}
    change = 'my_threshold = 0\nmy_prediction = {"precision": "up", "recall": "down"}'
    outcome = run_experiment_cell(NOTEBOOK, change, namespace)["outcome"]
    assert asked == [0.6], "a threshold of 0 is not measured (truncated_normal would refuse it)"
    assert "positive" in exercises.truncation_experiment.evaluate(outcome).message


OVERVIEW = ["progressive_growing", "stylegan", "biggan_sagan", "pix2pix_cyclegan", "srgan", "vqvae2", "text_to_image",
            "gan_to_diffusion"]


def test_each_overview_slide_shows_its_own_diagram_with_a_description():
    notebook = nbformat.read(ROOT / "notebooks" / NOTEBOOK, as_version=4)
    shown = {}
    for cell in notebook.cells:
        for alt, name in re.findall(r"!\[([^\]]*)\]\(\.\./img/([\w-]+)\.svg\)", cell.source):
            shown[name] = alt
    assert set(OVERVIEW) <= set(shown), f"missing diagrams: {set(OVERVIEW) - set(shown)}"
    for name in OVERVIEW:
        assert (ROOT / "img" / f"{name}.svg").is_file()
        assert len(shown[name].split()) >= 15, f"the diagram {name} needs a description for readers who cannot see it"
        svg = (ROOT / "img" / f"{name}.svg").read_text()
        assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', ""), f"{name}.svg must work offline"
