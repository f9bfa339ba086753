import pickle

import pytest
import torch
from torch import nn

from course_utils.checkpoints import CheckpointError, load_checkpoint, pretrained, save_checkpoint


def test_round_trip_preserves_tensors_and_numbers(tmp_path):
    model = nn.Linear(4, 2)
    path = save_checkpoint(tmp_path / "sub" / "model.pt", {"model": model.state_dict(), "info": {"acc": 0.97}})
    state = load_checkpoint(path)
    restored = nn.Linear(4, 2)
    restored.load_state_dict(state["model"])
    assert torch.equal(restored.weight, model.weight) and state["info"]["acc"] == 0.97
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"], "no temporary files are left behind"


def test_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "model.pt", {"x": torch.ones(2)})

    def broken_save(obj, file):
        file.write(b"half a file")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(path, {"x": torch.zeros(2)})
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["x"], torch.ones(2))
    assert len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("content", [b"", b"garbage bytes, not a zip archive", None])
def test_damaged_file_gives_a_clear_error(tmp_path, content):
    path = tmp_path / "model.pt"
    if content is None:
        save_checkpoint(path, {"x": torch.ones(1000)})
        path.write_bytes(path.read_bytes()[:200])
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(path)


class Payload:
    pass


def test_file_with_arbitrary_objects_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"evil": Payload()}, path, pickle_module=pickle)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nope.pt")


def make_fit(counter):
    def fit(model):
        counter.append(1)
        with torch.no_grad():
            model.weight.fill_(0.5)
        return {"score": 0.9}

    return fit


def test_pretrained_trains_once_then_loads(capsys):
    trainings = []
    model, info = pretrained("tiny", lambda: nn.Linear(3, 1), make_fit(trainings))
    again, info_again = pretrained("tiny", lambda: nn.Linear(3, 1), make_fit(trainings))
    assert len(trainings) == 1
    assert torch.all(again.weight == 0.5) and info == info_again == {"score": 0.9}
    assert not again.training, "a loaded model is ready for evaluation"
    assert "Loaded the trained tiny" in capsys.readouterr().out


def test_quick_and_full_models_are_cached_separately(monkeypatch):
    trainings = []
    pretrained("tiny", lambda: nn.Linear(3, 1), make_fit(trainings))
    monkeypatch.setenv("COURSE_QUICK", "1")
    pretrained("tiny", lambda: nn.Linear(3, 1), make_fit(trainings))
    assert len(trainings) == 2


def test_pretrained_retrains_a_corrupted_cache(capsys):
    from course_utils.config import cache_dir

    trainings = []
    pretrained("tiny", lambda: nn.Linear(3, 1), make_fit(trainings))
    (path,) = (cache_dir() / "models").glob("tiny-*.pt")
    path.write_bytes(b"corrupted")
    model, _ = pretrained("tiny", lambda: nn.Linear(3, 1), make_fit(trainings))
    assert len(trainings) == 2 and torch.all(model.weight == 0.5)
    assert "could not be used" in capsys.readouterr().out
    assert load_checkpoint(path)["info"] == {"score": 0.9}


def test_pretrained_retrains_when_the_architecture_changed():
    trainings = []
    pretrained("tiny", lambda: nn.Linear(3, 1), make_fit(trainings))
    model, _ = pretrained("tiny", lambda: nn.Linear(5, 1), make_fit(trainings))
    assert len(trainings) == 2 and model.weight.shape == (1, 5)
