"""Saving and loading models safely, and ``pretrained(recipe)``: train once, then load from the cache.

Checkpoints are written atomically (a crash mid-write never leaves half a file) and read with
``torch.load(weights_only=True)``, which refuses to run code hidden in a file. A damaged cache file is reported
and, in ``pretrained``, simply retrained; only a finished training run is ever cached.
"""

from __future__ import annotations

import os
import pickle
import secrets
import warnings
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import cache_dir, ensure_writable
from .recipe import Recipe
from .train import record_interruptions


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, damaged, or does not fit the model; the message says which and what to do."""


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists and dicts of them) to ``path`` atomically.

    The file gets the mode the umask gives any new file, so a cache shared by a group stays readable by it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    Raises :class:`CheckpointError` for a missing, damaged or unsafe file instead of an unpickling stack trace.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:  # torch's own message advises weights_only=False: unsafe, so not quoted
        if not zipfile.is_zipfile(path):
            raise _damaged(path, "it is not the zip archive torch.save writes") from error
        raise CheckpointError(
            f"the checkpoint {path} holds objects other than tensors, numbers and strings (or is damaged), so "
            "torch.load(weights_only=True) refuses it: such a file could run code when opened. Only load checkpoints "
            "you created; delete it and train again."
        ) from error
    except Exception as error:
        lines = str(error).strip().splitlines()
        raise _damaged(path, f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__) from error
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
    one that no longer fits the architecture, is retrained with a message. A cache that cannot be written stops
    before training (:class:`~course_utils.engine.config.CacheError`); a run stopped early (Ctrl-C) or a save that fails
    returns the trained model uncached, with a message. The model comes back in eval mode.
    """
    path = cache_dir() / "models" / f"{recipe.key()}.pt"
    if path.exists():
        try:
            model, info = _load_cached(recipe, path)
            if verbose:
                print(f"Loaded the trained {recipe.name} from the cache ({path}).")
            return _ready(model, device), info
        except CheckpointError as error:
            print(f"The cached {recipe.name} could not be used ({error}); training it again.")
    ensure_writable(path.parent)
    with _seeded(recipe.seed, device), record_interruptions() as interruptions:
        model = recipe.build()
        model = model.to(device) if device is not None else model
        info = _plain(dict(recipe.fit(model, device) or {}))
    if interruptions:
        print(f"Training the {recipe.name} was interrupted, so it is not cached: you get the partly trained model, "
              "and the next pretrained() call trains it again from the start.")
        return _ready(model, device), {**info, "interrupted": True}
    weights = {name: value.detach().cpu() for name, value in model.state_dict().items()}
    try:
        save_checkpoint(path, {"recipe": recipe.fields(), "model": weights, "info": info})
    except Exception as error:  # the trained model is worth more than the cache: keep it and say why it is not saved
        warnings.warn(f"The trained {recipe.name} could not be cached in {path} ({type(error).__name__}: {error}); "
                      "the trained model is returned, but the next run will train it again.", stacklevel=2)
        return _ready(model, device), info
    if verbose:
        print(f"Trained the {recipe.name} and cached it in {path}: later runs load it in seconds.")
    return _ready(model, device), info


def _damaged(path: Path, reason: str) -> CheckpointError:
    """The error for a file that is not a readable checkpoint, in the course's words."""
    return CheckpointError(f"the checkpoint {path} is damaged or not a PyTorch checkpoint ({reason}). "
                           "Delete it and train again (pretrained() does this by itself).")


def _load_cached(recipe: Recipe, path: Path) -> tuple[nn.Module, dict]:
    """The model and info cached at ``path``; :class:`CheckpointError` if the file is not a good copy for ``recipe``."""
    state = load_checkpoint(path)
    if state.get("recipe") != recipe.fields():
        raise CheckpointError(f"it was trained with a different recipe ({state.get('recipe')})")
    info = state.get("info", {})
    if not isinstance(info, dict):
        raise CheckpointError(f"its info should be a dict, not {type(info).__name__}")
    weights = _checked_weights(state.get("model"))
    model = recipe.build()
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise CheckpointError(f"its weights do not fit the {recipe.name}: {' '.join(str(error).split())}") from error
    return model, info


def _checked_weights(weights) -> dict[str, torch.Tensor]:
    """``weights`` if it is a state dict of finite tensors; a NaN or infinite weight means a damaged or diverged run."""
    if not isinstance(weights, dict):
        raise CheckpointError(f"its weights should be a dict of tensors, not {type(weights).__name__}")
    odd = [str(name) for name, value in weights.items() if not isinstance(value, torch.Tensor)]
    if odd:
        raise CheckpointError(f"its weights should all be tensors; these are not: {', '.join(odd)}")
    broken = [name for name, value in weights.items() if value.is_floating_point() and not value.isfinite().all()]
    if broken:
        raise CheckpointError(f"its weights contain NaN or infinite values: {', '.join(broken)}")
    return weights


def _plain(value):
    """``value`` with numpy numbers made Python numbers and numpy arrays tensors, which weights_only loading accepts."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    return value


@contextmanager
def _seeded(seed: int, device: torch.device | str | None):
    """Seed PyTorch (CPU, and the GPU that trains) inside the block, then restore the caller's random state."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    gpus = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=gpus):
        torch.manual_seed(seed)
        yield


def _ready(model: nn.Module, device) -> nn.Module:
    """``model`` on ``device`` (if given) and in eval mode, as ``pretrained`` returns it."""
    if device is not None:
        model = model.to(device)
    return model.eval()
