import math
import os

import pytest
import torch

from course_utils.engine.data import Minibatches
from course_utils.engine.train import History, TrainingDiverged, check_finite, train


def linear_problem(seed=0):
    rng = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 3, generator=rng)
    y = x @ torch.tensor([2.0, -1.0, 0.5]) + 0.3
    return x, y


def test_training_lowers_the_loss_and_logs_every_n_steps():
    torch.manual_seed(0)
    x, y = linear_problem()
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(xb, yb):
        loss = ((model(xb).squeeze(1) - yb) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss}

    history = train(step, Minibatches(x, y, batch_size=32), epochs=5, log_every=4, progress=False)
    assert history.steps == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
    assert len(history["loss"]) == 10
    assert history["loss"][-1] < 0.01 * history["loss"][0]
    assert history.last("loss") == history["loss"][-1]
    assert history.seconds > 0 and history.cpu_seconds > 0 and not history.interrupted, "every run records its time"


def test_partial_logging_window_is_flushed_at_epoch_end_and_epoch_callback_runs():
    seen = []
    history = train(lambda b: {"value": float(b.sum())}, Minibatches(torch.ones(10), batch_size=4, shuffle=False),
                    epochs=2, log_every=100, progress=False, on_epoch_end=lambda epoch, h: seen.append((epoch, len(h.steps))))
    assert history.steps == [3, 6]
    assert history["value"] == pytest.approx([10 / 3, 10 / 3])
    assert seen == [(0, 1), (1, 2)]


def test_nan_loss_raises_with_advice():
    calls = {"n": 0}

    def step(batch):
        calls["n"] += 1
        return {"loss": torch.tensor(float("nan") if calls["n"] == 7 else 1.0)}

    with pytest.raises(TrainingDiverged, match=r"step 10: loss = nan.*smaller learning rate"):
        train(step, Minibatches(torch.zeros(20), batch_size=1), epochs=1, log_every=5, progress=False)


def test_interrupt_keeps_what_was_learned(capsys):
    calls = {"n": 0}

    def step(batch):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return {"loss": torch.tensor(float(calls["n"]))}

    history = train(step, Minibatches(torch.zeros(100), batch_size=1), epochs=1, log_every=5, progress=False)
    assert history.interrupted
    assert history.steps == [5, 7] and history["loss"] == pytest.approx([3.0, 6.5])
    assert "Interrupted after 7 steps" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, message", [({"epochs": -1}, "epochs"), ({"epochs": 1, "log_every": 0}, "log_every")])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train(lambda b: {}, [1], **kwargs)


def test_check_finite():
    check_finite({"a": 1.0, "b": -2.0}, step=3)
    with pytest.raises(TrainingDiverged, match="b = inf"):
        check_finite({"a": 1.0, "b": math.inf}, step=3)


def test_history_last_of_missing_key():
    with pytest.raises(KeyError, match="nothing logged"):
        History().last("loss")


def run_logged(values, log_every=5):
    """Train on a step that returns the given losses one by one (a scripted run), logging every ``log_every`` steps."""
    script = iter(values)
    return train(lambda batch: {"loss": torch.tensor(next(script))}, Minibatches(torch.zeros(len(values)), batch_size=1,
                 shuffle=False), epochs=1, log_every=log_every, progress=False)


def test_a_finite_blow_up_stops_with_the_same_advice_as_nan():
    with pytest.raises(TrainingDiverged, match=r"by step 10: loss reached 5e\+03, over 1000× its size at the first "
                                               r"step \(2\.3\).*smaller learning rate.*images must be in \[0, 1\]"):
        run_logged([2.3] * 6 + [5000.0] + [2.3] * 13)


def test_one_step_that_blows_up_is_caught_even_when_its_window_averages_below_the_limit():
    with pytest.raises(TrainingDiverged, match="loss reached 1e\\+04"):
        run_logged([2.3, 10_000.0] + [0.01] * 18, log_every=20)


@pytest.mark.parametrize("values", [
    [550.0, 400.0, 250.0, 120.0, 100.0] * 4,             # a VAE's loss falling by nats
    [1.4, 0.3, 4.0, 0.01, 9.0] * 4,                      # a GAN's losses swinging by factors of a few
    [0.1, 5.0, 43.0, 30.0, 25.0] * 4,                    # a KL term that starts near 0 (the floor of 1 applies)
    [0.0, -2.0, 3.0, -8.0, 1.0] * 4,                     # a hinge g_loss: signed, starting at 0
])
def test_healthy_runs_raise_no_false_alarm(values):
    history = run_logged(values)
    assert history.steps == [5, 10, 15, 20] and history.initial == {"loss": pytest.approx(abs(values[0]))}


# --- Two trainings at once share the cores ---

def test_a_cpu_training_takes_its_share_of_the_threads_and_removes_only_its_own_file(tmp_path, monkeypatch):
    from course_utils.engine.train import SharedCores

    monkeypatch.delenv("COURSE_SHARE_CORES", raising=False)
    folder = tmp_path / "trainings"
    folder.mkdir()
    (folder / str(os.getppid())).write_text("another training, alive")          # the parent process is alive
    (folder / "999999999").write_text("a training whose process is gone")       # no such process: ignored
    (folder / "notes.txt").write_text("not a training")
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        with SharedCores(folder) as cores:
            assert cores.live() == 2 and torch.get_num_threads() == 2, "two live trainings: half the threads each"
            assert (folder / str(os.getpid())).exists()
        assert torch.get_num_threads() == 4, "the thread count is restored afterwards"
    finally:
        torch.set_num_threads(before)
    assert sorted(p.name for p in folder.iterdir()) == sorted([str(os.getppid()), "999999999", "notes.txt"]), \
        "only its own file is removed"


def test_sharing_can_be_turned_off(tmp_path, monkeypatch):
    from course_utils.engine.train import SharedCores

    monkeypatch.setenv("COURSE_SHARE_CORES", "0")
    with SharedCores(tmp_path / "trainings"):
        assert not (tmp_path / "trainings").exists()


def test_the_engine_registers_a_cpu_training_while_it_runs(monkeypatch):
    from course_utils.engine import train as engine

    seen = []
    monkeypatch.setattr(engine, "SharedCores", lambda: _Recording(seen))
    model = torch.nn.Linear(1, 1)
    train(lambda batch: {"loss": model(batch).pow(2).mean()}, [torch.ones(2, 1)] * 3, model=model, log_every=1,
          progress=False)
    assert seen == ["enter", "adjust", "adjust", "adjust", "exit"], "registered, its share checked at every logging point"


class _Recording:
    """A SharedCores stand-in that records what the engine asks of it."""

    def __init__(self, seen):
        self.seen = seen

    def __enter__(self):
        self.seen.append("enter")
        return self

    def __exit__(self, *exc):
        self.seen.append("exit")

    def adjust(self):
        self.seen.append("adjust")
