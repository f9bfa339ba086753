"""Conditioning a GAN on the digit's class (notebook 06): label checks, conditional batch norm, a generator built on
it and a projection discriminator.

Conditional batch norm (de Vries et al., 2017; Miyato & Koyama, 2018) normalises as batch norm does, then scales and
shifts with a γ and β looked up for each example's class, so one set of convolutions draws every digit and the class
decides how each feature map is used.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..latent import check_latents, sample_latent
from ..losses import discriminator_hinge_loss, generator_hinge_loss
from .dcgan import init_dcgan_weights


def check_labels(labels: torch.Tensor, count: int, num_classes: int = 10) -> torch.Tensor:
    """``labels`` if it holds ``count`` integer classes in 0 … num_classes − 1; a ValueError naming the fix otherwise."""
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"labels must be a tensor of class indices, got {type(labels).__name__}; "
                         "use torch.tensor(labels)")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}; use labels.long()")
    if labels.shape != (count,):
        raise ValueError(f"expected one label per example, a tensor of shape ({count},), got {tuple(labels.shape)}")
    if count and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"class labels must lie in 0 … {num_classes - 1}, got values from {labels.min().item()} "
                         f"to {labels.max().item()}")
    return labels


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


def make_conditional_hinge_step(generator: ConditionalGenerator, discriminator: ProjectionDiscriminator,
                                g_optimizer: torch.optim.Optimizer, d_optimizer: torch.optim.Optimizer) -> Callable:
    """Return ``step(real, labels)``: one hinge-loss update of D on real digits with their labels and fakes drawn for
    random classes, then one update of G on fresh noise and fresh classes (G raises D's score of its fakes *as the
    digits it was asked for*)."""

    def fakes(count: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        classes = torch.randint(generator.num_classes, (count,), device=device)
        return generator(sample_latent(count, generator.latent_dim, device=device), classes), classes

    def step(real: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            fake, fake_classes = fakes(real.shape[0], real.device)
        d_loss = discriminator_hinge_loss(discriminator(real, labels), discriminator(fake, fake_classes))
        d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        d_optimizer.step()

        discriminator.requires_grad_(False)
        try:
            g_loss = generator_hinge_loss(discriminator(*fakes(real.shape[0], real.device)))
            g_optimizer.zero_grad(set_to_none=True)
            g_loss.backward()
            g_optimizer.step()
        finally:
            discriminator.requires_grad_(True)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    return step
