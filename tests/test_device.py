import random

import numpy as np
import pytest
import torch

from course_utils.engine import device as device_module
from course_utils.engine.device import describe_device, get_device, seed_everything


@pytest.fixture
def machine(monkeypatch):
    """Pretend this machine has the given accelerators, without touching real hardware."""

    def configure(cuda: bool = False, mps: bool = False, gpus: int = 1):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus if cuda else 0)
        monkeypatch.setattr(device_module, "_mps_available", lambda: mps)

    return configure


def test_cpu_when_nothing_else(machine):
    machine()
    assert get_device() == torch.device("cpu")


def test_cuda_preferred_over_mps(machine):
    machine(cuda=True, mps=True)
    assert get_device().type == "cuda"


def test_mps_when_no_cuda(machine):
    machine(mps=True)
    assert get_device() == torch.device("mps")


def test_override_to_cpu_on_a_gpu_machine(machine, monkeypatch):
    machine(cuda=True)
    monkeypatch.setenv("COURSE_DEVICE", "CPU")
    assert get_device() == torch.device("cpu")


def test_override_selects_a_specific_gpu(machine, monkeypatch):
    machine(cuda=True, gpus=2)
    monkeypatch.setenv("COURSE_DEVICE", "cuda:1")
    assert get_device() == torch.device("cuda", 1)


def test_override_to_missing_gpu_explains(machine, monkeypatch):
    machine()
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="no CUDA device.*available here: cpu"):
        get_device()


def test_override_to_gpu_index_out_of_range(machine, monkeypatch):
    machine(cuda=True, gpus=1)
    monkeypatch.setenv("COURSE_DEVICE", "cuda:3")
    with pytest.raises(RuntimeError, match="only 1 CUDA device"):
        get_device()


def test_override_to_missing_mps_explains(machine, monkeypatch):
    machine()
    monkeypatch.setenv("COURSE_DEVICE", "mps")
    with pytest.raises(RuntimeError, match="MPS"):
        get_device()


@pytest.mark.parametrize("name", ["banana", "xla"])
def test_override_with_unknown_name(machine, monkeypatch, name):
    machine()
    monkeypatch.setenv("COURSE_DEVICE", name)
    with pytest.raises(RuntimeError, match="COURSE_DEVICE"):
        get_device()


def test_describe_cpu():
    assert describe_device(torch.device("cpu")).startswith("cpu — ")


def test_seed_everything_repeats_all_generators():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)

    seed_everything(7)
    first = draw()
    seed_everything(7)
    second = draw()
    seed_everything(8)
    third = draw()
    assert first[0] == second[0] and first[1] == second[1] and torch.equal(first[2], second[2])
    assert first[0] != third[0] and not torch.equal(first[2], third[2])


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_seed_everything_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(seed)


def test_no_mixed_precision_on_the_cpu_and_channels_last_where_convolutions_prefer_it():
    from course_utils.engine.device import autocast_dtype, memory_format

    assert autocast_dtype("cpu") is None and memory_format("cpu") == torch.channels_last
    assert autocast_dtype("mps") is None and memory_format("mps") == torch.contiguous_format


def test_cuda_branch_chooses_bfloat16_and_channels_last(machine, monkeypatch):
    from course_utils.engine.device import autocast_dtype, memory_format

    machine(cuda=True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    device = get_device()
    assert device.type == "cuda"
    assert autocast_dtype(device) == torch.bfloat16 and memory_format(device) == torch.channels_last
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    assert autocast_dtype(device) is None, "older GPUs without bfloat16 train in float32"


def test_synchronize_waits_on_accelerators_and_does_nothing_on_the_cpu(monkeypatch):
    from course_utils.engine.device import synchronize

    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(("cuda", device)))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append(("mps", None)))
    synchronize("cpu"), synchronize(None)
    assert calls == []
    synchronize("cuda:0"), synchronize(torch.device("mps"))
    assert calls == [("cuda", "cuda:0"), ("mps", None)]
