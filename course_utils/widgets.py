"""Interactive explorers built with ipywidgets. The update logic of each is a plain function, tested without a browser."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from ipywidgets import Dropdown, FloatSlider, HBox, IntSlider, VBox, interactive_output

from .latent import INTERPOLATIONS, add_direction, interpolate
from .viz import show_images


# --- VAE latent sliders and image editing (notebook 03) ---

def decode_latent(model, z) -> torch.Tensor:
    """The digit (28×28 pixel means in [0, 1]) that a VAE decodes from one latent code ``z`` (a list or 1-D tensor)."""
    z = torch.as_tensor(z, dtype=torch.float32).reshape(-1)
    if z.numel() != model.latent_dim:
        raise ValueError(f"this VAE has a {model.latent_dim}-D latent space, but the code has {z.numel()} values")
    device = next(model.parameters()).device
    return model.images(z.to(device)[None])[0, 0].cpu()


def edit_latent(model, image: torch.Tensor, dim: int, value: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Encode ``image`` (1×28×28 or 28×28), set latent dimension ``dim`` of its mean code to ``value``, decode.

    Returns ``(code, reconstruction, edited)``: the original mean code and the two 28×28 decoded images.
    """
    if not 0 <= dim < model.latent_dim:
        raise ValueError(f"dim must be between 0 and {model.latent_dim - 1}, got {dim}")
    device = next(model.parameters()).device
    with torch.no_grad():
        code = model.encode(image.reshape(1, 1, 28, 28).to(device))[0][0].cpu()
    edited = code.clone()
    edited[dim] = value
    return code, decode_latent(model, code), decode_latent(model, edited)


@torch.no_grad()
def most_used_dims(model, images: torch.Tensor, count: int) -> list[int]:
    """The ``count`` latent dimensions with the largest average KL on ``images``: the ones the decoder relies on.

    Dimensions the VAE does not use keep q(z|x) ≈ N(0, 1) (KL ≈ 0), and moving them changes almost nothing.
    """
    mu, logvar = model.encode(images.to(next(model.parameters()).device))
    kl_per_dim = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).mean(dim=0)
    return kl_per_dim.argsort(descending=True)[:count].tolist()


def image_png(image: torch.Tensor, scale: int = 6) -> bytes:
    """A 28×28 image in [0, 1] as PNG bytes, ``scale`` times larger, ink dark on white (for an ipywidgets Image)."""
    from io import BytesIO

    import matplotlib.image

    pixels = torch.as_tensor(image).detach().cpu().float().reshape(28, 28).clamp(0, 1).numpy()
    big = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = BytesIO()
    matplotlib.image.imsave(buffer, 1.0 - big, cmap="gray", vmin=0.0, vmax=1.0, format="png")
    return buffer.getvalue()


def latent_sliders(model, start, dims: list[int], span: float = 3.0):
    """Sliders over the latent dimensions ``dims`` of a VAE, starting at code ``start``; the digit redraws on release.

    Dimensions without a slider keep their value from ``start``. Returns the widget to display.
    """
    import ipywidgets as widgets

    code = torch.as_tensor(start, dtype=torch.float32).reshape(-1).clone()
    picture = widgets.Image(value=image_png(decode_latent(model, code)), format="png", width=168, height=168)
    sliders = [widgets.FloatSlider(value=float(code[d]), min=-span, max=span, step=0.1, description=f"z[{d}]",
                                   continuous_update=False) for d in dims]

    def redraw(_change=None):
        for dim, slider in zip(dims, sliders):
            code[dim] = slider.value
        picture.value = image_png(decode_latent(model, code))

    for slider in sliders:
        slider.observe(redraw, names="value")
    return widgets.HBox([widgets.VBox(sliders), picture])


def image_editor(model, images: torch.Tensor, span: float = 3.0):
    """Pick a digit, pick a latent dimension, move it: shows the digit, its reconstruction and the edited version."""
    import ipywidgets as widgets

    index = widgets.IntSlider(value=0, min=0, max=len(images) - 1, description="digit #", continuous_update=False)
    dim = widgets.IntSlider(value=0, min=0, max=model.latent_dim - 1, description="dimension", continuous_update=False)
    value = widgets.FloatSlider(value=0.0, min=-span, max=span, step=0.1, description="new value", continuous_update=False)
    pictures = [widgets.Image(format="png", width=140, height=140) for _ in range(3)]
    captions = [widgets.Label(text) for text in ("test digit", "reconstruction", "edited")]
    status = widgets.Label()

    def redraw(_change=None):
        image = images[index.value]
        code, reconstruction, edited = edit_latent(model, image, dim.value, value.value)
        for picture, shown in zip(pictures, (image, reconstruction, edited)):
            picture.value = image_png(shown, scale=5)
        status.value = f"z[{dim.value}] of this digit is {code[dim.value]:+.2f}; now set to {value.value:+.1f}"

    def start_from_digit(_change=None):
        code = edit_latent(model, images[index.value], dim.value, 0.0)[0]
        own_value = round(float(code[dim.value]), 1)
        if value.value == own_value:
            redraw()
        else:
            value.value = own_value

    index.observe(start_from_digit, names="value")
    dim.observe(start_from_digit, names="value")
    value.observe(redraw, names="value")
    start_from_digit()
    columns = [widgets.VBox([caption, picture]) for caption, picture in zip(captions, pictures)]
    return widgets.VBox([widgets.HBox([index, dim, value]), widgets.HBox(columns), status])


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
