"""Conditioning a GAN on the digit's class (notebook 06): conditional batch norm, a generator built on it, a
projection discriminator, and the class-conditional GAN that holds them (its recipe and step:
:mod:`course_utils.training.conditional`).

Conditional batch norm (de Vries et al., 2017; Miyato & Koyama, 2018) normalises as batch norm does, then scales and
shifts with a γ and β looked up for each example's class, so one set of convolutions draws every digit and the class
decides how each feature map is used.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .dcgan import init_dcgan_weights
from .generative import GAN, check_labels, check_latents, classes_in_order, evaluating, to_pixels


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own γ, β; instead a γ and β per class from an embedding, applied per example."""

    def __init__(self, num_features: int, num_classes: int = 10):
        super().__init__()
        self.num_classes = num_classes
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.scale_shift = nn.Embedding(num_classes, 2 * num_features)          # row c: γ_c (first half), β_c
        nn.init.ones_(self.scale_shift.weight[:, :num_features])
        nn.init.zeros_(self.scale_shift.weight[:, num_features:])

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        check_labels(labels, x.shape[0], self.num_classes)
        gamma, beta = self.scale_shift(labels).chunk(2, dim=1)                  # N×C each
        return gamma[:, :, None, None] * self.norm(x) + beta[:, :, None, None]


class ConditionalGenerator(nn.Module):
    """(z, class) → a 28×28 image in [−1, 1]: notebook 05's generator with conditional batch norm, so the class picks
    the γ and β of every feature map while the noise z carries the style."""

    def __init__(self, latent_dim: int = 16, width: int = 32, num_classes: int = 10):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        # project: z as a 1×1 map → 2w maps of 7×7
        self.project = nn.ConvTranspose2d(latent_dim, 2 * width, kernel_size=7, stride=1, padding=0, bias=False)
        self.norm1 = ConditionalBatchNorm2d(2 * width, num_classes)
        # 7×7 → 14×14, w maps
        self.up1 = nn.ConvTranspose2d(2 * width, width, kernel_size=4, stride=2, padding=1, bias=False)
        self.norm2 = ConditionalBatchNorm2d(width, num_classes)
        # 14×14 → 28×28, one grey channel in [−1, 1]
        self.up2 = nn.ConvTranspose2d(width, 1, kernel_size=4, stride=2, padding=1)
        self.apply(init_dcgan_weights)                 # convolutions N(0, 0.02); each class starts at γ = 1, β = 0

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        check_latents(z, self.latent_dim)
        check_labels(labels, z.shape[0], self.num_classes)
        h = torch.relu(self.norm1(self.project(z[:, :, None, None]), labels))   # N×2w×7×7
        h = torch.relu(self.norm2(self.up1(h), labels))                          # N×w×14×14
        return torch.tanh(self.up2(h))                                           # N×1×28×28


class ProjectionDiscriminator(nn.Module):
    """(image, class) → a score: D(x, y) = ψ(φ(x)) + e_yᵀ φ(x) (Miyato & Koyama, 2018), with spectral norm on every
    layer. The class enters as an inner product with the image's features φ(x), so D asks "is this a real image *of
    this digit*", not only "is this real", at the cost of one embedding row per class."""

    def __init__(self, width: int = 32, num_classes: int = 10):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        self.num_classes = num_classes
        self.features = nn.Sequential(
            sn(nn.Conv2d(1, width, kernel_size=4, stride=2, padding=1)),              # 28×28 → 14×14, w maps
            nn.LeakyReLU(0.2),
            sn(nn.Conv2d(width, 2 * width, kernel_size=4, stride=2, padding=1)),      # 14×14 → 7×7, 2w maps
            nn.LeakyReLU(0.2),
            sn(nn.Conv2d(2 * width, 4 * width, kernel_size=7, stride=1, padding=0)),  # 7×7 → 1×1: φ(x), 4w numbers
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self.unconditional = sn(nn.Linear(4 * width, 1))                              # ψ(φ(x))
        self.class_embedding = sn(nn.Embedding(num_classes, 4 * width))               # e_y

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"the discriminator expects images shaped N×1×28×28, got {tuple(x.shape)}")
        check_labels(labels, x.shape[0], self.num_classes)
        phi = self.features(x)                                                   # N×4w
        return self.unconditional(phi).flatten() + (self.class_embedding(labels) * phi).sum(dim=1)


class InClassOrder(nn.Module):
    """A conditional generator seen as z → image: a batch of n latents is drawn as the classes ``classes_in_order(n)``,
    every class equally often, as in training. A conditional GAN's batch-norm statistics are recalibrated on it."""

    def __init__(self, generator: ConditionalGenerator):
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z, classes_in_order(z.shape[0], self.generator.num_classes, z.device))


class ConditionalGAN(GAN):
    """A class-conditional GAN: a :class:`ConditionalGenerator`, a :class:`ProjectionDiscriminator`, and a running
    average of the generator's weights, which ``decode`` and ``sample`` draw from.

    The four verbs of every course model work unchanged and draw every class equally often: ``sample(1000)`` gives
    100 zeros, then 100 ones, … (``default_labels(1000)``, :func:`classes_in_order`). To choose the classes, pass
    ``labels`` (a tensor of integer classes, one per image): ``sample(n, rng, labels=...)`` or ``decode(z, labels)``
    — e.g. one z for every class, ``decode(z.expand(10, -1), torch.arange(10))``, shows the style z carries drawn as
    each digit.
    """

    def __init__(self, latent_dim: int = 16, width: int = 32, num_classes: int = 10):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.generator = ConditionalGenerator(latent_dim, width, num_classes)
        self.discriminator = ProjectionDiscriminator(width, num_classes)
        self.average_generator = copy.deepcopy(self.generator).requires_grad_(False)

    @property
    def sampler(self) -> nn.Module:
        """The averaged generator as z → image, classes in order (:class:`InClassOrder`): it draws what ``decode``
        draws when no labels are given, and it is what training recalibrates and checkpoints copy."""
        return InClassOrder(self.average_generator)

    def _decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``decode(z, labels)``: images N×1×28×28 in [0, 1] for latents N×latent_dim (checked by ``decode``), drawn as
        the classes ``labels`` (N integer class indices, on any device; ``default_labels(N)``, the classes in order,
        if None). G runs in eval mode."""
        if labels is None:
            labels = self.default_labels(z.shape[0])
        labels = check_labels(labels, z.shape[0], self.num_classes).to(z.device)
        with evaluating(self.average_generator):
            return to_pixels(self.average_generator(z, labels))

    @torch.no_grad()
    def sample(self, n: int, rng: int | torch.Generator | None = None,
               labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` new images: latents from the prior, decoded as the classes ``labels`` (in order if None)."""
        return self.decode(self.sample_latent(n, rng), labels)
