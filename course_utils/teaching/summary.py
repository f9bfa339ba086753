"""Shape tables: what each layer of a network does to a tensor, and how many parameters it has.

A table makes an architecture's arithmetic visible ("7×7 → 14×14") next to the code that spells it out.
"""

from __future__ import annotations

import torch
from torch import nn

from ..evaluation.tables import markdown_table


def layer_table(net: nn.Sequential, example: torch.Tensor) -> list[tuple[str, tuple[int, ...], int]]:
    """(layer, output shape without the batch, parameter count) for every layer of ``net`` on ``example``.

    The first row is the input itself. ``example`` must already have the shape the first layer expects (for a
    generator that projects z with a transposed convolution: N×latent_dim×1×1).
    """
    rows, x = [("input", tuple(example.shape[1:]), 0)], example
    with torch.no_grad():
        for layer in net:
            x = layer(x)
            if not isinstance(layer, nn.Identity):                 # a placeholder that does nothing gets no row
                rows.append((describe_layer(layer), tuple(x.shape[1:]), sum(p.numel() for p in layer.parameters())))
    return rows


def describe_layer(layer: nn.Module) -> str:
    """A short name for a layer, with the settings that decide its output size (kernel, stride, padding), and
    "spectral norm" where its weights are spectrally normalised."""
    name = type(layer).__name__.removeprefix("Parametrized")
    if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        name = (f"{name}({layer.in_channels}→{layer.out_channels}, "
                f"k={layer.kernel_size[0]}, s={layer.stride[0]}, p={layer.padding[0]})")
    elif isinstance(layer, nn.LeakyReLU):
        name = f"LeakyReLU({layer.negative_slope})"
    if nn.utils.parametrize.is_parametrized(layer, "weight"):
        name += " + spectral norm"
    return name


def layer_table_markdown(net: nn.Sequential, example: torch.Tensor) -> str:
    """:func:`layer_table` as a Markdown table, for ``display(Markdown(...))`` in a notebook."""
    return markdown_table(["layer", "output shape (C×H×W)", "parameters"],
                          ([name, "×".join(map(str, shape)), f"{count:,}"] for name, shape, count in layer_table(net, example)),
                          [False, False, True])


def module_table(net: nn.Module, *inputs) -> list[tuple[str, str, tuple[int, ...], tuple[int, ...], int]]:
    """(name, layer, first input's shape, output shape, parameter count) for each direct child of ``net``, in the
    order ``net(*inputs)`` calls them: the shape table of a network whose ``forward`` is more than a chain, such as
    a U-Net with skip connections. Shapes leave out the batch."""
    rows, handles = [], []

    def record(name):
        def hook(layer, layer_inputs, output):
            rows.append((name, describe_layer(layer), tuple(layer_inputs[0].shape[1:]), tuple(output.shape[1:]),
                         sum(p.numel() for p in layer.parameters())))
        return hook

    for name, layer in net.named_children():
        handles.append(layer.register_forward_hook(record(name)))
    try:
        with torch.no_grad():
            net(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return rows


def module_table_markdown(net: nn.Module, *inputs) -> str:
    """:func:`module_table` as a Markdown table, with the total parameter count in its last row."""
    rows = module_table(net, *inputs)
    shape = lambda dims: "×".join(map(str, dims)) or "one number"          # noqa: E731
    total = ["**total**", "", "", "", f"**{sum(p.numel() for p in net.parameters()):,}**"]
    return markdown_table(["part", "layer", "input", "output", "parameters"],
                          [*([f"`{name}`", layer, shape(given), shape(made), f"{count:,}"]
                             for name, layer, given, made, count in rows), total], [False] * 4 + [True])
