"""MNIST's original IDX files, for the benchmarks: they score models on the genuine 10,000 test digits.

The course itself never needs these files (it uses torchvision's copy or the bundled digits); only ``benchmarks/``
reads the test set that lies beside the project in ``../shared/data/mnist/raw``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
IDX_TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (the format MNIST is distributed in), gzipped or plain, into a NumPy array."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(f"{path} is not a readable gzip file ({error})") from error
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    dims = raw[3]
    header = 4 + 4 * dims
    shape = tuple(int(n) for n in np.frombuffer(raw[4:header], dtype=">u4")) if len(raw) >= header else None
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    if shape is None or len(raw) != header + int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{path} is truncated or damaged: its header promises shape {shape} but it holds "
                         f"{len(raw) - min(header, len(raw))} bytes of data")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def load_mnist_idx(folder: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor]:
    """The MNIST test set from the original IDX files in ``folder`` (``t10k-*-ubyte``, optionally ``.gz``).

    Returns ``(images, labels)`` like ``course_utils.engine.data.load_mnist``: N×1×28×28 float32 in [0, 1] and int64 labels.
    """
    folder = Path(folder)
    arrays = []
    for name in IDX_TEST_FILES:
        candidates = [folder / (name + ".gz"), folder / name]
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            raise FileNotFoundError(f"no {name}(.gz) in {folder}: point this at the folder holding MNIST's IDX test files")
        arrays.append(read_idx(found))
    pixels, labels = arrays
    if pixels.ndim != 3 or pixels.shape[1:] != (28, 28) or labels.ndim != 1 or len(labels) != len(pixels):
        raise ValueError(f"the IDX files in {folder} do not hold 28×28 images with one label each "
                         f"(images {pixels.shape}, labels {labels.shape})")
    images = torch.from_numpy(pixels.astype(np.float32) / 255.0).unsqueeze(1)
    return images, torch.from_numpy(labels.astype(np.int64))
