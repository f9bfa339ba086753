"""Saving and loading models safely, and ``pretrained(recipe)``: train once, then load from the cache.

Checkpoints are written atomically (a crash mid-write never leaves half a file) and read with
``torch.load(weights_only=True)``, which refuses to run code hidden in a file. A damaged cache file is reported
and, in ``pretrained``, simply retrained.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from .config import cache_dir
from .recipe import Recipe


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, damaged, or does not fit the model; the message says which and what to do."""


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists and dicts of them) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    Raises :class:`CheckpointError` for a missing or damaged file instead of an unpickling stack trace.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, AttributeError, ImportError) as error:
        raise CheckpointError(
            f"the checkpoint {path} is damaged or not a PyTorch checkpoint ({type(error).__name__}: {error}). "
            "Delete it and train again (pretrained() does this by itself)."
        ) from error
    except Exception as error:  # weights_only's UnpicklingError and friends: the file holds more than weights
        raise CheckpointError(
            f"the checkpoint {path} cannot be loaded safely with weights_only=True ({type(error).__name__}: {error}). "
            "Only load checkpoints you created; delete this one and train again."
        ) from error
    if not isinstance(state, dict):
        raise CheckpointError(f"the checkpoint {path} holds a {type(state).__name__}, not a dict of saved state")
    return state


def pretrained(recipe: Recipe, device: torch.device | str | None = None,
               verbose: bool = True) -> tuple[nn.Module, dict]:
    """Return ``(model, info)`` for ``recipe``: loaded from the cache if a good copy exists, else trained and cached.

    The cache file is named by ``recipe.key()``, a hash of every field, so a changed recipe trains a new model. The
    checkpoint holds the recipe's fields, the weights and ``info`` (what ``recipe.fit`` returned: test accuracy,
    curves, …). Training is seeded with ``recipe.seed`` without disturbing the caller's random numbers, so the same
    recipe gives the same model and a notebook behaves alike whether or not its model was cached. A damaged file, or
    one that no longer fits the architecture, is retrained with a message. The model comes back in eval mode.
    """
    path = cache_dir() / "models" / f"{recipe.key()}.pt"
    if path.exists():
        try:
            state = load_checkpoint(path)
            if state.get("recipe") != recipe.fields():
                raise CheckpointError(f"it was trained with a different recipe ({state.get('recipe')})")
            model = recipe.build()
            model.load_state_dict(state["model"])
            if verbose:
                print(f"Loaded the trained {recipe.name} from the cache ({path}).")
            return _ready(model, device), dict(state.get("info", {}))
        except (CheckpointError, KeyError, RuntimeError) as error:
            print(f"The cached {recipe.name} could not be used ({str(error).splitlines()[0]}); training it again.")
    with _seeded(recipe.seed, device):
        model = recipe.build()
        model = model.to(device) if device is not None else model
        info = recipe.fit(model, device) or {}
    weights = {name: value.detach().cpu() for name, value in model.state_dict().items()}
    save_checkpoint(path, {"recipe": recipe.fields(), "model": weights, "info": dict(info)})
    if verbose:
        print(f"Trained the {recipe.name} and cached it in {path}: later runs load it in seconds.")
    return _ready(model, device), dict(info)


@contextmanager
def _seeded(seed: int, device: torch.device | str | None):
    """Seed PyTorch (CPU, and the GPU that trains) inside the block, then restore the caller's random state."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    gpus = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=gpus):
        torch.manual_seed(seed)
        yield


def _ready(model: nn.Module, device) -> nn.Module:
    if device is not None:
        model = model.to(device)
    return model.eval()
