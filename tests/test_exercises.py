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


@pytest.mark.parametrize("expected, got, fragment", [
    (torch.zeros(5, 4), torch.zeros(5, 4).index_put((torch.tensor(2), torch.tensor(3)), torch.tensor(0.5)),
     "1 of 20 entries differ, the first at [2, 3] (expected 0, got 0.5)"),
    (torch.arange(20).view(5, 4), torch.arange(20).view(5, 4) * torch.tensor([1, 1, 1, 0]),
     "5 of 20 entries differ, the first at [0, 3] (expected 3, got 0)"),
    (torch.arange(20).view(5, 4) > 9, torch.arange(20).view(5, 4) > 7, "2 of 20 entries differ, the first at [2, 0] "
                                                                        "(expected False, got True)"),
    (np.zeros((5, 4)), np.array([[0, 0.1, 0, 0], [0] * 4, [0, 0, -2, 0], [0] * 4, [0] * 4]),
     "2 of 20 entries differ, the first at [0, 1] (expected 0, got 0.1), the largest at [2, 2] (expected 0, got -2)"),
])
def test_a_wrong_value_of_the_right_shape_says_which_entries_differ(expected, got, fragment):
    problem = compare(expected, got)
    assert fragment in problem and "shape (5, 4) is right" in problem
    assert "got tensor of shape" not in problem and "got array of shape" not in problem     # not the shape twice


def test_notebook_exercises_say_where_a_wrong_tensor_differs():
    from course_utils.teaching.exercises.dcgan import spherical_interpolation
    from course_utils.teaching.exercises.wasserstein import conditional_batch_norm

    def lerp(z0, z1, t):
        return (1 - t[:, None]) * z0 + t[:, None] * z1

    def plain_normalisation(x, labels, gamma, beta):
        variance = x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
        return (x - x.mean(dim=(0, 2, 3), keepdim=True)) / (variance + 1e-5).sqrt()

    lerp_on_5x4 = Exercise("slerp", spherical_interpolation.reference, spherical_interpolation.cases[2:3], rtol=1e-4)
    for feedback in (lerp_on_5x4.evaluate(lerp), conditional_batch_norm.evaluate(plain_normalisation)):
        assert feedback.status == WRONG and "entries differ, the first at [" in feedback.message, feedback.message


# --- 04: the gradient of the two generator losses at D's logit ---

def _right_loss(d_fake):
    return -torch.log(d_fake).mean()


def test_logit_gradient_goes_through_the_sigmoid():
    from course_utils.teaching.exercises.gan import logit_gradient

    assert logit_gradient(_right_loss) == pytest.approx(-0.999)                       # −(1 − D)
    assert logit_gradient(lambda d: torch.log(1 - d).mean()) == pytest.approx(-0.001)  # −D
    assert logit_gradient(_right_loss, d_fake=0.5) == pytest.approx(-0.5)


@pytest.mark.parametrize("predicted, loss, status, fragment", [
    ((-0.001, -0.999), _right_loss, PASSED, "a thousand times more weakly"),
    ((0, -1), _right_loss, PASSED, "a thousand times more weakly"),
    ((-0.999, -0.001), _right_loss, WRONG, "You swapped them"),
    ((-1.0, -1000), _right_loss, WRONG, "with respect to the probability D"),
    ((0.001, 0.999), _right_loss, WRONG, "Mind the sign"),
    ((-0.5, -0.5), _right_loss, WRONG, "Hint: ∂/∂ℓ log(1 − σ(ℓ)) = −σ(ℓ)"),
    ((-0.001, -0.999), lambda d: torch.log(1 - d).mean(), WRONG, "make part (a) pass first"),
    ((-0.001, -0.999), lambda d: None, WRONG, "finish part (a)"),
    ((-0.001,), _right_loss, WRONG, "predict two numbers"),
])
def test_logit_gradient_judge_measures_the_students_loss_and_names_the_mistake(predicted, loss, status, fragment):
    from course_utils.teaching.exercises.gan import logit_gradients

    feedback = logit_gradients.evaluate({"predicted": predicted, "loss": loss})
    assert feedback.status == status and fragment in feedback.message, feedback.message


def test_logit_gradient_experiment_not_run_yet():
    from course_utils.teaching.exercises.gan import logit_gradients

    assert logit_gradients.evaluate(None).status == NOT_ATTEMPTED
