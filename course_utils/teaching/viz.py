"""Figures in one consistent style: image grids with labels and training curves, and PNG bytes for widgets.

Every plotting function returns the matplotlib ``Figure`` so a notebook can show it, save it or add to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from io import BytesIO

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import torch

STYLE = {
    "figure.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.frameon": False,
    "font.size": 10,
}
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


@contextmanager
def course_style():
    """Apply the course style inside a ``with`` block, restoring only the keys it changed.

    Unlike ``plt.rc_context`` this leaves ``backend`` and ``interactive`` alone: restoring those would undo
    Jupyter's inline backend when the first figure of a session is drawn, and later figures would not appear.
    """
    saved = {key: plt.rcParams[key] for key in STYLE}
    plt.rcParams.update(STYLE)
    try:
        yield
    finally:
        plt.rcParams.update(saved)


def use_course_style() -> None:
    """Apply the course's figure style to every later matplotlib figure in this session (notebooks call it once)."""
    plt.rcParams.update(STYLE)


def as_image_batch(images) -> np.ndarray:
    """Turn images into an N×H×W (grey) or N×H×W×3 (colour) float array in [0, 1] for display.

    Accepts tensors or arrays shaped N×1×H×W, N×3×H×W, N×H×W, a single H×W image, or flat N×784 MNIST rows.
    Values in [−1, 1] (a Tanh output) are mapped to [0, 1]; anything else outside [0, 1] is clipped.
    """
    if isinstance(images, torch.Tensor):
        images = images.detach().to("cpu", torch.float32).numpy()
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 2 and array.shape[1] == 784:
        array = array.reshape(-1, 28, 28)
    elif array.ndim == 2:
        array = array[None]
    elif array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    elif array.ndim == 4 and array.shape[1] == 3:
        array = array.transpose(0, 2, 3, 1)
    elif array.ndim != 3:
        raise ValueError(
            f"cannot show images of shape {tuple(array.shape)}: expected N×1×H×W, N×3×H×W, N×H×W, H×W or N×784"
        )
    if array.shape[0] == 0:
        raise ValueError("there are no images to show (the batch is empty)")
    if not np.isfinite(array).all():
        raise ValueError("the images contain NaN or infinite values — the model that made them has probably diverged")
    if array.min() < -1e-6:
        array = (array + 1.0) / 2.0
    return np.clip(array, 0.0, 1.0)


def show_images(images, labels: Sequence | None = None, *, ncols: int | None = None, title: str | None = None,
                size: float = 1.1, cmap: str = "gray_r"):
    """Show images in a grid, each with its label (a number or a string) above it; returns the figure.

    ``cmap="gray_r"`` draws ink dark on white paper, which reads best on slides; pass ``"gray"`` for the raw
    convention (white digit on black).
    """
    batch = as_image_batch(images)
    count = batch.shape[0]
    if labels is not None:
        labels = [_label_text(label) for label in labels]
        if len(labels) != count:
            raise ValueError(f"got {count} images but {len(labels)} labels")
    ncols = ncols or min(count, 10)
    nrows = math.ceil(count / ncols)
    with course_style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if title else 0)),
                                 squeeze=False)
        for index, ax in enumerate(axes.flat):
            ax.axis("off")
            if index < count:
                ax.imshow(batch[index], cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
                if labels is not None:
                    ax.set_title(labels[index], fontsize=9, pad=2)
        if title:
            fig.suptitle(title)
        title_room = 0.35 / fig.get_figheight() if title else 0.0
        fig.tight_layout(pad=0.3, rect=(0.0, 0.0, 1.0, 1.0 - title_room))
    return fig


def figure_png(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (for an ipywidgets ``Image``), then closed so it is not also drawn inline."""
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def image_png(image: torch.Tensor, scale: int = 6) -> bytes:
    """A 28×28 image in [0, 1] as PNG bytes, ``scale`` times larger, ink dark on white (for an ipywidgets Image)."""
    pixels = torch.as_tensor(image).detach().cpu().float().reshape(28, 28).clamp(0, 1).numpy()
    big = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = BytesIO()
    matplotlib.image.imsave(buffer, 1.0 - big, cmap="gray", vmin=0.0, vmax=1.0, format="png")
    return buffer.getvalue()


def show_pixel_values(image, *, top: int, left: int, size: int = 8, title: str | None = None):
    """Show a grey image beside a zoom on one ``size``×``size`` patch with each pixel's value (in % of full ink).

    The point of the figure: to a network an image is only a grid of numbers. Returns the figure.
    """
    grid = as_image_batch(image)
    if grid.shape[0] != 1 or grid.ndim != 3:
        raise ValueError(f"show_pixel_values takes one grey image, got {grid.shape[0]} image(s) of shape {grid.shape[1:]}")
    grid = grid[0]
    if not (0 <= top and 0 <= left and top + size <= grid.shape[0] and left + size <= grid.shape[1]):
        raise ValueError(f"the {size}×{size} patch at row {top}, column {left} does not fit in a {grid.shape[0]}×{grid.shape[1]} image")
    patch = grid[top:top + size, left:left + size]
    with course_style():
        fig, (ax_full, ax_zoom) = plt.subplots(1, 2, figsize=(6.4, 3.2))
        ax_full.imshow(grid, cmap="gray_r", vmin=0, vmax=1)
        ax_full.add_patch(plt.Rectangle((left - 0.5, top - 0.5), size, size, fill=False, edgecolor=COLORS[1], linewidth=2))
        ax_full.set_title(title or f"{grid.shape[0]}×{grid.shape[1]} pixels")
        ax_zoom.imshow(patch, cmap="gray_r", vmin=0, vmax=1)
        for (row, col), value in np.ndenumerate(patch):
            ax_zoom.text(col, row, f"{100 * value:.0f}", ha="center", va="center", fontsize=8,
                         color="white" if value > 0.5 else "black")
        ax_zoom.set_title(f"the framed {size}×{size} patch, as numbers")
        for ax in (ax_full, ax_zoom):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        fig.tight_layout()
    return fig


def _label_text(label) -> str:
    if isinstance(label, torch.Tensor):
        label = label.item()
    if isinstance(label, float):
        return f"{label:.2f}"
    return str(label)


def plot_history(history: Mapping[str, Sequence[float]], keys: Sequence[str] | None = None, *,
                 smooth: int = 1, xlabel: str = "step", title: str | None = None, logy: bool = False):
    """Plot training curves from ``history`` (name → list of values), one line per key, on shared axes.

    ``smooth`` > 1 draws a moving average over that many points on top of the faint raw curve, so a noisy
    loss still shows its trend. Returns the figure.
    """
    keys = list(keys) if keys is not None else list(history)
    if not keys:
        raise ValueError("the history is empty: nothing to plot")
    missing = [key for key in keys if key not in history]
    if missing:
        raise KeyError(f"not in the history: {missing}; it has {list(history)}")
    if not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"smooth must be a positive integer, got {smooth!r}")
    with course_style():
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        for key, color in zip(keys, _cycle(COLORS, len(keys))):
            values = np.asarray([float(v) for v in history[key]], dtype=np.float64)
            steps = np.arange(1, len(values) + 1)
            if smooth > 1 and len(values) >= smooth:
                ax.plot(steps, values, color=color, alpha=0.25, linewidth=1)
                ax.plot(steps[smooth - 1:], moving_average(values, smooth), color=color, linewidth=2, label=key)
            else:
                ax.plot(steps, values, color=color, linewidth=2, label=key, marker="o" if len(values) < 30 else None)
        ax.set_xlabel(xlabel)
        if logy:
            ax.set_yscale("log")
        ax.legend()
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Mean over each run of ``window`` consecutive values (``len(values) − window + 1`` results)."""
    values = np.asarray(values, dtype=np.float64)
    if window < 1 or window > len(values):
        raise ValueError(f"window must be between 1 and {len(values)}, got {window}")
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    return (cumulative[window:] - cumulative[:-window]) / window


def _cycle(colors: Sequence[str], count: int) -> list[str]:
    return [colors[i % len(colors)] for i in range(count)]


def show_image_rows(rows, row_labels: Sequence[str], *, col_labels: Sequence | None = None, title: str | None = None,
                    size: float = 0.9, cmap: str = "gray_r"):
    """Show R rows of N images (an R×N×1×H×W tensor or array) with a label left of each row: strips and progress grids."""
    batches = [as_image_batch(row) for row in rows]
    count, ncols = len(batches), max(len(batch) for batch in batches)
    if len(row_labels) != count:
        raise ValueError(f"got {count} rows of images but {len(row_labels)} row labels")
    if col_labels is not None and len(col_labels) != ncols:
        raise ValueError(f"got {ncols} columns of images but {len(col_labels)} column labels")
    with course_style():
        fig, axes = plt.subplots(count, ncols, figsize=(size * ncols + 1.2, size * count + (0.3 if title else 0)),
                                 squeeze=False)
        for r, (batch, label) in enumerate(zip(batches, row_labels)):
            for c, ax in enumerate(axes[r]):
                ax.set_xticks([]), ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
                if c < len(batch):
                    ax.imshow(batch[c], cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
                if r == 0 and col_labels is not None:
                    ax.set_title(_label_text(col_labels[c]), fontsize=9, pad=2)
            axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
        if title:
            fig.suptitle(title)
        title_room = 0.35 / fig.get_figheight() if title else 0.0
        fig.tight_layout(pad=0.3, rect=(0.0, 0.0, 1.0, 1.0 - title_room))
    return fig
