"""Fully connected GANs (Goodfellow et al., 2014): for 1-D and 2-D toy data and for MNIST digits (notebook 04).

The generator maps noise z ~ N(0, I) to a sample; the discriminator maps a sample to one logit (D = sigmoid of it).
``fit_gan`` trains any pair with the shared ``make_gan_step`` and ``train`` loop; ``pretrained_mnist_gan`` trains
the digit GAN once and caches it, together with its training curves and samples taken along the way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..checkpoints import pretrained
from ..config import budget
from ..data import Minibatches, load_mnist, to_tanh_range
from ..densities import discriminator_gap, integrate, kernel_density, optimal_discriminator
from ..gan import make_gan_step, sample_latent
from ..train import History, train


def _mlp(sizes: Sequence[int], dropout: float = 0.0, batch_norm: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for width_in, width_out in zip(sizes[:-2], sizes[1:-1]):
        layers.append(nn.Linear(width_in, width_out))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width_out))
        layers.append(nn.LeakyReLU(0.2))
        if dropout:
            layers.append(nn.Dropout(dropout))
    return layers + [nn.Linear(sizes[-2], sizes[-1])]


class MLPGenerator(nn.Module):
    """z (latent_dim) → a sample of ``output_shape``; ``tanh=True`` squashes it to [−1, 1] (for images).

    ``batch_norm=True`` normalises each hidden layer over the minibatch, which steadies training on images.
    """

    def __init__(self, latent_dim: int, output_shape: Sequence[int], hidden: Sequence[int] = (128, 128),
                 tanh: bool = False, batch_norm: bool = False):
        super().__init__()
        self.latent_dim = latent_dim
        self.output_shape = tuple(output_shape)
        layers = _mlp([latent_dim, *hidden, math.prod(self.output_shape)], batch_norm=batch_norm)
        self.net = nn.Sequential(*layers, *([nn.Tanh()] if tanh else []))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"the generator expects latent vectors of shape N×{self.latent_dim}, got {tuple(z.shape)}")
        return self.net(z).reshape(-1, *self.output_shape)


class MLPDiscriminator(nn.Module):
    """A sample of ``input_shape`` → one logit per example (D(x) = sigmoid(logit) = P(x is real))."""

    def __init__(self, input_shape: Sequence[int], hidden: Sequence[int] = (128, 128), dropout: float = 0.0):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.net = nn.Sequential(nn.Flatten(), *_mlp([math.prod(self.input_shape), *hidden, 1], dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"the discriminator expects inputs of shape N×{'×'.join(map(str, self.input_shape))}, "
                             f"got {tuple(x.shape)}")
        return self.net(x)[:, 0]


def fit_gan(generator: MLPGenerator, discriminator: nn.Module, data: torch.Tensor, *, epochs: int, batch_size: int = 128,
            lr: float = 2e-4, d_lr: float | None = None, betas: tuple[float, float] = (0.5, 0.999),
            generator_loss: str = "non-saturating",
            on_epoch_end: Callable[[int, History], None] | None = None, progress: bool = True,
            description: str = "GAN") -> History:
    """Train ``generator`` and ``discriminator`` on ``data`` with Adam and the shared GAN step; returns the history.

    Both learn at rate ``lr`` unless ``d_lr`` gives the discriminator its own.

    A NaN or infinite loss stops training with :class:`~course_utils.train.TrainingDiverged` and advice.
    """
    g_opt = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=lr if d_lr is None else d_lr, betas=betas)
    step = make_gan_step(generator, discriminator, g_opt, d_opt, generator.latent_dim, generator_loss=generator_loss)
    generator.train(), discriminator.train()
    history = train(step, Minibatches(data, batch_size=batch_size, drop_last=True), epochs,
                    on_epoch_end=on_epoch_end, progress=progress, description=description)
    generator.eval(), discriminator.eval()
    return history


MNIST_LATENT_DIM = 64


def mnist_generator() -> MLPGenerator:
    """The digit generator: 64 → 256 → 512 → 784 pixels in [−1, 1], with batch norm in the hidden layers."""
    return MLPGenerator(MNIST_LATENT_DIM, (1, 28, 28), hidden=(256, 512), tanh=True, batch_norm=True)


def mnist_discriminator() -> MLPDiscriminator:
    """The digit discriminator: 784 → 512 → 256 → 1 logit, with dropout so it cannot simply memorise 4,000 digits."""
    return MLPDiscriminator((1, 28, 28), hidden=(512, 256), dropout=0.3)


def pretrained_mnist_gan(device: torch.device | str | None = None, snapshots: int = 16) -> tuple[MLPGenerator, dict]:
    """The notebook's MNIST GAN, trained on first use and then loaded from the cache.

    ``info`` holds the training curves (``d_loss``, ``g_loss``, ``d_real``, ``d_fake``, ``steps``), and
    ``snapshot_epochs`` with ``snapshot_images`` (E×snapshots×1×28×28): samples from the same fixed z after those epochs.
    """
    epochs = budget(full=40, quick=2)
    keep = sorted({1, 2, 5, 10, 20, epochs} & set(range(1, epochs + 1)))

    def fit(generator):
        seed = torch.Generator().manual_seed(0)
        fixed_z = torch.randn(snapshots, MNIST_LATENT_DIM, generator=seed).to(device or "cpu")
        images, _ = load_mnist("train", device=device)
        discriminator = mnist_discriminator().to(images.device)
        taken = []

        def snapshot(epoch, history):
            if epoch + 1 in keep:
                with torch.no_grad():
                    generator.eval()
                    taken.append(generator(fixed_z).cpu())
                    generator.train()

        history = fit_gan(generator, discriminator, to_tanh_range(images), epochs=epochs, batch_size=64, lr=5e-4,
                          on_epoch_end=snapshot, description="MNIST GAN")
        curves = {name: torch.tensor(values) for name, values in history.items()}
        return {**curves, "steps": torch.tensor(history.steps), "snapshot_epochs": torch.tensor(keep),
                "snapshot_images": torch.stack(taken)}

    return pretrained("mnist_mlp_gan", mnist_generator, fit, device=device)


def generate(generator: MLPGenerator, count: int, generator_seed: int | None = None) -> torch.Tensor:
    """``count`` samples from ``generator`` (no gradients), on its device; a seed makes them repeatable."""
    device = next(generator.parameters()).device
    rng = None if generator_seed is None else torch.Generator().manual_seed(generator_seed)
    z = sample_latent(count, generator.latent_dim, generator=rng).to(device)
    with torch.no_grad():
        return generator(z)


@torch.no_grad()
def snapshot_1d(generator: MLPGenerator, discriminator: nn.Module, x: torch.Tensor, p_data: torch.Tensor,
                samples: int = 10_000) -> dict:
    """Where a 1-D GAN stands: G's samples, their density estimate p_g, D(x) and D*(x) on the grid ``x``, and the gap.

    D* uses the true p_data and a kernel density estimate of p_g (G is implicit: we can only sample it);
    ``gap`` is ∫ ½(p_data + p_g)|D − D*| dx, how far D is from the best discriminator against this G.
    """
    device = next(generator.parameters()).device
    fake = generator(sample_latent(samples, generator.latent_dim, device)).reshape(-1).double().cpu()
    p_g = kernel_density(fake, x)
    p_g = p_g / integrate(p_g, x)
    d = torch.sigmoid(discriminator(x[:, None].float().to(device))).double().cpu()
    d_star = optimal_discriminator(p_data, p_g)
    return {"samples": fake, "p_g": p_g, "d": d, "d_star": d_star,
            "gap": discriminator_gap(d, d_star, p_data, p_g, x).item()}
