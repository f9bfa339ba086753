"""The IDX reader that benchmarks/ use to score models on the genuine MNIST test set."""

import gzip

import numpy as np
import pytest
import torch

from benchmarks.mnist_idx import load_mnist_idx, read_idx


def _write_idx(path, array, code=0x08, compress=True):
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    raw = header + array.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def test_load_mnist_idx_reads_gz_and_plain_files(tmp_path):
    pixels = np.arange(3 * 28 * 28, dtype=np.uint32).reshape(3, 28, 28).astype(np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", pixels)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([7, 2, 1], dtype=np.uint8), compress=False)
    images, labels = load_mnist_idx(tmp_path)
    assert images.shape == (3, 1, 28, 28) and images.dtype == torch.float32
    assert torch.allclose(images[:, 0] * 255, torch.from_numpy(pixels).float())
    assert labels.tolist() == [7, 2, 1] and labels.dtype == torch.int64


def test_load_mnist_idx_explains_missing_and_damaged_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_mnist_idx(tmp_path)
    (tmp_path / "bad").write_bytes(b"\x12\x34\x56\x78")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    _write_idx(tmp_path / "short", np.zeros((2, 28, 28), np.uint8), compress=False)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="one label each"):
        load_mnist_idx(tmp_path)
