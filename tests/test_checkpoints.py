import os
import pickle
import stat
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from torch import nn

from course_utils.engine import checkpoints
from course_utils.engine.checkpoints import CheckpointError, load_checkpoint, pretrained, save_checkpoint
from course_utils.engine.config import CacheError, budget, cache_dir
from course_utils.engine.recipe import Recipe
from course_utils.engine.train import TrainingDiverged, train


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


TRAININGS: list[str] = []


@dataclass(frozen=True)
class TinyRecipe(Recipe):
    """A one-layer model whose "training" sets every weight to ``fill`` (and records that it ran)."""

    name = "tiny"
    inputs: int = 3
    fill: float = 0.5
    steps: int = field(default_factory=lambda: budget(full=3, quick=1))

    def build(self):
        return nn.Linear(self.inputs, 1)

    def fit(self, model, device):
        TRAININGS.append(self.key())
        with torch.no_grad():
            model.weight.fill_(self.fill)
        return {"score": 0.9, "first_random_number": torch.rand(1).item()}


@pytest.fixture(autouse=True)
def no_trainings_yet():
    TRAININGS.clear()


def test_pretrained_trains_once_then_loads(capsys):
    model, info = pretrained(TinyRecipe())
    again, info_again = pretrained(TinyRecipe())
    assert len(TRAININGS) == 1
    assert torch.all(again.weight == 0.5) and info == info_again and info["score"] == 0.9
    assert not again.training, "a loaded model is ready for evaluation"
    assert "Loaded the trained tiny" in capsys.readouterr().out


def test_the_checkpoint_holds_the_recipe_and_is_named_by_its_hash():
    recipe = TinyRecipe()
    pretrained(recipe)
    (path,) = (cache_dir() / "models").glob("tiny-*.pt")
    assert path.stem == recipe.key()
    assert load_checkpoint(path)["recipe"] == recipe.fields() == {"seed": 0, "inputs": 3, "fill": 0.5, "steps": 3}


def test_changing_any_field_trains_a_new_model():
    pretrained(TinyRecipe())
    for changed in (TinyRecipe(fill=0.25), TinyRecipe(steps=4), TinyRecipe(seed=1)):
        model, _ = pretrained(changed)
        assert model.weight.flatten()[0].item() == changed.fill
    assert len(TRAININGS) == 4 and len(set(TRAININGS)) == 4
    pretrained(TinyRecipe(fill=0.25))
    assert len(TRAININGS) == 4, "an unchanged recipe loads"


def test_quick_and_full_models_are_cached_separately(monkeypatch):
    pretrained(TinyRecipe())
    monkeypatch.setenv("COURSE_QUICK", "1")
    assert TinyRecipe().steps == 1
    pretrained(TinyRecipe())
    assert len(TRAININGS) == 2


def test_training_is_seeded_by_the_recipe_and_leaves_the_callers_random_numbers_alone(tmp_path, monkeypatch):
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    _, info = pretrained(TinyRecipe())
    assert torch.equal(torch.rand(1), expected_next), "training inside pretrained did not consume the caller's numbers"
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "another-cache"))
    torch.manual_seed(999)
    _, again = pretrained(TinyRecipe())
    assert again["first_random_number"] == info["first_random_number"], "the same recipe trains the same way"


def test_pretrained_retrains_a_corrupted_cache(capsys):
    pretrained(TinyRecipe())
    (path,) = (cache_dir() / "models").glob("tiny-*.pt")
    path.write_bytes(b"corrupted")
    model, _ = pretrained(TinyRecipe())
    assert len(TRAININGS) == 2 and torch.all(model.weight == 0.5)
    assert "could not be used" in capsys.readouterr().out
    assert load_checkpoint(path)["info"]["score"] == 0.9


def test_pretrained_retrains_when_the_architecture_changed(capsys):
    recipe = TinyRecipe()
    pretrained(recipe)
    (path,) = (cache_dir() / "models").glob("tiny-*.pt")
    state = load_checkpoint(path)
    state["model"] = nn.Linear(5, 1).state_dict()                 # weights of another shape under the same name
    save_checkpoint(path, state)
    model, _ = pretrained(recipe)
    assert len(TRAININGS) == 2 and model.weight.shape == (1, 3)
    assert "could not be used" in capsys.readouterr().out


def test_a_checkpoint_of_another_recipe_is_not_loaded(capsys):
    recipe = TinyRecipe()
    pretrained(recipe)
    (path,) = (cache_dir() / "models").glob("tiny-*.pt")
    state = load_checkpoint(path)
    state["recipe"] = {**state["recipe"], "fill": 0.75}
    save_checkpoint(path, state)
    pretrained(recipe)
    assert len(TRAININGS) == 2 and "different recipe" in capsys.readouterr().out


def test_a_recipe_without_fit_says_where_it_is_trained():
    @dataclass(frozen=True)
    class Untrainable(Recipe):
        name = "label to image"

        def build(self):
            return nn.Linear(1, 1)

    with pytest.raises(NotImplementedError, match="trained in its notebook"):
        pretrained(Untrainable())


@dataclass(frozen=True)
class StoppedRecipe(TinyRecipe):
    """A recipe whose training loop is stopped with Ctrl-C (or yields NaN) at step ``stop_at``."""

    name = "stopped"
    stop_at: int = 3
    diverge: bool = False

    def fit(self, model, device):
        TRAININGS.append(self.key())
        with torch.no_grad():
            model.weight.zero_()

        def step(batch):
            if batch == self.stop_at:
                if self.diverge:
                    return {"loss": float("nan")}
                raise KeyboardInterrupt
            with torch.no_grad():
                model.weight.add_(1.0)
            return {"loss": 1.0}

        history = train(step, range(10), epochs=1, log_every=1, progress=False)
        return {"steps": history.steps[-1]}


def _cached_models():
    """Names of the files in the model cache, which must stay empty after a run that is not finished."""
    return sorted(path.name for path in (cache_dir() / "models").glob("*")) if (cache_dir() / "models").exists() else []


def test_an_interrupted_fit_is_kept_in_memory_but_never_cached(capsys):
    model, info = pretrained(StoppedRecipe())
    out = capsys.readouterr().out
    assert "Interrupted after 3 steps" in out and "cached it" not in out
    assert "was interrupted, so it is not cached" in out
    assert torch.all(model.weight == 3.0), "the partly trained model is returned"
    assert info == {"steps": 3, "interrupted": True}
    assert _cached_models() == []
    pretrained(StoppedRecipe())
    assert len(TRAININGS) == 2, "the next call trains again instead of loading a partial model"


def test_a_diverged_fit_raises_and_caches_nothing():
    with pytest.raises(TrainingDiverged):
        pretrained(StoppedRecipe(diverge=True))
    assert _cached_models() == []


def test_an_unwritable_cache_is_reported_before_training(monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", "/proc/self")
    with pytest.raises(CacheError, match="COURSE_CACHE") as raised:
        pretrained(TinyRecipe())
    assert TRAININGS == [], "nothing was trained only to be lost"
    assert "/proc/self/models" in str(raised.value)


def test_a_read_only_cache_still_loads_what_it_holds(monkeypatch):
    pretrained(TinyRecipe())
    def refuse(folder):
        pytest.fail("loading must not need a writable cache")

    monkeypatch.setattr(checkpoints, "ensure_writable", refuse)
    model, _ = pretrained(TinyRecipe())
    assert len(TRAININGS) == 1 and torch.all(model.weight == 0.5)


def test_a_failed_save_warns_and_returns_the_trained_model(monkeypatch):
    def full_disk(path, state):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints, "save_checkpoint", full_disk)
    expected = r"could not be cached .*No space left on device.*the trained model is returned"
    with pytest.warns(UserWarning, match=expected):
        model, info = pretrained(TinyRecipe())
    assert torch.all(model.weight == 0.5) and info["score"] == 0.9
    assert _cached_models() == []


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_checkpoints_are_written_with_the_umasks_mode(tmp_path, umask):
    previous = os.umask(umask)
    try:
        path = save_checkpoint(tmp_path / "model.pt", {"x": torch.ones(1)})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, "a shared cache must be readable by the group"


def test_refusing_unsafe_content_does_not_advise_weights_only_false(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"evil": Payload()}, path, pickle_module=pickle)
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(path)
    message = str(raised.value)
    assert "weights_only=False" not in message and "Re-running" not in message and "\n" not in message
    assert "Only load checkpoints you created" in message and "delete it and train again" in message


@pytest.mark.parametrize("content", [b"", b"garbage bytes, not a zip archive", None])
def test_damaged_files_are_called_damaged_without_torchs_advice(tmp_path, content):
    path = tmp_path / "model.pt"
    if content is None:
        save_checkpoint(path, {"x": torch.ones(1000)})
        path.write_bytes(path.read_bytes()[:200])
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(path)
    message = str(raised.value)
    assert f"{path} is damaged" in message
    assert "weights_only=False" not in message and "\n" not in message


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_cached_model_with_non_finite_weights_is_retrained(capsys, bad):
    pretrained(TinyRecipe())
    (path,) = (cache_dir() / "models").glob("tiny-*.pt")
    state = load_checkpoint(path)
    state["model"]["weight"][0, 1] = bad
    save_checkpoint(path, state)
    model, _ = pretrained(TinyRecipe())
    assert len(TRAININGS) == 2 and torch.all(model.weight == 0.5)
    expected = "could not be used (its weights contain NaN or infinite values: weight); training it again"
    assert expected in capsys.readouterr().out


@pytest.mark.parametrize("change, expected", [
    ({"model": 5}, "its weights should be a dict of tensors, not int"),
    ({"model": {"weight": "heavy", "bias": torch.zeros(1)}},
     "its weights should all be tensors; these are not: weight"),
    ({"info": 5}, "its info should be a dict, not int"),
    ({"recipe": None}, "it was trained with a different recipe (None)"),
])
def test_a_hand_made_cache_file_is_reported_and_retrained(capsys, change, expected):
    pretrained(TinyRecipe())
    (path,) = (cache_dir() / "models").glob("tiny-*.pt")
    save_checkpoint(path, {**load_checkpoint(path), **change})
    model, _ = pretrained(TinyRecipe())
    assert len(TRAININGS) == 2 and torch.all(model.weight == 0.5)
    assert f"could not be used ({expected}); training it again" in capsys.readouterr().out


def test_numpy_integers_in_a_recipe_are_cached_and_loaded():
    recipe = TinyRecipe(seed=np.int64(1), steps=np.int32(3))
    pretrained(recipe)
    model, _ = pretrained(recipe)
    assert len(TRAININGS) == 1 and torch.all(model.weight == 0.5)
    (path,) = (cache_dir() / "models").glob("tiny-*.pt")
    assert type(load_checkpoint(path)["recipe"]["seed"]) is int
    assert recipe.key() == TinyRecipe(seed=1, steps=3).key(), "a numpy 1 and a Python 1 name the same cache file"
