import pickle
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from course_utils.checkpoints import CheckpointError, load_checkpoint, pretrained, save_checkpoint
from course_utils.config import budget, cache_dir
from course_utils.recipe import Recipe


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
