"""Figures for the GAN notebook: a 1-D GAN's densities and discriminators, 2-D samples against a mixture's modes,
and a GAN's training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .viz import COLORS, course_style, moving_average


def plot_1d_snapshots(x: torch.Tensor, p_data: torch.Tensor, snapshots: Sequence[Mapping], titles: Sequence[str],
                      limit: float = 6.0):
    """One panel per snapshot (from ``snapshot_1d``): p_data, a histogram of G's samples, D(x) and D*(x).

    D* is drawn only where real or fake data has some mass; elsewhere it is a ratio of two near-zero numbers.
    """
    if len(snapshots) != len(titles) or not snapshots:
        raise ValueError(f"need one title per snapshot, got {len(snapshots)} snapshots and {len(titles)} titles")
    with course_style():
        fig, axes = plt.subplots(1, len(snapshots), figsize=(3.1 * len(snapshots), 3.0), sharey=True, squeeze=False)
        for ax, snap, title in zip(axes[0], snapshots, titles):
            seen = (p_data + snap["p_g"]) / 2 > 1e-3
            ax.hist(snap["samples"].numpy(), bins=120, range=(-limit, limit), density=True,
                    color=COLORS[1], alpha=0.35, label="G's samples")
            ax.plot(x, p_data, color=COLORS[0], linewidth=2, label="p_data")
            ax.plot(x, snap["d"], color=COLORS[2], linewidth=2, label="D(x)")
            ax.plot(x[seen], snap["d_star"][seen], color="black", linestyle="--", linewidth=1.5, label="D*(x)")
            ax.set_title(f"{title}\n|D − D*| = {snap['gap']:.3f}", fontsize=10)
            ax.set_xlabel("x")
            ax.set_xlim(-limit, limit), ax.set_ylim(0, 1.05)
        axes[0, 0].legend(loc="upper left", fontsize=8)
        axes[0, 0].set_ylabel("density, or D(x)")
        fig.tight_layout()
    return fig


def plot_2d_snapshots(rows: Mapping[str, Sequence[tuple[torch.Tensor, str]]], modes: torch.Tensor, limit: float = 3.0):
    """A grid of scatter plots: one row per setting, one column per snapshot ``(samples, title)``; modes as crosses."""
    if not rows or not any(rows.values()):
        raise ValueError("there are no snapshots to plot")
    columns = max(len(snaps) for snaps in rows.values())
    with course_style():
        fig, axes = plt.subplots(len(rows), columns, figsize=(2.3 * columns, 2.4 * len(rows)), squeeze=False)
        for row, (name, snaps) in zip(axes, rows.items()):
            for ax, (samples, title) in zip(row, snaps):
                ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.3, color=COLORS[1])
                ax.scatter(modes[:, 0], modes[:, 1], marker="x", color="black", s=30)
                ax.set_xlim(-limit, limit), ax.set_ylim(-limit, limit)
                ax.set_aspect("equal"), ax.set_xticks([]), ax.set_yticks([])
                ax.set_title(title, fontsize=9)
            row[0].set_ylabel(name, fontsize=10)
            for ax in row[len(snaps):]:
                ax.axis("off")
        fig.tight_layout()
    return fig


def plot_gan_curves(history: Mapping[str, Sequence[float]], smooth: int = 5):
    """Two panels: the two losses (noisy, with no trend to read) and D(x), D(G(z)) (where the game is visible).

    ``history`` needs ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake``; ``steps``, if present, labels the x axis.
    """
    missing = [key for key in ("d_loss", "g_loss", "d_real", "d_fake") if key not in history]
    if missing:
        raise KeyError(f"the history lacks {missing}; make_gan_step logs d_loss, g_loss, d_real and d_fake")
    count = len(history["d_loss"])
    steps = np.asarray(history["steps"], dtype=float) if "steps" in history else np.arange(1, count + 1)
    with course_style():
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
        for ax, keys, title in [(axes[0], ("d_loss", "g_loss"), "the losses"),
                                (axes[1], ("d_real", "d_fake"), "mean D(x) on real and D(G(z)) on fake")]:
            for key, color in zip(keys, COLORS):
                values = np.asarray(history[key], dtype=float)
                ax.plot(steps, values, color=color, alpha=0.3, linewidth=1)
                if count >= smooth:
                    ax.plot(steps[smooth - 1:], moving_average(values, smooth), color=color, linewidth=2, label=key)
            ax.set_title(title), ax.set_xlabel("training step"), ax.legend()
        fig.tight_layout()
    return fig


def plot_generator_losses(d_fake: torch.Tensor, curves: Mapping[str, tuple[torch.Tensor, torch.Tensor]]):
    """Two panels against D(G(z)): each generator loss, and its gradient with respect to D's logit.

    ``curves`` maps a loss's name to ``(values, gradients)`` computed at the logits behind ``d_fake``; the shaded
    band marks D(G(z)) ≈ 0, where training starts and the saturating loss has almost no gradient.
    """
    with course_style():
        fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(10, 3.1))
        for (name, (values, gradients)), color in zip(curves.items(), COLORS):
            ax_loss.plot(d_fake, values, label=name, color=color, linewidth=2)
            ax_grad.plot(d_fake, gradients, label=name, color=color, linewidth=2)
        ax_loss.set(xlabel="D(G(z))", ylabel="generator loss", title="G minimises either loss")
        ax_grad.set(xlabel="D(G(z))", ylabel="∂ loss / ∂ logit", title="…but only one has a gradient at D(G(z)) ≈ 0")
        ax_grad.axvspan(0, 0.05, color="grey", alpha=0.2)
        ax_grad.text(0.06, -0.9, "start of training", fontsize=9)
        ax_loss.legend()
        fig.tight_layout()
    return fig
