import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from course_utils.engine import data
from course_utils.engine.data import (
    DataUnavailableError,
    Minibatches,
    bundled_split_indices,
    check_digit_batch,
    flatten_digits,
    load_mnist,
    random_shift,
    shift_right,
    to_pixels,
    to_tanh_range,
)


@pytest.fixture
def offline(monkeypatch):
    """Simulate a machine with no network: every connection attempt fails at once."""
    attempts = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise OSError("Network is unreachable (simulated)")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


@pytest.fixture
def no_network_use(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("this code path must not touch the network")

    monkeypatch.setattr(socket, "create_connection", forbidden)


def write_idx(raw_dir, prefix, images, labels):
    """Write real digits in MNIST's own IDX format, as torchvision expects them on disk."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    count = len(labels)
    header = np.array([0x0803, count, 28, 28], dtype=">i4").tobytes()
    (raw_dir / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.astype(np.uint8).tobytes())
    header = np.array([0x0801, count], dtype=">i4").tobytes()
    (raw_dir / f"{prefix}-labels-idx1-ubyte").write_bytes(header + labels.astype(np.uint8).tobytes())


@pytest.mark.parametrize("split, total", [("train", 4000), ("test", 1000)])
def test_bundled_split_shapes_ranges_and_balance(split, total):
    images, labels = load_mnist(split, source="bundled")
    assert images.shape == (total, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (total,) and labels.dtype == torch.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert torch.bincount(labels, minlength=10).tolist() == [total // 10] * 10


def test_bundled_digits_look_like_mnist():
    images, labels = load_mnist("train", source="bundled")
    # MNIST's well-known statistics: mean intensity about 0.13, about 80% of pixels exactly background.
    assert 0.11 < images.mean().item() < 0.15
    assert 0.75 < (images == 0).float().mean().item() < 0.85
    # Ones use much less ink than zeros or eights.
    ink = torch.stack([images[labels == d].mean() for d in range(10)])
    assert ink[1] < 0.6 * ink[0] and ink[1] < 0.6 * ink[8]
    # The order is shuffled, not sorted by class.
    assert len(torch.unique_consecutive(labels[:50])) > 20


def test_bundled_split_is_a_partition_of_all_5000():
    index = bundled_split_indices()
    train, test = set(index["train"].tolist()), set(index["test"].tolist())
    assert not train & test
    assert train | test == set(range(5000))


def test_bundled_split_is_identical_in_a_fresh_process():
    code = "from course_utils.engine.data import bundled_split_indices as b; i=b(); print(i['test'][:20].tolist(), int(i['train'].sum()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    index = bundled_split_indices()
    assert out == f"{index['test'][:20].tolist()} {int(index['train'].sum())}"


def test_env_forces_bundled_and_says_so_once(monkeypatch, capsys, no_network_use):
    monkeypatch.setenv("COURSE_DATA", "bundled")
    load_mnist("train")
    load_mnist("test")
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("MNIST source: bundled")


def test_auto_falls_back_within_seconds_when_offline(monkeypatch, tmp_path, capsys, offline):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "empty"))
    import torchvision.datasets  # noqa: F401  (time the decision to fall back, not first imports or file reads)

    data._bundled_arrays()
    start = time.perf_counter()
    images, labels = load_mnist("test")
    assert time.perf_counter() - start < 5
    assert images.shape == (1000, 1, 28, 28)
    assert offline, "auto mode should have tried to reach a download server"
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith("MNIST source: bundled") and "not available" in out[0] and "offline" in out[0]


def test_forcing_torchvision_offline_fails_fast_with_advice(monkeypatch, tmp_path, offline):
    monkeypatch.setenv("COURSE_DATA", "torchvision")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "empty"))
    import torchvision.datasets  # noqa: F401  (time the failure, not the first import)

    start = time.perf_counter()
    with pytest.raises(DataUnavailableError) as caught:
        load_mnist("train")
    assert time.perf_counter() - start < 5
    message = str(caught.value)
    assert "offline" in message and "COURSE_DATA=bundled" in message and str(tmp_path / "empty") in message


def test_slow_server_counts_as_unreachable(monkeypatch, tmp_path):
    calls = []

    def time_out(address, timeout=None, *args, **kwargs):
        calls.append(timeout)
        raise socket.timeout("timed out (simulated)")

    monkeypatch.setattr(socket, "create_connection", time_out)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailableError):
        load_mnist("train", source="torchvision")
    assert calls and all(t is not None and t <= data.CONNECT_TIMEOUT_S for t in calls)


def test_torchvision_files_on_disk_are_used_without_network(monkeypatch, tmp_path, capsys, no_network_use):
    digits, labels = data._bundled_arrays()
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw, "train", digits[:30], labels[:30])
    write_idx(raw, "t10k", digits[30:42], labels[30:42])
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    images, got_labels = load_mnist("test")
    assert images.shape == (12, 1, 28, 28)
    assert torch.equal(got_labels, torch.from_numpy(labels[30:42]))
    assert torch.allclose(images[:, 0] * 255, torch.from_numpy(digits[30:42]).float())
    assert capsys.readouterr().out.startswith("MNIST source: torchvision")


def test_corrupted_files_on_disk_are_reported(monkeypatch, tmp_path, no_network_use):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"not an IDX file")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailableError, match="could not be read.*COURSE_DATA=bundled"):
        load_mnist("train", source="torchvision")


def test_load_onto_a_device():
    images, labels = load_mnist("test", source="bundled", device="cpu")
    assert images.device.type == "cpu" and labels.device.type == "cpu"


def test_callers_cannot_corrupt_the_cached_data():
    images, _ = load_mnist("test", source="bundled")
    images.zero_()
    again, _ = load_mnist("test", source="bundled")
    assert again.max() == 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"split": "validation"}, "split must be 'train' or 'test'"),
    ({"source": "internet"}, "source must be one of"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_mnist(**kwargs)


def test_bad_course_data_variable(monkeypatch):
    monkeypatch.setenv("COURSE_DATA", "kaggle")
    with pytest.raises(ValueError, match="COURSE_DATA=bundled"):
        load_mnist("train")


def test_minibatches_cover_every_row_once_per_epoch():
    x = torch.arange(10).float().unsqueeze(1)
    y = torch.arange(10)
    batches = Minibatches(x, y, batch_size=4)
    assert len(batches) == 3
    seen = []
    sizes = []
    for xb, yb in batches:
        assert torch.equal(xb[:, 0].long(), yb), "rows of the two tensors must stay aligned"
        seen += yb.tolist()
        sizes.append(len(yb))
    assert sorted(seen) == list(range(10)) and sizes == [4, 4, 2]


def test_minibatches_drop_last_order_and_single_tensor():
    x = torch.arange(10)
    batches = Minibatches(x, batch_size=4, shuffle=False, drop_last=True)
    assert len(batches) == 2
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_minibatches_are_shuffled_reproducibly_with_an_rng():
    x = torch.arange(100)
    first = torch.cat(list(Minibatches(x, batch_size=10, rng=torch.Generator().manual_seed(1))))
    second = torch.cat(list(Minibatches(x, batch_size=10, rng=torch.Generator().manual_seed(1))))
    assert torch.equal(first, second) and not torch.equal(first, x)


@pytest.mark.parametrize("args, kwargs, message", [
    ((torch.zeros(5), torch.zeros(6)), {"batch_size": 2}, "same number of rows"),
    ((torch.zeros(5),), {"batch_size": 0}, "positive integer"),
    ((), {"batch_size": 2}, "at least one tensor"),
])
def test_minibatches_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Minibatches(*args, **kwargs)


# --- Checking, reshaping and shifting digit batches ---

@pytest.mark.parametrize("bad, message", [
    (torch.rand(1, 28, 28), "N×1×28×28.*unsqueeze"),
    (torch.rand(4, 784), "N×1×28×28"),
    (torch.rand(2, 3, 28, 28), "N×1×28×28"),
    (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), "divide uint8 images by 255"),
    ([[0.0] * 784], "tensor"),
])
def test_check_digit_batch_explains_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        check_digit_batch(bad)


def test_flatten_digits_accepts_images_and_rows():
    images = torch.rand(3, 1, 28, 28)
    assert torch.equal(flatten_digits(images), images.reshape(3, 784))
    assert flatten_digits(torch.zeros(2, 784)).shape == (2, 784)
    with pytest.raises(ValueError, match="N×1×28×28 or N×784"):
        flatten_digits(torch.rand(3, 28, 28))


def test_shift_right_moves_columns():
    image = torch.zeros(1, 1, 28, 28)
    image[..., 5] = 1.0
    moved = shift_right(image, 3)
    assert moved[..., 8].sum() == 28 and moved.sum() == 28
    assert torch.equal(shift_right(image, 0), image)
    with pytest.raises(ValueError, match="shift"):
        shift_right(torch.rand(1, 1, 28, 28), 28)


def test_pixel_range_conversions_are_inverse():
    images = torch.rand(4, 1, 28, 28)
    assert torch.allclose(to_pixels(to_tanh_range(images)), images, atol=1e-6)
    assert to_pixels(torch.tensor([-3.0, 3.0])).tolist() == [0.0, 1.0]


def test_random_shift_moves_ink_without_changing_it(bundled_mnist):
    (images, _), _ = bundled_mnist
    ring = torch.ones(28, 28, dtype=torch.bool)
    ring[2:-2, 2:-2] = False
    digits = images[(images[:, 0, ring] == 0).all(dim=1)][:64]  # digits with a 2-pixel empty margin
    shifted = random_shift(digits, max_shift=2)
    assert shifted.shape == digits.shape
    # A shift of at most 2 pixels keeps all the ink of a digit with an empty 2-pixel margin.
    assert torch.allclose(shifted.sum(dim=(1, 2, 3)), digits.sum(dim=(1, 2, 3)), atol=1e-4)
    assert (shifted != digits).any(dim=(1, 2, 3)).float().mean() > 0.7
    assert torch.equal(random_shift(digits, max_shift=0), digits)


def test_minibatches_that_would_drop_every_example_say_how_many_and_what_to_do():
    with pytest.raises(ValueError, match=r"got 3 examples for batch_size=4: the last incomplete batch is dropped.*"
                                         r"use batch_size=3 or less"):
        Minibatches(torch.arange(3), batch_size=4, drop_last=True)
    assert len(Minibatches(torch.arange(3), batch_size=4)) == 1, "without drop_last the short batch is kept"
