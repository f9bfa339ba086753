"""Interactive explorers built with ipywidgets, all in one style: controls that act when released, one picture.

Every explorer is a row of controls (``continuous_update=False``, so a drag does not queue dozens of redraws) above
an ``Image`` widget that is redrawn when a control changes. What is drawn comes from a plain function
(``decode_latent``, ``edit_latent``, ``interpolation_frames``, ``arithmetic_frames``), tested without a browser.
A figure drawn for a picture is closed once it is PNG bytes (``figure_png``), so no number of redraws leaves figures
open, with or without an inline backend to close them.
"""

from __future__ import annotations

import torch
from ipywidgets import HTML, Button, Dropdown, FloatSlider, HBox, Image, IntSlider, Label, VBox

from ..maths.latent import INTERPOLATIONS, add_direction, interpolate
from ..maths.losses import gaussian_kl
from .viz import figure_png, image_png, show_images

LABELS = {"description_width": "initial"}     # every control shows its whole label ("from sample", not "from sam…")


# --- Latent sliders and image editing (notebook 03) ---

def decode_latent(model, z) -> torch.Tensor:
    """The 28×28 image in [0, 1] that a generative model decodes from one latent code ``z`` (a list or 1-D tensor)."""
    z = torch.as_tensor(z, dtype=torch.float32).reshape(-1)
    if z.numel() != model.latent_dim:
        raise ValueError(f"this model has a {model.latent_dim}-D latent space, but the code has {z.numel()} values")
    return model.decode(z.to(model.device)[None])[0, 0].cpu()


def edit_latent(model, image: torch.Tensor, dim: int, value: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Encode ``image`` (1×28×28 or 28×28), set latent dimension ``dim`` of its mean code to ``value``, decode.

    Returns ``(code, reconstruction, edited)``: the original mean code and the two 28×28 decoded images.
    """
    if not 0 <= dim < model.latent_dim:
        raise ValueError(f"dim must be between 0 and {model.latent_dim - 1}, got {dim}")
    with torch.no_grad():
        code = model.encode(image.reshape(1, 1, 28, 28).to(model.device))[0][0].cpu()
    edited = code.clone()
    edited[dim] = value
    return code, decode_latent(model, code), decode_latent(model, edited)


@torch.no_grad()
def most_used_dims(model, images: torch.Tensor, count: int) -> list[int]:
    """The ``count`` latent dimensions with the largest average KL on ``images``: the ones the decoder relies on.

    Dimensions the VAE does not use keep q(z|x) ≈ N(0, 1) (KL ≈ 0), and moving them changes almost nothing.
    """
    mu, logvar = model.encode(images.to(model.device))
    return gaussian_kl(mu, logvar, per_dimension=True).mean(dim=0).argsort(descending=True)[:count].tolist()


def latent_sliders(model, start, dims: list[int], span: float = 3.0):
    """Sliders over the latent dimensions ``dims`` of a model, starting at code ``start``; the digit redraws on release.

    Dimensions without a slider keep their value from ``start``. Returns the widget to display.
    """
    code = torch.as_tensor(start, dtype=torch.float32).reshape(-1).clone()
    if code.numel() != model.latent_dim:
        raise ValueError(f"this model has a {model.latent_dim}-D latent space, but start has {code.numel()} values")
    outside = [d for d in dims if not 0 <= d < model.latent_dim]
    if outside:
        raise ValueError(f"dims must be latent dimensions between 0 and {model.latent_dim - 1}, got {outside}")
    picture = Image(format="png", width=168, height=168)
    sliders = [FloatSlider(value=float(code[d]), min=-span, max=span, step=0.1, description=f"z[{d}]",
                           continuous_update=False, style=LABELS) for d in dims]

    def redraw(_change=None):
        for dim, slider in zip(dims, sliders):
            code[dim] = slider.value
        picture.value = image_png(decode_latent(model, code))

    _redraw_on_change(sliders, redraw)
    return HBox([VBox(sliders), picture])


def image_editor(model, images: torch.Tensor, span: float = 3.0):
    """Pick a digit, pick a latent dimension, move it: shows the digit, its reconstruction and the edited version."""
    if len(images) == 0:
        raise ValueError(f"image_editor needs at least one image, got an empty batch of shape {tuple(images.shape)}")
    index = IntSlider(value=0, min=0, max=len(images) - 1, description="digit #", continuous_update=False,
                      style=LABELS)
    dim = IntSlider(value=0, min=0, max=model.latent_dim - 1, description="dimension", continuous_update=False,
                    style=LABELS)
    value = FloatSlider(value=0.0, min=-span, max=span, step=0.1, description="new value", continuous_update=False,
                        style=LABELS)
    pictures = [Image(format="png", width=140, height=140) for _ in range(3)]
    captions = [Label(text) for text in ("test digit", "reconstruction", "edited")]
    status = Label()

    def redraw(_change=None):
        image = images[index.value]
        code, reconstruction, edited = edit_latent(model, image, dim.value, value.value)
        for picture, shown in zip(pictures, (image, reconstruction, edited)):
            picture.value = image_png(shown, scale=5)
        status.value = f"z[{dim.value}] of this digit is {code[dim.value]:+.2f}; now set to {value.value:+.1f}"

    def start_from_digit(_change=None):
        """Move the slider to the digit's own value and redraw: always, as a slider clamped at ±span may not move."""
        code = edit_latent(model, images[index.value], dim.value, 0.0)[0]
        value.unobserve(redraw, names="value")
        value.value = round(float(code[dim.value]), 1)
        value.observe(redraw, names="value")
        redraw()

    index.observe(start_from_digit, names="value")
    dim.observe(start_from_digit, names="value")
    value.observe(redraw, names="value")
    start_from_digit()
    columns = [VBox([caption, picture]) for caption, picture in zip(captions, pictures)]
    return VBox([HBox([index, dim, value]), HBox(columns), status])


# --- Interpolation and arithmetic explorers for any generative model (notebook 05) ---

def interpolation_frames(model, latents: torch.Tensor, start: int, end: int, steps: int = 9,
                         method: str = "spherical") -> tuple[torch.Tensor, list[str]]:
    """Images along the path from ``latents[start]`` to ``latents[end]`` and a label per frame (t and |z|).

    ``model`` is any generative model of the course (``model.decode(z)`` gives images in [0, 1]). This is the
    interpolation explorer's whole update; it takes a few milliseconds on a CPU.
    """
    for name, index in (("start", start), ("end", end)):
        if not 0 <= index < len(latents):
            raise ValueError(f"{name} must be an index between 0 and {len(latents) - 1}, got {index}")
    path = interpolate(latents[start], latents[end], steps, method)
    labels = [f"t={t:.2f}\n|z|={norm:.1f}" for t, norm in zip(torch.linspace(0, 1, steps).tolist(), path.norm(dim=1).tolist())]
    return model.decode(path), labels


def arithmetic_frames(model, targets: torch.Tensor, direction: torch.Tensor, strength: float,
                      attribute) -> tuple[torch.Tensor, list[str], float]:
    """Images for ``targets + strength·direction``, their measured attribute as labels, and its mean.

    The arithmetic explorer's whole update: one decoder pass over a handful of latents.
    """
    images = model.decode(add_direction(targets, direction, [strength])[0])
    measured = attribute(images)
    return images, [f"{value:.2f}" for value in measured.tolist()], float(measured.mean())


def interpolation_explorer(model, latents: torch.Tensor, steps: int = 9):
    """Sliders pick two of ``latents``; a menu picks linear or spherical; the strip between them redraws on release."""
    if len(latents) < 2:
        raise ValueError(f"interpolation_explorer needs at least two latent vectors to walk between, got {len(latents)}")
    start = IntSlider(value=0, min=0, max=len(latents) - 1, description="from sample", continuous_update=False,
                      style=LABELS)
    end = IntSlider(value=1, min=0, max=len(latents) - 1, description="to sample", continuous_update=False,
                    style=LABELS)
    method = Dropdown(options=sorted(INTERPOLATIONS, reverse=True), value="spherical", description="path", style=LABELS)
    picture = Image(format="png")

    def redraw(_change=None):
        images, labels = interpolation_frames(model, latents, start.value, end.value, steps, method.value)
        picture.value = figure_png(show_images(images, labels, ncols=steps, size=1.0,
                                               title=f"{method.value} interpolation, sample {start.value} → sample {end.value}"))

    _redraw_on_change([start, end, method], redraw)
    return VBox([HBox([start, end, method]), picture])


def arithmetic_explorer(model, targets: torch.Tensor, directions: dict[str, torch.Tensor], attributes: dict,
                        span: float = 1.0):
    """A menu picks an attribute vector, a slider how much of it (−``span`` … ``span``) to add to ``targets``; the
    measured value is shown."""
    if len(targets) == 0 or not directions:
        raise ValueError(f"arithmetic_explorer needs at least one target and one attribute vector, got {len(targets)} "
                         f"targets and {len(directions)} vectors")
    name = Dropdown(options=list(directions), description="attribute", style=LABELS)
    strength = FloatSlider(value=0.0, min=-span, max=span, step=span / 8, description="strength",
                           continuous_update=False, style=LABELS)
    picture = Image(format="png")

    def redraw(_change=None):
        images, labels, mean = arithmetic_frames(model, targets, directions[name.value], strength.value,
                                                 attributes[name.value])
        picture.value = figure_png(show_images(images, labels, ncols=len(targets), size=1.0,
                                               title=f"z + {strength.value:+.2f}·({name.value} vector): "
                                                     f"measured {name.value} {mean:.3f} on average"))

    _redraw_on_change([name, strength], redraw)
    return VBox([HBox([name, strength]), picture])


# --- Real or fake? (notebook 08) ---

def game_summary(game, reference: dict[str, float] | None = None) -> str:
    """The end-of-game table as HTML: the player's accuracy overall, on real digits and on each model (its cards
    and the real ones, scored as the two-sample classifier is), with the cards each row rests on, beside ``reference`` (e.g. the two-sample classifier's accuracy per model) where given."""
    results = game.results()
    reference = reference or {}
    counts = game.cards()
    rows = "".join(f"<tr><td>{'real digits' if name == 'real' else name}</td><td>{counts[name]}</td><td>{share:.0%}</td>"
                   f"<td>{f'{reference[name]:.0%}' if name in reference else '—'}</td></tr>"
                   for name, share in results.items())
    return ("<table><tr><th>cards</th><th>how many</th><th>your accuracy</th><th>classifier two-sample test</th></tr>"
            f"{rows}</table>")


def real_or_fake(game, reference: dict[str, float] | None = None):
    """One digit at a time from ``game`` (a :class:`~course_utils.teaching.real_or_fake.RealOrFakeGame`); the player
    presses Real or Fake (both buttons take the keyboard focus: Tab, then Enter or Space), sees whether they were
    right, and at the end the table of :func:`game_summary`."""
    picture = Image(format="png", width=168, height=168)
    real_button, fake_button = Button(description="Real"), Button(description="Fake")
    progress, status, summary = Label(), Label(), HTML()

    def show_current():
        card = game.current
        if card is None:
            real_button.disabled = fake_button.disabled = True
            progress.value = f"All {len(game.deck)} cards judged."
            summary.value = game_summary(game, reference)
            return
        picture.value = image_png(card.image)
        progress.value = f"Card {len(game.answers) + 1} of {len(game.deck)}: real or fake?"

    def judge(says_real: bool):
        card = game.current
        if card is None:
            return
        right = game.answer(says_real)
        where = "a real digit" if card.is_real else f"from the {card.source}"
        status.value = f"{'Right' if right else 'Wrong'}: that one was {where}."
        show_current()

    real_button.on_click(lambda _: judge(True))
    fake_button.on_click(lambda _: judge(False))
    show_current()
    return VBox([progress, picture, HBox([real_button, fake_button]), status, summary])


def _redraw_on_change(controls, redraw) -> None:
    """Call ``redraw`` now and whenever one of ``controls`` gets a new value (sliders only on release)."""
    for control in controls:
        control.observe(redraw, names="value")
    redraw()
