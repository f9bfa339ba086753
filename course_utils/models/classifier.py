"""A small convolutional digit classifier: the "adjacent task" network behind perceptual losses and GAN scores.

Two conv blocks and two linear layers. ``features(x)`` exposes the intermediate activations, so the same trained
network serves as a feature extractor (perceptual loss, notebook 02) and as a judge of generated digits (notebook 05).
``ClassifierRecipe`` defines the trained one: ``pretrained(ClassifierRecipe(), device)`` trains it once and caches it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..config import budget
from ..data import Minibatches, check_digit_batch, check_input_dtype, load_mnist, random_shift
from ..recipe import Recipe
from ..train import History, train

class DigitClassifier(nn.Module):
    """28×28 grey digit (values in [0, 1]) → 10 class logits."""

    def __init__(self, width: int = 32, hidden: int = 128, dropout: float = 0.3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, kernel_size=3, padding=1)             # 1×28×28 → w×28×28, pooled to 14×14
        self.conv2 = nn.Conv2d(width, 2 * width, kernel_size=3, padding=1)     # w×14×14 → 2w×14×14, pooled to 7×7
        self.fc = nn.Linear(2 * width * 7 * 7, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 10)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Activations after each block: ``conv1`` (N×w×14×14), ``conv2`` (N×2w×7×7) and ``hidden`` (N×hidden)."""
        check_digit_batch(x)
        check_input_dtype(x, self)
        conv1 = F.max_pool2d(F.relu(self.conv1(x)), 2)
        conv2 = F.max_pool2d(F.relu(self.conv2(conv1)), 2)
        hidden = F.relu(self.fc(conv2.flatten(1)))
        return {"conv1": conv1, "conv2": conv2, "hidden": hidden}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.features(x)["hidden"]))


@dataclass(frozen=True)
class ClassifierRecipe(Recipe):
    """The course's digit classifier: its size, and Adam with a one-cycle learning rate on randomly shifted digits."""

    name = "digit classifier"
    uses_labels = True
    width: int = 32
    hidden: int = 128
    dropout: float = 0.3
    max_shift: int = 2
    lr: float = 2e-3
    batch_size: int = 64
    epochs: int = field(default_factory=lambda: budget(full=12, quick=2))

    def build(self) -> DigitClassifier:
        return DigitClassifier(self.width, self.hidden, self.dropout)

    def fit(self, model: DigitClassifier, device) -> dict:
        """Train on the training split; ``info["test_accuracy"]`` is measured on the held-out test split."""
        images, labels = self.training_data(device)
        self.train_on(model, images, labels)
        test_images, test_labels = load_mnist("test", device=device)
        return {"test_accuracy": accuracy(model, test_images, test_labels)}

    def train_steps(self, model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor, *, on_epoch_end=None,
                    progress: bool = True) -> History:
        """Adam with a one-cycle learning rate on randomly shifted digits, cross-entropy against ``labels``."""
        batches = Minibatches(images, labels, batch_size=self.batch_size)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.lr, total_steps=max(1, self.epochs * len(batches)))

        def step(x, y):
            loss = F.cross_entropy(model(random_shift(x, self.max_shift)), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            return {"loss": loss}

        return train(step, batches, self.epochs, model=model, on_epoch_end=on_epoch_end, progress=progress,
                     description="digit classifier")


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``images`` whose predicted class equals ``labels``."""
    was_training = model.training
    model.eval()
    correct = sum((model(x).argmax(1) == y).sum().item() for x, y in Minibatches(images, labels, batch_size=batch_size, shuffle=False))
    model.train(was_training)
    return correct / len(labels)
