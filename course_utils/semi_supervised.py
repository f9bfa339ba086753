"""The semi-supervised GAN's pieces (notebook 07; Salimans et al., 2016): a label draw, the K-logit discriminator's
three loss terms, and feature matching.

A discriminator with K logits l_1 … l_K classifies real digits into K classes and says "fake" through an implicit
(K+1)-th logit fixed at 0. With Z(x) = Σ_k exp(l_k(x)), the probability that x is real is
D(x) = Z(x) / (Z(x) + 1), so log D(x) = LSE(l) − softplus(LSE(l)) and log(1 − D(x)) = −softplus(LSE(l)), with
LSE the log-sum-exp: every term is computed from logits, never from a probability that could round to 0.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F


def draw_labelled(labels: torch.Tensor, per_class: int, seed: int, num_classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of ``per_class`` examples of every class, drawn with ``seed``, and of all the other examples: the
    labelled set (its labels are kept) and the unlabelled pool (its labels are thrown away). Same seed, same draw."""
    if not isinstance(per_class, numbers.Integral) or isinstance(per_class, bool) or per_class < 1:
        raise ValueError(f"per_class must be a whole number ≥ 1 (labelled examples of each digit), got {per_class!r}")
    counts = torch.bincount(labels.cpu(), minlength=num_classes)
    missing = [k for k in range(num_classes) if counts[k] == 0]
    if missing:
        raise ValueError(f"the labels have no example of class(es) {missing}: a balanced draw needs every class; "
                         "load the whole training split, not a slice of it")
    if per_class > counts.min():
        raise ValueError(f"asked for {per_class} labelled examples per class, but class {int(counts.argmin())} has only "
                         f"{int(counts.min())}: ask for at most {int(counts.min())} per class")
    rng = torch.Generator().manual_seed(seed)
    chosen = [torch.nonzero(labels.cpu() == k).flatten()[torch.randperm(int(counts[k]), generator=rng)[:per_class]]
              for k in range(num_classes)]
    labelled = torch.cat(chosen).sort().values
    unlabelled = torch.ones(len(labels), dtype=torch.bool)
    unlabelled[labelled] = False
    return labelled, torch.nonzero(unlabelled).flatten()


def probability_real(logits: torch.Tensor) -> torch.Tensor:
    """D(x) = Z / (Z + 1) with Z = Σ_k exp(l_k): the K-logit discriminator's probability that x is real (shape N)."""
    return torch.sigmoid(torch.logsumexp(logits, dim=1))


def supervised_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the labelled real digits over the K classes: −E log p(y | x, y < K+1)."""
    return F.cross_entropy(logits, labels)


def unlabelled_loss(real_logits: torch.Tensor) -> torch.Tensor:
    """−E log D(x) over unlabelled real digits: each should be "one of the K classes, whichever", i.e. not fake.
    log D = LSE − softplus(LSE), with LSE = log Z the log-sum-exp of the K logits."""
    lse = torch.logsumexp(real_logits, dim=1)
    return -(lse - F.softplus(lse)).mean()


def generated_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """−E log(1 − D(G(z))) over the generator's samples: each should be "fake". log(1 − D) = −softplus(LSE)."""
    return F.softplus(torch.logsumexp(fake_logits, dim=1)).mean()


def unsupervised_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """−E_real log D(x) − E_fake log(1 − D(G(z))): unlabelled digits are "real", the generator's samples "fake"."""
    return unlabelled_loss(real_logits) + generated_loss(fake_logits)


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """‖E f(x_real) − E f(G(z))‖²: G matches the mean of an intermediate layer of D instead of fooling its output."""
    if real_features.shape[1:] != fake_features.shape[1:]:
        raise ValueError(f"real and fake features must have the same shape per example, got {tuple(real_features.shape)} "
                         f"and {tuple(fake_features.shape)}")
    return (real_features.flatten(1).mean(0) - fake_features.flatten(1).mean(0)).pow(2).sum()
