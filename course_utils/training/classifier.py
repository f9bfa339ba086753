"""How the course's digit classifier is trained (``ClassifierRecipe``), and its accuracy on a set of digits.

``pretrained(ClassifierRecipe(), device)`` trains it once and caches it; notebooks 02, 05 and 08 use it as a feature
extractor and as the judge of generated digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..engine.captured import adam
from ..engine.config import budget
from ..engine.data import Minibatches, load_mnist, random_shift
from ..engine.recipe import Recipe
from ..engine.train import History, train
from ..models.classifier import DigitClassifier


@dataclass(frozen=True)
class ClassifierRecipe(Recipe):
    """The course's digit classifier: its size, and Adam with a one-cycle learning rate on randomly shifted digits."""

    name = "digit classifier"
    uses_labels = True
    capturable = False
    not_captured_because = ("its one-cycle schedule also cycles Adam's β₁ at every step (OneCycleLR's cycle_momentum), "
                            "a Python number a CUDA graph would freeze at its first value; without the cycling it "
                            "would train another classifier, and this one judges every sample in the course")
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
        optimizer = adam(model.parameters(), device=images.device, lr=self.lr)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.lr, total_steps=max(1, self.epochs * len(batches)))

        def step(x, y):
            loss = F.cross_entropy(model(random_shift(x, self.max_shift)), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return {"loss": loss}

        return train(step, batches, self.epochs, model=model, schedule=schedule, capture=self.capturable,
                     on_epoch_end=on_epoch_end, progress=progress, description="digit classifier")


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``images`` whose predicted class equals ``labels``."""
    was_training = model.training
    model.eval()
    correct = sum((model(x).argmax(1) == y).sum().item() for x, y in Minibatches(images, labels, batch_size=batch_size, shuffle=False))
    model.train(was_training)
    return correct / len(labels)
