"""Where the computation runs, and how to make it repeatable.

``get_device()`` picks CUDA, then Apple's MPS, then the CPU, so the same notebook runs unchanged on a laptop,
a Mac or a GPU box. ``COURSE_DEVICE=cpu`` (or ``cuda``, ``cuda:1``, ``mps``) overrides the choice.
"""

from __future__ import annotations

import numbers
import os
import random

import numpy as np
import torch


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def get_device() -> torch.device:
    """The best available device: CUDA > MPS > CPU, unless ``COURSE_DEVICE`` names one.

    A ``COURSE_DEVICE`` that this machine cannot provide raises a ``RuntimeError`` that says what is available,
    rather than failing later inside a training loop.
    """
    requested = os.environ.get("COURSE_DEVICE", "").strip().lower()
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError as error:
            raise RuntimeError(f"COURSE_DEVICE={requested!r} is not a device name; use cpu, cuda, cuda:N or mps.") from error
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"COURSE_DEVICE={requested!r} asks for a GPU, but PyTorch sees no CUDA device here; {_available_hint()}")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"COURSE_DEVICE={requested!r} asks for GPU {device.index}, but only {torch.cuda.device_count()} "
                f"CUDA device(s) exist; {_available_hint()}"
            )
        if device.type == "mps" and not _mps_available():
            raise RuntimeError(f"COURSE_DEVICE={requested!r} asks for Apple's MPS, which is not available here; {_available_hint()}")
        if device.type not in {"cpu", "cuda", "mps"}:
            raise RuntimeError(f"COURSE_DEVICE={requested!r}: the course supports cpu, cuda and mps only.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _available() -> str:
    """The device types this machine offers, e.g. "cpu, cuda"."""
    return ", ".join(["cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (["mps"] if _mps_available() else []))


def _available_hint() -> str:
    return f"available here: {_available()} (unset COURSE_DEVICE to pick automatically)."


def check_device(device: torch.device | str) -> torch.device:
    """``device`` as a ``torch.device``, or a clear ``ValueError`` listing the valid ones if this machine cannot use it
    (PyTorch's own error lists twenty device types the course never runs on)."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        parsed = None
    usable = parsed is not None and (parsed.type == "cpu" or (parsed.type == "cuda" and torch.cuda.is_available())
                                     or (parsed.type == "mps" and _mps_available()))
    if not usable:
        raise ValueError(f"device={device!r} is not a device the course can use: pass 'cpu', 'cuda', 'cuda:N' or 'mps' "
                         f"(available here: {_available()}), or get_device() for the best one.")
    return parsed


def describe_device(device: torch.device | None = None) -> str:
    """One human-readable line about ``device`` (default: ``get_device()``), e.g. its GPU name or CPU threads."""
    device = device or get_device()
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        return f"cuda:{index} — {props.name}, {props.total_memory / 2**30:.0f} GiB"
    if device.type == "mps":
        return "mps — Apple GPU (Metal Performance Shaders)"
    return f"cpu — {torch.get_num_threads()} thread(s) for PyTorch"


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's (CPU and all GPUs) random generators, so a run can be repeated."""
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """The mixed-precision type that is safe and fast on ``device``: bfloat16 on a CUDA GPU that supports it, else None.

    bfloat16 keeps float32's range, so GAN losses need no gradient scaler; CPUs and MPS train in float32, where
    bfloat16 is often slower or unsupported for transposed convolutions.
    """
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def autocasting(device_type: str) -> bool:
    """Whether ``torch.autocast`` is on for ``device_type`` ("cpu", "cuda", …): then layers cast their float inputs."""
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:                                   # PyTorch < 2.4: one switch for CUDA, another for the CPU
        return torch.is_autocast_cpu_enabled() if device_type == "cpu" else torch.is_autocast_enabled()


def memory_format(device: torch.device | str) -> torch.memory_format:
    """The image layout convolutions run fastest in: ``channels_last`` on CUDA (tensor cores prefer it) and on the CPU
    (oneDNN's convolutions: about 10 % faster steps for notebook 05's DCGAN); the default layout on MPS."""
    return torch.channels_last if torch.device(device).type in ("cuda", "cpu") else torch.contiguous_format


def synchronize(device: torch.device | str | None = None) -> None:
    """Wait until the device has finished the work queued on it. CUDA and MPS run asynchronously, so a timer read
    without this measures how fast Python queued the work, not how long it took; on the CPU it does nothing."""
    kind = torch.device(device).type if device is not None else "cpu"
    if kind == "cuda":
        torch.cuda.synchronize(device)
    elif kind == "mps":
        torch.mps.synchronize()
