"""DCGAN (Radford, Metz & Chintala, 2016): a convolutional generator and its mirror-image discriminator.

The generator projects a noise vector z to a small stack of feature maps (7×7 for 28-pixel images, 4×4 for 32 or
64) and doubles the resolution with strided transposed convolutions until it reaches the image; the discriminator
halves it with strided convolutions down to one logit. Both follow the paper's guidelines: no pooling, batch norm,
ReLU in G with a Tanh output, LeakyReLU(0.2) in D, weights drawn from N(0, 0.02).
"""

from __future__ import annotations

import inspect
import math
import time

import torch
from torch import nn

from ..checkpoints import pretrained
from ..config import budget
from ..data import Minibatches, load_mnist, to_pixels, to_tanh_range
from ..device import autocast_dtype, memory_format
from ..gan import make_gan_step, sample_latent
from ..train import train

IMAGE_SIZES = (28, 32, 64)


def _resolution_plan(image_size: int) -> tuple[int, int]:
    """(size of the first feature map, number of ×2 upsamplings) that reach ``image_size``."""
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {image_size!r}")
    base = 7 if image_size == 28 else 4
    return base, int(math.log2(image_size // base))


class Generator(nn.Module):
    """z (N×latent_dim) → image N×channels×size×size in [−1, 1]; ``width`` channels just before the output layer."""

    def __init__(self, latent_dim: int = 100, width: int = 32, image_size: int = 28, channels: int = 1):
        super().__init__()
        base, upsamplings = _resolution_plan(image_size)
        self.latent_dim, self.image_size = latent_dim, image_size
        features = width * 2 ** (upsamplings - 1)
        layers = [nn.ConvTranspose2d(latent_dim, features, base, 1, 0, bias=False), nn.BatchNorm2d(features), nn.ReLU(True)]
        for _ in range(upsamplings - 1):
            layers += [nn.ConvTranspose2d(features, features // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(features // 2), nn.ReLU(True)]
            features //= 2
        layers += [nn.ConvTranspose2d(features, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"the generator expects latent vectors shaped N×{self.latent_dim}, got {tuple(z.shape)}")
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    """Image N×channels×size×size in [−1, 1] → one real-vs-fake logit per image (shape N)."""

    def __init__(self, width: int = 32, image_size: int = 28, channels: int = 1):
        super().__init__()
        base, downsamplings = _resolution_plan(image_size)
        self.image_size, self.channels = image_size, channels
        layers = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        features = width
        for _ in range(downsamplings - 1):
            layers += [nn.Conv2d(features, features * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(features * 2), nn.LeakyReLU(0.2, True)]
            features *= 2
        layers += [nn.Conv2d(features, 1, base, 1, 0)]
        self.net = nn.Sequential(*layers)

    @property
    def first_filters(self) -> torch.Tensor:
        """The first layer's filters (width×channels×4×4): what D looks for in the raw pixels."""
        return self.net[0].weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"the discriminator expects images shaped N×{'×'.join(map(str, expected))}, got {tuple(x.shape)}")
        return self.net(x).flatten()


class DCGAN(nn.Module):
    """A generator and a discriminator kept together, so one checkpoint holds both; weights start at N(0, 0.02)."""

    def __init__(self, latent_dim: int = 100, width: int = 32, image_size: int = 28, channels: int = 1):
        super().__init__()
        self.latent_dim = latent_dim
        self.generator = Generator(latent_dim, width, image_size, channels)
        self.discriminator = Discriminator(width, image_size, channels)
        self.apply(init_dcgan_weights)

    @torch.no_grad()
    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """Images for the latent vectors ``z`` in [0, 1] (ready for plots and the digit classifier), G in eval mode."""
        was_training = self.generator.training
        self.generator.eval()
        images = to_pixels(self.generator(z))
        self.generator.train(was_training)
        return images


def init_dcgan_weights(module: nn.Module) -> None:
    """The paper's initialisation: conv weights ~ N(0, 0.02); batch-norm γ ~ N(1, 0.02), β = 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def shape_table(model: nn.Module, example: torch.Tensor) -> list[tuple[str, tuple[int, ...], int]]:
    """(layer, output shape without the batch, parameter count) for every layer of ``model.net`` on ``example``."""
    rows, x = [], example
    if isinstance(model, Generator):
        x = x[:, :, None, None]
        rows.append(("input z", tuple(x.shape[1:]), 0))
    else:
        rows.append(("input image", tuple(x.shape[1:]), 0))
    with torch.no_grad():
        for layer in model.net:
            x = layer(x)
            rows.append((_describe_layer(layer), tuple(x.shape[1:]), sum(p.numel() for p in layer.parameters())))
    return rows


def _describe_layer(layer: nn.Module) -> str:
    if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        return (f"{type(layer).__name__}({layer.in_channels}→{layer.out_channels}, "
                f"k={layer.kernel_size[0]}, s={layer.stride[0]}, p={layer.padding[0]})")
    if isinstance(layer, nn.LeakyReLU):
        return f"LeakyReLU({layer.negative_slope})"
    return type(layer).__name__


def shape_table_markdown(model: nn.Module, example: torch.Tensor) -> str:
    """:func:`shape_table` as a Markdown table, for ``display(Markdown(...))`` in a notebook."""
    lines = ["| layer | output shape (C×H×W) | parameters |", "| --- | --- | ---: |"]
    lines += [f"| {name} | {'×'.join(map(str, shape))} | {count:,} |" for name, shape, count in shape_table(model, example)]
    return "\n".join(lines)


# --- Batch normalisation, per channel or per unit ---

def batchnorm_shift_maps(features: torch.Tensor, per: str = "channel", eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """How batch norm (γ = 1, β = 0) transforms every pixel: ``y = scale·x + shift``, returned as C×H×W maps.

    ``per="channel"`` uses one mean and variance per channel, over the batch and all positions (``BatchNorm2d``):
    every pixel of a feature map gets the same scale and shift. ``per="unit"`` treats every (channel, row, column)
    as its own unit with its own statistics (``BatchNorm1d`` on flattened maps): the shift varies across the map.
    """
    if features.ndim != 4:
        raise ValueError(f"features must be a batch of feature maps shaped N×C×H×W, got {tuple(features.shape)}")
    if per == "channel":
        mean = features.mean(dim=(0, 2, 3), keepdim=True)[0].expand(features.shape[1:])
        var = features.var(dim=(0, 2, 3), unbiased=False, keepdim=True)[0].expand(features.shape[1:])
    elif per == "unit":
        mean, var = features.mean(dim=0), features.var(dim=0, unbiased=False)
    else:
        raise ValueError(f"per must be 'channel' or 'unit', got {per!r}")
    scale = 1 / torch.sqrt(var + eps)
    return scale, -mean * scale


# --- Training, and the cached model used by notebook 05 ---

def fit_dcgan(gan: DCGAN, images: torch.Tensor, epochs: int, batch_size: int = 64,
              snapshot_noise: torch.Tensor | None = None, progress: bool = True) -> dict:
    """Train ``gan`` in place on ``images`` (in [0, 1]); returns the history, wall and CPU time and, if
    ``snapshot_noise`` is given, the generator's images for that fixed noise after every epoch."""
    device = images.device
    layout = memory_format(device)                    # channels_last on CUDA, where tensor cores like it
    real = to_tanh_range(images).contiguous(memory_format=layout)
    gan.to(device, memory_format=layout).train()
    g_opt = torch.optim.Adam(gan.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(gan.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    step = make_gan_step(gan.generator, gan.discriminator, g_opt, d_opt, gan.latent_dim,
                         autocast_dtype=autocast_dtype(device))   # bfloat16 on a CUDA GPU, float32 elsewhere
    snapshots = []

    def snapshot(epoch, history):
        if snapshot_noise is not None:
            snapshots.append(gan.sample(snapshot_noise.to(device)).cpu())

    start, cpu_start = time.perf_counter(), time.process_time()
    history = train(step, Minibatches(real, batch_size=batch_size, drop_last=True), epochs,
                    on_epoch_end=snapshot, progress=progress, description="DCGAN")
    gan.eval()
    return {"history": {name: list(values) for name, values in history.items()}, "steps": history.steps[-1],
            "train_seconds": time.perf_counter() - start, "train_cpu_seconds": time.process_time() - cpu_start,
            "device": str(device),
            "snapshots": torch.stack(snapshots) if snapshots else torch.empty(0)}


DEFAULT_WIDTH = 32
LATENT_DIM = 100
BATCH_SIZE = 32
SNAPSHOT_SEED = 5


def snapshot_noise(count: int = 16) -> torch.Tensor:
    """The fixed latent vectors whose images :func:`pretrained_dcgan` records after every epoch (same on every machine)."""
    return sample_latent(count, LATENT_DIM, generator=torch.Generator().manual_seed(SNAPSHOT_SEED))


def pretrained_dcgan(device: torch.device | str | None = None, epochs: int | None = None,
                     width: int = DEFAULT_WIDTH) -> tuple[DCGAN, dict]:
    """The notebook's DCGAN on MNIST: trained on first use, then loaded from the cache in a second.

    Batches of 32: on the 4,000 bundled digits, twice as many (smaller) updates as with 64 gave clearly better digits
    for about the same compute. ``info`` holds the history, one snapshot per epoch of the images for
    :func:`snapshot_noise`, the number of steps and the training time. Quick mode trains 1 epoch on 640 digits and
    is cached separately.
    """
    epochs = epochs if epochs is not None else budget(full=25, quick=1)

    def fit(gan):
        images, _ = load_mnist("train", device=device)
        return fit_dcgan(gan, images[:budget(full=len(images), quick=640)], epochs, batch_size=BATCH_SIZE,
                         snapshot_noise=snapshot_noise())

    return pretrained(f"dcgan_w{width}_e{epochs}", lambda: DCGAN(LATENT_DIM, width), fit, device=device, version=2)


def source_of(function) -> str:
    """The source code of ``function``, so a notebook can show the lines that do the work without copying them."""
    return inspect.getsource(function)
