"""Interactive explorers built with ipywidgets. The update logic of each is a plain function, tested without a browser."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from ipywidgets import Dropdown, FloatSlider, HBox, IntSlider, VBox, interactive_output

from .latent import INTERPOLATIONS, add_direction, interpolate
from .viz import show_images


# --- VAE latent sliders and image editing (notebook 03) ---


# --- DCGAN interpolation and arithmetic explorers (notebook 05) ---

def interpolation_frames(sample, latents: torch.Tensor, start: int, end: int, steps: int = 9,
                         method: str = "spherical") -> tuple[torch.Tensor, list[str]]:
    """Images along the path from ``latents[start]`` to ``latents[end]`` and a label per frame (t and |z|).

    ``sample(z)`` turns latents into images in [0, 1] (e.g. ``gan.sample``). This is the interpolation explorer's
    whole update; it takes a few milliseconds on a CPU.
    """
    for name, index in (("start", start), ("end", end)):
        if not 0 <= index < len(latents):
            raise ValueError(f"{name} must be an index between 0 and {len(latents) - 1}, got {index}")
    path = interpolate(latents[start], latents[end], steps, method)
    labels = [f"t={t:.2f}\n|z|={norm:.1f}" for t, norm in zip(torch.linspace(0, 1, steps).tolist(), path.norm(dim=1).tolist())]
    return sample(path), labels


def arithmetic_frames(sample, targets: torch.Tensor, direction: torch.Tensor, strength: float,
                      attribute) -> tuple[torch.Tensor, list[str], float]:
    """Images for ``targets + strength·direction``, their measured attribute as labels, and its mean.

    The arithmetic explorer's whole update: one generator pass over a handful of latents.
    """
    images = sample(add_direction(targets, direction, [strength])[0])
    measured = attribute(images)
    return images, [f"{value:.2f}" for value in measured.tolist()], float(measured.mean())


def interpolation_explorer(sample, latents: torch.Tensor, steps: int = 9):
    """Sliders pick two of ``latents``; a menu picks linear or spherical; the strip between them redraws on release."""
    start = IntSlider(value=0, min=0, max=len(latents) - 1, description="from sample", continuous_update=False)
    end = IntSlider(value=1, min=0, max=len(latents) - 1, description="to sample", continuous_update=False)
    method = Dropdown(options=sorted(INTERPOLATIONS, reverse=True), value="spherical", description="path")

    def draw(start, end, method):
        images, labels = interpolation_frames(sample, latents, start, end, steps, method)
        show_images(images, labels, ncols=steps, size=1.0, title=f"{method} interpolation, sample {start} → sample {end}")
        plt.show()

    return VBox([HBox([start, end, method]), interactive_output(draw, {"start": start, "end": end, "method": method})])


def arithmetic_explorer(sample, targets: torch.Tensor, directions: dict[str, torch.Tensor], attributes: dict):
    """A menu picks an attribute vector, a slider how much of it to add to ``targets``; the measured value is shown."""
    name = Dropdown(options=list(directions), description="attribute")
    strength = FloatSlider(value=0.0, min=-2.0, max=2.0, step=0.25, description="strength", continuous_update=False)

    def draw(name, strength):
        images, labels, mean = arithmetic_frames(sample, targets, directions[name], strength, attributes[name])
        show_images(images, labels, ncols=len(targets), size=1.0,
                    title=f"z + {strength:+.2f}·({name} vector): measured {name} {mean:.3f} on average")
        plt.show()

    return VBox([HBox([name, strength]), interactive_output(draw, {"name": name, "strength": strength})])
