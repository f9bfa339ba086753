"""A small convolutional digit classifier: the "adjacent task" network behind perceptual losses and GAN scores.

Two conv blocks and two linear layers. ``features(x)`` exposes the intermediate activations, so the same trained
network serves as a feature extractor (perceptual loss, notebook 02) and as a judge of generated digits (notebook 05).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import pretrained
from ..config import budget
from ..data import Minibatches, load_mnist
from ..train import train

FEATURE_LAYERS = ("conv1", "conv2", "hidden")


class DigitClassifier(nn.Module):
    """28×28 grey digit (values in [0, 1]) → 10 class logits."""

    def __init__(self, width: int = 32, hidden: int = 128, dropout: float = 0.3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, kernel_size=3, padding=1)
        self.fc = nn.Linear(2 * width * 7 * 7, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 10)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Activations after each block: ``conv1`` (N×w×14×14), ``conv2`` (N×2w×7×7) and ``hidden`` (N×hidden)."""
        check_digit_batch(x)
        conv1 = F.max_pool2d(F.relu(self.conv1(x)), 2)
        conv2 = F.max_pool2d(F.relu(self.conv2(conv1)), 2)
        hidden = F.relu(self.fc(conv2.flatten(1)))
        return {"conv1": conv1, "conv2": conv2, "hidden": hidden}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.features(x)["hidden"]))


def check_digit_batch(x: torch.Tensor) -> None:
    """Raise a clear ``ValueError`` unless ``x`` is a float batch of N×1×28×28 images."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"expected a tensor of images, got {type(x).__name__}")
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(f"expected a batch of MNIST images shaped N×1×28×28, got {tuple(x.shape)}; "
                         "a single image needs .unsqueeze(0), flat rows need .view(-1, 1, 28, 28)")
    if not x.is_floating_point():
        raise ValueError(f"expected float pixel values in [0, 1], got dtype {x.dtype}; divide uint8 images by 255")


def random_shift(images: torch.Tensor, max_shift: int = 2) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels in x and y (zero padding): cheap data augmentation."""
    n = images.shape[0]
    padded = F.pad(images, (max_shift,) * 4)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), device=images.device)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), device=images.device)
    rows = (dy[:, None] + torch.arange(28, device=images.device)[None, :])
    cols = (dx[:, None] + torch.arange(28, device=images.device)[None, :])
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded[batch, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``images`` whose predicted class equals ``labels``."""
    was_training = model.training
    model.eval()
    correct = sum((model(x).argmax(1) == y).sum().item() for x, y in Minibatches(images, labels, batch_size=batch_size, shuffle=False))
    model.train(was_training)
    return correct / len(labels)


def fit_classifier(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor, epochs: int,
                   batch_size: int = 64, lr: float = 2e-3, progress: bool = True):
    """Train ``model`` in place with Adam, a one-cycle learning rate and random shifts; returns the history."""
    model.train()
    batches = Minibatches(images, labels, batch_size=batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(1, epochs * len(batches)))

    def step(x, y):
        loss = F.cross_entropy(model(random_shift(x)), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        return {"loss": loss}

    history = train(step, batches, epochs, progress=progress, description="digit classifier")
    model.eval()
    return history


def pretrained_classifier(device: torch.device | str | None = None) -> tuple[DigitClassifier, dict]:
    """The course's trained digit classifier, trained on first use and then loaded from the cache.

    Returns ``(model, info)`` where ``info["test_accuracy"]`` is measured on the held-out test split.
    """
    def fit(model):
        images, labels = load_mnist("train", device=device)
        fit_classifier(model, images, labels, epochs=budget(full=12, quick=2))
        test_images, test_labels = load_mnist("test", device=device)
        return {"test_accuracy": accuracy(model, test_images, test_labels)}

    return pretrained("digit_classifier", DigitClassifier, fit, device=device)
