"""Notebook 12's checkers: the vector quantizer and the VQ losses pass their solutions, check where the gradients go
as well as the values, and name the common mistakes; the codebook experiment's judge reads every kind of outcome, and
one real short run hands it what it expects."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_utils.models.vqvae import VectorQuantizer, vq_losses
from course_utils.teaching.exercises import ERROR, NOT_ATTEMPTED, WRONG
from course_utils.teaching.exercises import discrete as exercises


def _stub(*args):
    raise NotImplementedError


def _my_quantize(z, codebook):
    flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
    distances = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codebook.T + codebook.pow(2).sum(1)
    indices = distances.argmin(1).view(z.shape[0], z.shape[2], z.shape[3])
    z_q = codebook[indices].permute(0, 3, 1, 2)
    return indices, z + (z_q - z).detach()


def _my_losses(z_e, z_q):
    return ((z_q - z_e.detach()) ** 2).mean(), ((z_e - z_q.detach()) ** 2).mean()


@pytest.mark.parametrize("exercise, solution", [(exercises.quantize, _my_quantize), (exercises.losses, _my_losses)],
                         ids=["quantize", "losses"])
def test_a_solution_passes_and_a_stub_is_not_attempted(exercise, solution):
    assert exercise.evaluate(solution).passed and exercise.evaluate(exercise.reference).passed
    for stub in (_stub, lambda *args: None):
        feedback = exercise.evaluate(stub)
        assert feedback.status == NOT_ATTEMPTED and "not attempted yet" in feedback.message, feedback.message
    assert exercise.evaluate(solution(*exercise.cases[0])).status == ERROR       # the result, not the function


def test_the_quantizer_reference_is_the_library_quantizer_and_its_cases_have_clear_winners():
    for z, codebook in exercises.quantize.cases:
        quantizer = VectorQuantizer(*codebook.shape)
        with torch.no_grad():
            quantizer.codebook.copy_(codebook)
        indices, z_straight = exercises.quantize.reference(z, codebook)
        assert torch.equal(indices, quantizer.nearest(z))
        assert torch.allclose(z_straight, quantizer.lookup(indices)) and torch.allclose(z_straight, quantizer(z)[0])
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        nearest_two = torch.cdist(flat, codebook).topk(2, largest=False).values
        assert (nearest_two[:, 1] - nearest_two[:, 0]).min() > 1e-3         # no near ties: any correct formula agrees
        lengths = codebook.norm(dim=1)
        assert lengths.max() > 3 * lengths.min()                           # so the missing ‖e‖² changes the choice


def _quantize_with(*, pick="argmin", score=None, flatten=None, straight="detach", place="permute"):
    """A quantizer with one mistake switched on."""
    def quantize(z, codebook):
        n, d, h, w = z.shape
        flat = flatten(z) if flatten else z.permute(0, 2, 3, 1).reshape(-1, d)
        scores = score(flat, codebook) if score else torch.cdist(flat, codebook)
        indices = getattr(scores, pick)(1).view(n, h, w)
        looked_up = codebook[indices]
        z_q = {"permute": lambda: looked_up.permute(0, 3, 1, 2), "view": lambda: looked_up.reshape(z.shape),
               "none": lambda: looked_up}[place]()
        return indices, {"detach": lambda: z + (z_q - z).detach(), "none": lambda: z_q, "cancel": lambda: z + (z_q - z),
                         "unchanged": lambda: z, "twice": lambda: 2 * z + (z_q - 2 * z).detach(),
                         "reversed": lambda: z_q + (z - z_q).detach()}[straight]()
    return quantize


@pytest.mark.parametrize("wrong, phrase", [
    (_quantize_with(pick="argmax"), "those are the farthest codes"),
    (_quantize_with(score=lambda v, e: -2 * v @ e.T), "a dot product alone is not a distance"),
    (_quantize_with(score=lambda v, e: v.pow(2).sum(1, keepdim=True) - 2 * v @ e.T), "without ‖e‖² the longest"),
    (_quantize_with(score=lambda v, e: e.pow(2).sum(1) + 2 * v @ e.T), "mind the sign of the cross term"),
    (_quantize_with(flatten=lambda z: z.reshape(-1, z.shape[1])), "Move the channels last first"),
    (_quantize_with(flatten=lambda z: z.transpose(1, 3).reshape(-1, z.shape[1])), "use permute(0, 2, 3, 1)"),
    (_quantize_with(straight="none"), "no gradient reaches z"),
    (_quantize_with(straight="cancel"), "the two z's cancel"),
    (_quantize_with(straight="unchanged"), "nothing was quantized"),
    (_quantize_with(straight="reversed"), "nothing was quantized"),
    (_quantize_with(straight="twice"), "must be exactly the gradient that arrives"),
    (_quantize_with(place="view"), "the right codes, in the wrong places"),
    (_quantize_with(place="none", straight="none"), "move the code vectors back to the channels"),
    (lambda z, e: (_my_quantize(z, e)[0].flatten(), _my_quantize(z, e)[1]), "shaped N×H×W = (2, 4, 4)"),
    (lambda z, e: (_my_quantize(z, e)[0][:, None], _my_quantize(z, e)[1]), "shaped N×H×W = (2, 4, 4)"),
    (lambda z, e: (_my_quantize(z, e)[0].float(), _my_quantize(z, e)[1]), "the indices are whole numbers"),
    (lambda z, e: (_my_quantize(z, e)[0], _my_quantize(z, e)[1][0]), "z_straight is shaped like z"),
    (lambda z, e: _my_quantize(z, e)[1], "return two things, in this order"),
    (lambda z, e: (*_my_quantize(z, e), None), "return two things, in this order"),
])
def test_each_quantizer_mistake_gets_its_hint(wrong, phrase):
    feedback = exercises.quantize.evaluate(wrong)
    assert feedback.status == WRONG and phrase in feedback.message.partition("Hint: ")[2], feedback.message


def test_a_quantizer_without_a_gradient_is_told_so_by_name():
    feedback = exercises.quantize.evaluate(_quantize_with(straight="none"))
    assert "case 1" in feedback.message and "the gradient that reaches z: expected a Tensor" in feedback.message
    feedback = exercises.quantize.evaluate(_quantize_with(straight="cancel"))
    assert "the gradient that reaches z: the shape (2, 3, 4, 4) is right" in feedback.message, feedback.message
    feedback = exercises.quantize.evaluate(_quantize_with(pick="argmax"))
    assert "case 1 with (tensor of shape (2, 3, 4, 4), tensor of shape (6, 3)): the indices:" in feedback.message


def test_an_undiagnosed_quantizer_gets_the_general_hint():
    def shifted(z, codebook):
        indices, z_straight = _my_quantize(z, codebook)
        return (indices + 1) % len(codebook), z_straight

    feedback = exercises.quantize.evaluate(shifted)
    assert feedback.status == WRONG and f"Hint: {exercises.quantize.hint}" in feedback.message, feedback.message


def _losses_with(*, codebook_detach="e", commitment_detach="q", reduce=torch.mean, order=1):
    """VQ losses with one mistake switched on: which side each loss detaches ("e", "q", "both" or ""), the
    reduction, and the order they are returned in."""
    def side(value, name, detach):
        return value.detach() if detach in (name, "both") else value

    def losses(z_e, z_q):
        codebook = reduce((side(z_q, "q", codebook_detach) - side(z_e, "e", codebook_detach)) ** 2)
        commitment = reduce((side(z_e, "e", commitment_detach) - side(z_q, "q", commitment_detach)) ** 2)
        return (codebook, commitment)[::order]
    return losses


@pytest.mark.parametrize("wrong, phrase", [
    (_losses_with(codebook_detach="q", commitment_detach="e"), "the stop-gradients are swapped"),
    (_losses_with(order=-1), "the stop-gradients are swapped (or the two losses are returned in the wrong order)"),
    (_losses_with(codebook_detach="", commitment_detach=""), "the two losses are one and the same MSE"),
    (_losses_with(reduce=torch.sum), "times too large, the number of entries"),
    (_losses_with(codebook_detach="both", commitment_detach="both"), "neither loss sends any gradient"),
    (lambda z_e, z_q: tuple(loss.item() for loss in vq_losses(z_e, z_q)), "no .item()"),
    (_losses_with(codebook_detach=""), "the codebook loss must not move the encoder"),
    (_losses_with(commitment_detach=""), "the commitment loss must not move the codes"),
    (_losses_with(reduce=lambda x: x), "is one number: the mean of the squared differences"),
    (lambda z_e, z_q: vq_losses(z_e, z_q)[0], "return two things, in this order"),
])
def test_each_loss_mistake_gets_its_hint(wrong, phrase):
    feedback = exercises.losses.evaluate(wrong)
    assert feedback.status == WRONG and phrase in feedback.message.partition("Hint: ")[2], feedback.message


def test_the_loss_feedback_names_the_gradient_that_went_astray():
    feedback = exercises.losses.evaluate(_losses_with(codebook_detach="q", commitment_detach="e"))
    assert "the gradient the codebook loss sends to z_e: " in feedback.message, feedback.message
    assert exercises.losses.evaluate(lambda z_e, z_q: (F.mse_loss(z_q, z_e.detach()),
                                                       F.mse_loss(z_e, z_q.detach()))).passed


def test_an_undiagnosed_loss_gets_the_general_hint():
    feedback = exercises.losses.evaluate(_losses_with(reduce=lambda x: x.sqrt().mean()))
    assert feedback.status == WRONG and f"Hint: {exercises.losses.hint}" in feedback.message, feedback.message


def _run(size, mse, usage, perplexity, seconds=10.0):
    return {"codebook_size": size, "mse": mse, "usage": usage, "perplexity": perplexity, "seconds": seconds}


def _outcome(size, mse, usage, perplexity, seconds=10.0):
    return {**_run(size, mse, usage, perplexity, seconds), "reference": _run(64, 0.020, 0.75, 30.0)}


@pytest.mark.parametrize("outcome, passed, phrases", [
    (_outcome(64, 0.02, 0.75, 30.0), False, ["the same as the reference", "try 8 or 256"]),
    (_outcome(8, float("nan"), 1.0, 7.0), False, ["diverged"]),
    (_outcome(8, 0.035, 1.0, 7.2), True, ["K = 8: pixel MSE 0.0350", "(K = 64: 0.0200)",
                                          "8 of 8 codes in use (48 of 64)",
                                          "The copies are coarser: the MSE is 75% higher", "All 8 codes are in use",
                                          "147 bits at K = 8 (294 at K = 64)", "90% of K", "about as fast as"]),
    (_outcome(8, 0.016, 0.625, 4.0), True, ["Yet the MSE came out 20% lower", "Only 5 of the 8 codes are in use"]),
    (_outcome(8, 0.0202, 1.0, 7.0), True, ["about the same (+1%)"]),
    (_outcome(256, 0.015, 0.25, 70.0, 12.5), True, ["Only 25% of the codes are in use (64 of 256) against 75%",
                                                    "dead codes", "The perplexity rose from 30.0 to 70.0",
                                                    "finer copies: the MSE is 25% lower", "1.2 times slower than",
                                                    "says more about the machine's load"]),
    (_outcome(256, 0.024, 0.25, 29.0), True, ["dead codes", "The perplexity did not rise (29.0 against 30.0)",
                                              "Yet the MSE is 20% higher"]),
    (_outcome(256, 0.0199, 1.0, 120.0), True, ["All 256 codes are in use", "The MSE barely moved (-0%)"]),
    (_outcome(128, 0.019, 0.76, 50.0), True, ["about the share at K = 64 (75%)"]),
    (_outcome(1, 0.07, 1.0, 1.0), True, ["every digit becomes the same grid", "at most 49·log2 K = 0 bits"]),
])
def test_the_codebook_judge_reads_each_kind_of_outcome(outcome, passed, phrases):
    feedback = exercises.codebook_experiment.evaluate(outcome)
    assert feedback.passed == passed, feedback.message
    for phrase in phrases:
        assert phrase in feedback.message, feedback.message


def test_the_codebook_experiment_not_run_or_unreadable_is_feedback_not_a_raise():
    assert exercises.codebook_experiment.evaluate(None).status == NOT_ATTEMPTED
    missing = _outcome(8, 0.03, 1.0, 7.0)
    del missing["perplexity"]
    assert "(KeyError: 'perplexity')" in exercises.codebook_experiment.evaluate(missing).message
    for outcome in (missing, [8, 0.03], {"codebook_size": 8}, {**_outcome(8, 0.03, 1.0, 7.0), "reference": None}):
        feedback = exercises.codebook_experiment.evaluate(outcome)
        assert feedback.status == ERROR and "could not read the outcome" in feedback.message, feedback.message
        assert exercises.codebook_experiment.expects in feedback.message


def test_a_short_real_run_hands_the_judge_what_it_reads():
    state = torch.random.get_rng_state()
    result = exercises.run_codebook_experiment(8, images_seen=1_000, device="cpu")
    assert torch.equal(torch.random.get_rng_state(), state)                 # the caller's random state is kept
    assert set(result) == {"codebook_size", "mse", "usage", "perplexity", "seconds"} and result["codebook_size"] == 8
    assert math.isfinite(result["mse"]) and 0 <= result["mse"] <= 1
    assert 0 < result["usage"] <= 1 and 1 <= result["perplexity"] <= 8 + 1e-4 and result["seconds"] > 0
    reference = {**result, "codebook_size": 64}
    assert exercises.codebook_experiment.evaluate({**result, "reference": reference}).passed
