"""Issue 34: every recipe's step on the capture path, checked on the CPU.

A CUDA graph replays the GPU work of one step, so a step can be captured only if it never waits for the GPU on the
host and does the same work with the same Python numbers at every call. The audit (``course_utils.engine.
capture_audit``) watches every ATen operation of a step; these tests show that it catches each way a step can break
those rules, that the engine keeps learning-rate schedules and periodic work outside the step, and that every recipe
that says it can be captured passes the audit (and every one that says it cannot says why).
"""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from course_utils.engine.capture_audit import AUDITED_CALLS, audited, auditing_capture
from course_utils.engine.captured import CapturedStep, adam, schedule_stepper
from course_utils.engine.data import Minibatches, check_labels, labels_checked_at_entry
from course_utils.engine.train import train
from course_utils.training.vqvae import code_counts
from test_engine_contract import RECIPES, digits


def audit_of(make_step, *, schedule=None, after_step=None, optimizer_factory=None):
    """Run ``make_step(net, optimizer)`` under audit on a tiny regression; return the one audit found."""
    torch.manual_seed(0)
    net = nn.Linear(4, 1)
    optimizer = (optimizer_factory or (lambda params: adam(params, device="cpu", lr=1e-2)))(net.parameters())
    schedule = schedule(optimizer) if schedule else None
    with auditing_capture() as found:
        train(make_step(net, optimizer), Minibatches(torch.randn(96, 4), batch_size=8), 2, model=net,
              schedule=schedule, after_step=after_step, progress=False)
    assert len(found) == 1 and found[0].calls == AUDITED_CALLS
    return found[0]


def plain_step(net, optimizer, transform=lambda x: x, extra=lambda x: {}):
    def step(x):
        loss = net(transform(x)).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss, **extra(x)}
    return step


def test_a_plain_step_can_be_captured():
    assert audit_of(plain_step).blockers == []


@pytest.mark.parametrize("extra, words", [
    (lambda x: {"host": torch.tensor(x.sum().item())}, ".item()"),
    (lambda x: {"positive": x[x > 0].sum()}, "boolean mask"),
    (lambda x: {"nonzero": x.nonzero().float().sum()}, "nonzero()"),
    (lambda x: {"counts": torch.bincount((x[:, 0] > 0).long(), minlength=2).sum()}, "scatter_add_"),
    (lambda x: {"made": x.sum() + torch.tensor(2.0)}, "torch.tensor"),
    (lambda x: {"unique": torch.unique(x.round()).sum()}, "unique()"),
])
def test_work_that_waits_for_the_gpu_on_the_host_is_found_and_named(extra, words):
    blockers = audit_of(lambda net, opt: plain_step(net, opt, extra=extra)).blockers
    assert any(words in blocker for blocker in blockers), blockers


def test_a_branch_on_a_step_counter_is_found():
    calls = [0]

    def make(net, optimizer):
        inner = plain_step(net, optimizer)

        def step(x):
            calls[0] += 1
            return inner(x) if calls[0] % 3 else {"loss": net(x).sum().detach()}
        return step

    (blocker,) = audit_of(make).blockers
    assert "does not repeat the same work" in blocker and "call 2" in blocker


def test_a_python_random_number_in_the_step_is_found():
    random.seed(0)
    (blocker,) = audit_of(lambda net, opt: plain_step(net, opt, transform=lambda x: x * random.random())).blockers
    assert "does not repeat the same work" in blocker and "aten.mul" in blocker


def test_a_schedule_stepped_inside_the_step_is_found_and_one_handed_to_the_engine_is_not():
    lambdas = lambda optimizer: torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 / (1 + s))  # noqa: E731

    def make(net, optimizer):
        inner, schedule = plain_step(net, optimizer), lambdas(optimizer)

        def step(x):
            values = inner(x)
            schedule.step()
            return values
        return step

    (blocker,) = audit_of(make).blockers
    assert "learning rate changes inside the step" in blocker and "schedule=" in blocker
    assert audit_of(plain_step, schedule=lambdas).blockers == []


def test_a_schedule_that_also_cycles_adams_beta1_is_found():
    (blocker,) = audit_of(plain_step, schedule=lambda optimizer: torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.1, total_steps=30)).blockers
    assert "betas change between steps" in blocker


@pytest.mark.parametrize("captured_already", [False, True])
def test_a_step_whose_schedule_changes_more_than_the_rate_is_not_captured_or_stops(captured_already):
    """On CUDA the engine would freeze β₁ in the graph: before capture the step stays eager (with a warning), after it
    training stops; a schedule of the rate alone goes on."""
    optimizer = torch.optim.Adam(nn.Linear(2, 1).parameters(), lr=0.1)
    step = CapturedStep(lambda x: {})
    step.graph = object() if captured_already else None
    advance = schedule_stepper(torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10), step)
    optimizer.step()                                          # no gradients: only the schedule moves anything
    if captured_already:
        with pytest.raises(RuntimeError, match="training stopped: the learning-rate schedule also changes betas"):
            advance()
    else:
        with pytest.warns(UserWarning, match="also changes betas.*runs eagerly"):
            advance()
        assert step.failed
    calm = CapturedStep(lambda x: {})
    advance = schedule_stepper(torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5), calm)
    optimizer.step()
    advance()
    assert not calm.failed


def test_an_optimiser_not_made_for_capture_is_found():
    (blocker,) = audit_of(plain_step, optimizer_factory=lambda params: torch.optim.Adam(params, lr=1e-2)).blockers
    assert "capturable=True" in blocker


def test_outside_an_audit_the_step_is_left_alone():
    def step(x):
        return {}
    assert audited(step, "anything", capture=True) is step


def test_after_step_runs_outside_the_step_every_step_and_its_values_are_logged():
    seen = []

    def every_fourth(step_number):
        seen.append(step_number)
        return {"marker": torch.tensor(float(step_number))} if step_number % 4 == 0 else None

    net = nn.Linear(4, 1)
    history = train(plain_step(net, adam(net.parameters(), device="cpu", lr=1e-2)),
                    Minibatches(torch.randn(64, 4), batch_size=8), 1, model=net, after_step=every_fourth,
                    log_every=8, progress=False)
    assert seen == list(range(1, 9))
    assert history["marker"] == [6.0], "the mean of the values at steps 4 and 8, logged at step 8"
    assert audit_of(plain_step, after_step=every_fourth).blockers == []


def test_a_schedule_handed_to_the_engine_trains_exactly_as_one_stepped_inside_the_step():
    def run(inside: bool):
        torch.manual_seed(0)
        net = nn.Linear(4, 1)
        optimizer = adam(net.parameters(), device="cpu", lr=0.1)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=12)
        inner = plain_step(net, optimizer)

        def step(x):
            values = inner(x)
            if inside:
                schedule.step()
            return values
        torch.manual_seed(1)
        train(step, Minibatches(torch.randn(96, 4), batch_size=8), 1, model=net,
              schedule=None if inside else schedule, progress=False)
        return torch.cat([p.detach().flatten() for p in net.parameters()])

    assert torch.equal(run(inside=True), run(inside=False))


@pytest.mark.parametrize("several", [False, True])
def test_for_a_graph_the_learning_rate_becomes_one_tensor_that_follows_the_schedule(several):
    """What a captured step reads at every replay: the same tensor, holding the rate the schedule set."""
    optimizers = [torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.5) for _ in range(2 if several else 1)]
    schedules = [torch.optim.lr_scheduler.LambdaLR(o, lambda s: 1 / (1 + s)) for o in optimizers]
    tensors = None
    advance = schedule_stepper(schedules if several else schedules[0], CapturedStep(lambda x: {}))
    for steps in range(1, 5):
        for optimizer in optimizers:
            optimizer.step()                                  # no gradients: only the schedule moves anything
        advance()
        rates = [group["lr"] for o in optimizers for group in o.param_groups]
        assert all(isinstance(rate, torch.Tensor) for rate in rates)
        tensors = tensors or rates
        assert all(rate is first for rate, first in zip(rates, tensors)), "the tensor the graph reads stays the same"
        assert [rate.item() for rate in rates] == pytest.approx([0.5 / (1 + steps)] * len(rates))


def test_without_a_graph_the_schedule_steps_as_usual():
    optimizer = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.5)
    advance = schedule_stepper(torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 ** s))
    optimizer.step()
    advance()
    assert optimizer.param_groups[0]["lr"] == 0.25
    schedule_stepper(None, CapturedStep(lambda x: {}))()     # no schedule: nothing to do


def test_labels_checked_at_the_entry_are_not_read_again_inside_the_steps():
    wrong = torch.tensor([3, 12])
    with pytest.raises(ValueError, match="0 … 9"):
        check_labels(wrong, 2)
    with labels_checked_at_entry():
        assert check_labels(wrong, 2) is wrong
        with pytest.raises(ValueError, match="integer class indices"):
            check_labels(wrong.float(), 2)                    # dtype and shape are still checked (no host read)
    with pytest.raises(ValueError, match="0 … 9"):
        check_labels(wrong, 2)


def test_code_counts_are_bincounts_without_the_wait():
    indices = torch.randint(0, 8, (5, 7, 7))
    assert torch.equal(code_counts(indices, 12), torch.bincount(indices.flatten(), minlength=12))


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_DATA", "bundled")


@pytest.mark.parametrize("recipe_class", RECIPES, ids=lambda cls: cls.__name__)
def test_every_recipe_asks_for_capture_exactly_when_its_step_passes_the_audit(recipe_class, quick, capsys):
    recipe = recipe_class()
    torch.manual_seed(0)
    model = recipe.build()
    images, labels = digits(recipe)
    with auditing_capture() as found:
        recipe.train_on(model, images, labels if recipe.uses_labels else None, progress=False)
    assert found, f"{recipe_class.__name__} trains without the engine"
    for audit in found:
        assert audit.capture == recipe.capturable, f"{audit.description}: the recipe's capturable is not passed on"
        if recipe.capturable:
            assert audit.blockers == [], str(audit)
        else:
            assert len(recipe.not_captured_because) > 40, f"{recipe_class.__name__} must say why it is not captured"


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CAPTURABLE = [cls for cls in RECIPES if cls.capturable]


@needs_cuda
def test_on_cuda_a_captured_step_follows_the_learning_rate_schedule_exactly_as_the_eager_one():
    def run(capture: bool):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1)).cuda()
        optimizer = torch.optim.Adam(net.parameters(), lr=0.05, capturable=True, fused=True)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 10) * (1 - s / 40))
        torch.manual_seed(1)
        data = torch.randn(320, 4, device="cuda")
        history = train(plain_step(net, optimizer), Minibatches(data, batch_size=8), 1, model=net, schedule=schedule,
                        capture=capture, progress=False)
        return history, torch.cat([p.detach().flatten() for p in net.parameters()])

    (eager, eager_weights), (graphed, graphed_weights) = run(False), run(True)
    assert (eager.mode, graphed.mode) == ("eager", "CUDA graph")
    assert torch.allclose(graphed_weights, eager_weights, rtol=1e-4, atol=1e-6), "the graph read a stale learning rate"
    assert graphed["loss"] == pytest.approx(eager["loss"], rel=1e-4)


@needs_cuda
@pytest.mark.parametrize("recipe_class", CAPTURABLE, ids=lambda cls: cls.__name__)
def test_on_cuda_every_capturable_recipe_trains_as_a_cuda_graph(recipe_class, quick, capsys):
    recipe = recipe_class()
    torch.manual_seed(0)
    model = recipe.build().cuda()
    images, labels = (t.cuda() for t in digits(recipe))
    history = recipe.train_on(model, images, labels if recipe.uses_labels else None, progress=False)
    assert history.mode == "CUDA graph", f"{recipe_class.__name__} ran eagerly: {capsys.readouterr()}"
    assert all(torch.isfinite(torch.tensor(values)).all() for values in history.values())
