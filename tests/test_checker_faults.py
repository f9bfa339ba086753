"""Every checker of every exercises module, fed the wrong kind of answer: a ✗ that says what was expected, never a raise."""

import importlib
import pkgutil

import pytest
import torch

import course_utils.teaching.exercises as exercises_package
from course_utils.teaching.exercises import ERROR, NOT_ATTEMPTED, WRONG, Exercise, Experiment, compare


def _checkers(kind: type) -> list:
    """Every ``kind`` (Exercise or Experiment) defined in the exercises modules, so a new checker is covered too."""
    found = []
    for module_info in pkgutil.iter_modules(exercises_package.__path__):
        module = importlib.import_module(f"{exercises_package.__name__}.{module_info.name}")
        found += [value for value in vars(module).values() if isinstance(value, kind)]
    return found


EXERCISES, EXPERIMENTS = _checkers(Exercise), _checkers(Experiment)


def _raises(*args):
    raise ValueError("a bug in the student's code")


BAD_ANSWERS = {
    "a string": "0.5",
    "a dict": {"answer": 0.5},
    "a tuple": (0.5, 1.5),
    "a complex tensor": torch.tensor([0.5 + 1j, 1.5 + 0j]),
    "a wrongly shaped tensor": torch.zeros(7, 7),
}


def test_every_module_has_checkers():
    assert len(EXERCISES) >= 10 and len(EXPERIMENTS) >= 5


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda exercise: exercise.name)
@pytest.mark.parametrize("answer", list(BAD_ANSWERS), ids=str)
def test_a_wrong_kind_of_answer_is_a_cross_naming_what_was_expected(exercise, answer, capsys):
    bad = BAD_ANSWERS[answer]
    feedback = exercise.evaluate(lambda *args: bad)
    assert feedback.status == WRONG and feedback.failed_case == 1, feedback.message
    assert feedback.message.startswith(f"✗ {exercise.name}: case 1 with (")
    expected = exercise.reference(*exercise.cases[0])
    if isinstance(expected, tuple):             # a tuple of tensors: any answer but a tuple is refused as a whole
        named = f"shape {tuple(expected[0].shape)}" if answer == "a tuple" else f"a tuple of {len(expected)} items"
    elif answer == "a complex tensor":
        named = "expected a real"
    else:
        named = "expected a number" if isinstance(expected, (int, float)) else f"shape {tuple(expected.shape)}"
    assert named in feedback.message, feedback.message
    exercise.check(lambda *args: bad)
    assert capsys.readouterr().out.strip() == feedback.message


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda exercise: exercise.name)
def test_none_and_a_raising_function_are_reported(exercise):
    assert exercise.evaluate(lambda *args: None).status == NOT_ATTEMPTED
    crashed = exercise.evaluate(_raises)
    assert crashed.status == ERROR and "raised ValueError: a bug in the student's code" in crashed.message


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda exercise: exercise.name)
def test_the_right_answer_as_a_complex_tensor_is_rejected(exercise):
    def complex_answer(*args):
        expected = exercise.reference(*args)
        if isinstance(expected, tuple):
            return tuple(torch.as_tensor(item) + 0j for item in expected)
        return torch.as_tensor(expected) + 0j

    feedback = exercise.evaluate(complex_answer)
    assert feedback.status == WRONG, feedback.message
    assert "expected a real" in feedback.message and "complex" in feedback.message


@pytest.mark.parametrize("expected, got, fragment", [
    (torch.zeros(2), torch.zeros(2, dtype=torch.complex64), "expected a real-valued tensor but got a complex one"),
    (1.0, 1.0 + 0j, "expected a real number but got a complex one"),
    (1.0, torch.tensor(1.0 + 0j), "expected a real number but got a complex one"),
    (torch.zeros(2), "0", "expected a Tensor of shape (2,) but got a str"),
])
def test_compare_names_the_expected_kind(expected, got, fragment):
    assert fragment in compare(expected, got)


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda experiment: experiment.name)
@pytest.mark.parametrize("outcome", [*BAD_ANSWERS.values(), _raises],
                         ids=[*BAD_ANSWERS, "a function that raises"])
def test_a_wrong_kind_of_outcome_is_a_cross_naming_what_was_expected(experiment, outcome, capsys):
    feedback = experiment.evaluate(outcome)
    assert feedback.status in (WRONG, ERROR) and feedback.message.startswith(f"✗ {experiment.name}: "), feedback.message
    if feedback.status == ERROR:
        assert f"expected {experiment.expects}" in feedback.message and "run the experiment cell" in feedback.message
    experiment.check(outcome)
    assert capsys.readouterr().out.strip() == feedback.message
    assert experiment.evaluate(None).status == NOT_ATTEMPTED
