import importlib
import re
from pathlib import Path

import nbformat
import torch

from course_utils import warmup
from course_utils.evaluation.leaderboard import COURSE_MODELS, recipe_for
from course_utils.training.classifier import ClassifierRecipe
from course_utils.training.conditional import CGANRecipe
from course_utils.training.dcgan import CheckpointedDCGANRecipe, DCGANRecipe, SNGANRecipe
from course_utils.training.flow_matching import FlowRecipe
from course_utils.training.latent_models import CodePriorRecipe, ConditionalCodePriorRecipe, LatentFlowRecipe
from course_utils.training.likelihood import PixelCNNRecipe, RealNVPRecipe
from course_utils.training.mlp_gan import MLPGANRecipe
from course_utils.training.progressive import ProgressiveRecipe
from course_utils.training.vae import VAERecipe
from course_utils.training.vqvae import VQVAERecipe
from course_utils.training.wgan import WGANGPRecipe

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
RECIPES = {recipe.__name__: recipe for recipe in (ClassifierRecipe, DCGANRecipe, MLPGANRecipe, VAERecipe, CGANRecipe,
                                                  WGANGPRecipe, CheckpointedDCGANRecipe, SNGANRecipe, FlowRecipe,
                                                  ProgressiveRecipe, PixelCNNRecipe, RealNVPRecipe, VQVAERecipe,
                                                  CodePriorRecipe, ConditionalCodePriorRecipe, LatentFlowRecipe)}


def test_warm_all_loads_every_model_once_on_the_given_device(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(warmup, "pretrained", lambda recipe, device: calls.append((recipe, device)))
    seconds = warmup.warm_all(torch.device("cpu"))
    assert [recipe for recipe, _ in calls] == list(warmup.notebook_recipes().values())
    assert len(calls) == len(warmup.notebook_recipes()) >= 9 + 4
    assert all(device == torch.device("cpu") for _, device in calls)
    assert set(seconds) == set(warmup.notebook_recipes()) and all(s >= 0 for s in seconds.values())
    assert capsys.readouterr().out.count("ready in") == len(calls)


def test_every_notebook_model_is_warmed():
    names = " ".join(warmup.notebook_recipes())
    for needed in ("classifier", "VAE", "MLP GAN", "DCGAN"):
        assert needed in names


def _recipes_the_notebooks_load() -> dict[str, object]:
    """Every recipe a notebook passes to ``pretrained``, evaluated: what a student's first run trains.

    Both ``pretrained(SomeRecipe(...), ...)`` and ``pretrained(name, ...)`` after ``name = SomeRecipe(...)`` count;
    a notebook that loads ``recipes[key]`` after ``recipes = notebook_recipes()`` (imported from a model module)
    loads every recipe that function returns.
    """
    found = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        code = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
        names = dict(re.findall(r"^(\w+) = (\w+Recipe(?:\.\w+)?\([^)]*\))", code, flags=re.MULTILINE))
        for module in re.findall(r"^from ([\w.]+) import .*\bnotebook_recipes\b", code, flags=re.MULTILINE):
            if re.search(r"^recipes = notebook_recipes\(\)", code, flags=re.MULTILINE):
                for key, recipe in importlib.import_module(module).notebook_recipes().items():
                    found[f"{path.name}: recipes[{key!r}]"] = recipe
        if re.search(r"^from course_utils.evaluation.leaderboard import .*\bCOURSE_MODELS\b", code, flags=re.MULTILINE) \
                and "samples_of(" in code:
            for name, key in COURSE_MODELS.items():
                found[f"{path.name}: samples_of({key!r})"] = recipe_for(key)
        for argument in re.findall(r"pretrained\((?!recipes\[)([\w.]+(?:\([^)]*\))?)", code):
            call = names.get(argument, argument)
            found[f"{path.name}: {call}"] = eval(call, dict(RECIPES))
    return found


def test_warmup_trains_exactly_the_recipes_the_notebooks_load(monkeypatch):
    for quick in ("0", "1"):
        monkeypatch.setenv("COURSE_QUICK", quick)
        loaded = _recipes_the_notebooks_load()
        assert len(loaded) >= 4, f"found only {list(loaded)}"
        warmed = {recipe.key() for recipe in warmup.notebook_recipes().values()}
        missing = [call for call, recipe in loaded.items() if recipe.key() not in warmed]
        assert not missing, f"make warmup would not cache {missing}"
        assert warmed == {recipe.key() for recipe in loaded.values()}, "warmup caches a model no notebook loads"
