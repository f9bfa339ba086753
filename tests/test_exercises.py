import numpy as np
import pytest
import torch

from course_utils.teaching.exercises import ERROR, NOT_ATTEMPTED, PASSED, WRONG, Exercise, compare
from course_utils.teaching.exercises.basics import to_symmetric_range


def stub(images):
    raise NotImplementedError


def test_correct_solution_passes(capsys):
    to_symmetric_range.check(lambda images: 2 * images - 1)
    assert capsys.readouterr().out.startswith("✓ to_symmetric_range: correct on all 3 cases")


@pytest.mark.parametrize("student", [stub, lambda images: None])
def test_unattempted_stub_is_reported_not_raised(student):
    feedback = to_symmetric_range.evaluate(student)
    assert feedback.status == NOT_ATTEMPTED and "not attempted yet" in feedback.message


@pytest.mark.parametrize("student, hint", [
    (lambda images: 2 * images, "shift it down by 1"),
    (lambda images: images - 1, "did not stretch"),
    (lambda images: (images - 0.5) / 2, "multiply by 2"),
    (lambda images: (2 * images - 1).mean(), "keep the shape"),
    (lambda images: 3 * images - 1, "a straight line"),
])
def test_wrong_answers_get_the_specific_hint(student, hint):
    feedback = to_symmetric_range.evaluate(student)
    assert feedback.status == WRONG and feedback.failed_case == 1
    assert "case 1" in feedback.message and hint in feedback.message


def test_wrong_on_a_later_case_names_that_case_and_values():
    def only_right_for_vectors(images):
        return 2 * images - 1 if images.ndim == 1 else images

    feedback = to_symmetric_range.evaluate(only_right_for_vectors)
    assert feedback.failed_case == 2
    assert "case 2" in feedback.message and "expected" in feedback.message and "got" in feedback.message


def test_a_crashing_solution_becomes_feedback(capsys):
    to_symmetric_range.check(lambda images: images / 0 + undefined_name)  # noqa: F821
    out = capsys.readouterr().out
    assert out.startswith("✗ to_symmetric_range: case 1") and "NameError" in out


def test_passing_the_result_instead_of_the_function():
    assert to_symmetric_range.evaluate(torch.zeros(3)).status == ERROR


def test_in_place_changes_by_the_student_do_not_corrupt_the_cases():
    def in_place(images):
        return images.mul_(2).sub_(1)

    assert to_symmetric_range.evaluate(in_place).status == PASSED
    assert to_symmetric_range.evaluate(in_place).status == PASSED


def test_none_on_a_later_case_is_a_missing_return():
    exercise = Exercise("double", lambda x: 2 * x, cases=[(1,), (2,)])
    feedback = exercise.evaluate(lambda x: 2 if x == 1 else None)
    assert feedback.status == WRONG and "return" in feedback.message


@pytest.mark.parametrize("expected, got, fragment", [
    (1.0, 1.0 + 1e-9, None),
    (1.0, 1.1, "expected 1 but got 1.1"),
    (1.0, "1.0", "expected a number"),
    (2.0, torch.tensor(2.0), None),
    (torch.zeros(3), np.zeros(3), None),
    (torch.zeros(3), [0, 0, 0], "expected a Tensor"),
    (torch.zeros(3), torch.zeros(1, 3), "expected shape (3,) but got shape (1, 3)"),
    (torch.tensor([1, 2]), torch.tensor([1, 3]), "expected"),
    ((1.0, torch.ones(2)), (1.0, torch.zeros(2)), "item 1"),
    ((1.0, 2.0), (1.0,), "2 items"),
    ("real", "fake", "expected 'real'"),
])
def test_compare(expected, got, fragment):
    problem = compare(expected, got)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem
