"""Notebook 11's checkers: the causal mask and the affine coupling pass their solutions and name the common mistakes;
the depth experiment's judge reads every kind of outcome."""

import pytest
import torch

from course_utils.models.pixelcnn import causal_mask
from course_utils.models.realnvp import AffineCoupling, mlp_net
from course_utils.teaching.exercises import ERROR, NOT_ATTEMPTED, WRONG
from course_utils.teaching.exercises import likelihood as exercises


def _stub(*args):
    raise NotImplementedError


def _my_mask(kernel_size, include_centre):
    mask, c = torch.zeros(kernel_size, kernel_size), kernel_size // 2
    mask[:c] = 1
    mask[c, :c + int(include_centre)] = 1
    return mask


def _my_coupling(x, mask, net):
    s, t = net(x * mask).chunk(2, dim=1)
    return x * mask + (1 - mask) * (x * torch.exp(s) + t), (s * (1 - mask)).sum(dim=1)


@pytest.mark.parametrize("exercise, solution", [(exercises.mask, _my_mask), (exercises.coupling, _my_coupling)],
                         ids=["mask", "coupling"])
def test_a_solution_passes_and_a_stub_is_not_attempted(exercise, solution):
    assert exercise.evaluate(solution).passed and exercise.evaluate(exercise.reference).passed
    for stub in (_stub, lambda *args: None):
        feedback = exercise.evaluate(stub)
        assert feedback.status == NOT_ATTEMPTED and "not attempted yet" in feedback.message, feedback.message


def test_the_mask_cases_cover_both_masks_and_several_sizes():
    assert {include for _, include in exercises.mask.cases} == {False, True}
    assert {size for size, _ in exercises.mask.cases} >= {3, 5, 7}


def test_a_mask_of_bools_or_ints_with_the_right_values_passes():
    assert exercises.mask.evaluate(lambda k, b: _my_mask(k, b).bool()).passed
    assert exercises.mask.evaluate(lambda k, b: _my_mask(k, b).long()).passed


def _parts(k, left, centre, right):
    """The rows above set to 1, and the centre row's left, centre and right as given."""
    mask, c = torch.zeros(k, k), k // 2
    mask[:c] = 1
    mask[c, :c], mask[c, c], mask[c, c + 1:] = left, centre, right
    return mask


@pytest.mark.parametrize("wrong, phrase", [
    (lambda k, b: _my_mask(k, True), "mask A (include_centre=False) leaves out the centre"),
    (lambda k, b: _my_mask(k, not b) if b else _my_mask(k, b), "mask B (include_centre=True) keeps the centre"),
    (lambda k, b: _my_mask(k, b).T, "that is the mask transposed: raster order runs row by row"),
    (lambda k, b: _my_mask(k, b).flip(0, 1), "looks at the pixels after the centre"),
    (lambda k, b: _parts(k, 1, 1, 1), "the whole centre row is 1"),                      # centre in, for mask A
    (lambda k, b: _parts(k, 1, float(b), 1), "the whole centre row is 1"),
    (lambda k, b: _parts(k, 0, float(b), 0), "the centre row's pixels left of the centre come before it"),
    (lambda k, b: _parts(k, 0, 0, 0) if b else _my_mask(k, b), "the centre row's pixels left of the centre come"),
    (lambda k, b: _my_mask(k, b)[None, None], "return a 3×3 tensor"),
    (lambda k, b: _my_mask(k, b).tolist(), "return a 3×3 tensor"),
])
def test_each_mask_mistake_gets_its_hint(wrong, phrase):
    feedback = exercises.mask.evaluate(wrong)
    assert feedback.status == WRONG and phrase in feedback.message.partition("Hint: ")[2], feedback.message


def test_an_undiagnosed_mask_gets_the_general_hint():
    feedback = exercises.mask.evaluate(lambda k, b: torch.ones(k, k))
    assert feedback.status == WRONG and f"Hint: {exercises.mask.hint}" in feedback.message, feedback.message


def _coupling_with(*, net_input=None, scale=torch.exp, inverse=False, keep=True, log_det_mask=True, batch_sum=False):
    """A coupling with one mistake switched on."""
    def coupling(x, mask, net):
        s, t = net(x * mask if net_input is None else net_input(x)).chunk(2, dim=1)
        changed = (x - t) * torch.exp(-s) if inverse else x * scale(s) + t
        z = x * mask + (1 - mask) * changed if keep else changed
        log_det = (s * (1 - mask) if log_det_mask else s).sum(dim=1)
        return z, log_det.sum() if batch_sum else log_det
    return coupling


@pytest.mark.parametrize("wrong, phrase", [
    (_coupling_with(log_det_mask=False), "add up s over the changed coordinates only"),
    (_coupling_with(scale=lambda s: torch.exp(-s)), "multiply by exp(s), not exp(−s)"),
    (_coupling_with(inverse=True), "that is the inverse, (x − t)·exp(−s)"),
    (_coupling_with(batch_sum=True), "one log-determinant per example, a tensor of shape (5,)"),
    (_coupling_with(keep=False), "the kept coordinates must pass unchanged"),
    (_coupling_with(net_input=lambda x: x), "the Jacobian would no longer be triangular"),
    (lambda x, mask, net: _my_coupling(x, mask, net)[0], "return two things"),
    (lambda x, mask, net: (0.5, _my_coupling(x, mask, net)[1]), "a tensor shaped like x, (5, 2)"),
])
def test_each_coupling_mistake_gets_its_hint(wrong, phrase):
    feedback = exercises.coupling.evaluate(wrong)
    assert feedback.status == WRONG and phrase in feedback.message.partition("Hint: ")[2], feedback.message


def test_a_complex_coupling_is_named_by_the_comparison_and_raises_no_warning(recwarn):
    feedback = exercises.coupling.evaluate(lambda x, mask, net: tuple(item + 0j for item in _my_coupling(x, mask, net)))
    assert feedback.status == WRONG and "expected a real-valued tensor" in feedback.message, feedback.message
    assert not recwarn.list, [str(warning.message) for warning in recwarn.list]     # no "discards the imaginary part"


def test_an_undiagnosed_coupling_gets_the_general_hint():
    def shifted(x, mask, net):
        z, log_det = _my_coupling(x, mask, net)
        return z + 1, log_det

    feedback = exercises.coupling.evaluate(shifted)
    assert feedback.status == WRONG and f"Hint: {exercises.coupling.hint}" in feedback.message, feedback.message


def test_the_coupling_cases_change_values_and_agree_with_the_library_at_small_scales():
    for x, mask, net in exercises.coupling.cases:
        z, log_det = exercises.coupling.reference(x, mask, net)
        assert log_det.shape == (len(x),) and log_det.abs().min() > 1e-3, "s ≠ 0, so a forgotten mask shows"
        assert torch.equal(z * mask, x * mask)
    torch.manual_seed(0)
    library = AffineCoupling(torch.tensor([[1.0, 0.0]]), mlp_net(2, 8))
    with torch.no_grad():
        library.net[-1].weight.normal_(std=1e-3)                     # s ≈ 1e-3: tanh's bound is the identity there
    x = torch.randn(6, 2)
    z, log_det = library(x)
    expected_z, expected_log_det = exercises.coupling.reference(x, library.mask, library.net)
    assert torch.allclose(z, expected_z, atol=1e-6) and torch.allclose(log_det, expected_log_det, atol=1e-6)


def test_the_mask_reference_is_the_library_mask():
    assert exercises.mask.reference is causal_mask


def _outcome(layers, nll, seconds, *, reference_layers=8, reference_nll=100.0):
    return {"layers": layers, "test_nll": nll, "rows_seen": layers + 1, "seconds": seconds,
            "reference": {"layers": reference_layers, "test_nll": reference_nll, "rows_seen": reference_layers + 1,
                          "seconds": 20.0}}


@pytest.mark.parametrize("outcome, passed, phrases", [
    (_outcome(8, 100.0, 20.0), False, ["the same as the reference", "try 2 or 12"]),
    (_outcome(2, 112.4, 6.0), True, ["112.4 nats", "100.0 nats", "sees 3 rows above it (9 at 8)", "worse by 12.4 nats",
                                     "3.3 times faster", "k // 2 rows further up"]),
    (_outcome(2, 96.5, 6.0), True, ["96.5 nats", "better by 3.5 nats", "learns its short view sooner",
                                    "a longer training typically reverses it"]),
    (_outcome(12, 95.2, 32.0), True, ["95.2 nats", "sees 13 rows above it (9 at 8)", "better by 4.8 nats",
                                      "1.6 times slower"]),
    (_outcome(12, 104.0, 32.0), True, ["104.0 nats", "worse by 4.0 nats", "the same few steps", "pull ahead"]),
    (_outcome(12, float("nan"), 32.0), False, ["diverged"]),
])
def test_the_depth_judge_reads_each_kind_of_outcome(outcome, passed, phrases):
    feedback = exercises.depth_experiment.evaluate(outcome)
    assert feedback.passed == passed, feedback.message
    for phrase in phrases:
        assert phrase in feedback.message, feedback.message


def test_the_depth_experiment_not_run_or_unreadable_is_feedback_not_a_raise():
    assert exercises.depth_experiment.evaluate(None).status == NOT_ATTEMPTED
    missing = _outcome(2, 112.4, 6.0)
    del missing["rows_seen"]
    assert "could not read the outcome (KeyError: 'rows_seen')" in exercises.depth_experiment.evaluate(missing).message
    for outcome in (missing, [2, 112.4], {"layers": 2}, {**_outcome(2, 112.4, 6.0), "reference": None}):
        feedback = exercises.depth_experiment.evaluate(outcome)
        assert feedback.status == ERROR and "could not read the outcome" in feedback.message, feedback.message
        assert exercises.depth_experiment.expects in feedback.message
