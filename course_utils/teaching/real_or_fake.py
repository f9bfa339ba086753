"""The "Real or fake?" game of notebook 08 as plain, tested state: a shuffled deck of digits, half real and half
from the chosen models, the player's answers, and the score per model. The widget only draws it."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import torch

from ..engine.data import check_digit_batch

REAL = "real"


@dataclass(frozen=True)
class Card:
    """One round: a 28×28 image in [0, 1] and where it came from (``"real"`` or a model's name)."""

    image: torch.Tensor
    source: str

    @property
    def is_real(self) -> bool:
        return self.source == REAL


@dataclass
class RealOrFakeGame:
    """A deck of ``rounds`` cards, half real digits and half generated ones (split evenly between the models);
    :meth:`answer` records the player's verdict on the current card and moves to the next."""

    deck: list[Card]
    answers: list[bool] = field(default_factory=list)

    @classmethod
    def deal(cls, real: torch.Tensor, fakes: dict[str, torch.Tensor], rounds: int = 20, seed: int = 0) -> RealOrFakeGame:
        """Shuffle ``rounds`` cards: ``rounds // 2`` real images and the rest from ``fakes`` (name → images)."""
        if not isinstance(rounds, numbers.Integral) or rounds < 2:
            raise ValueError(f"rounds must be a whole number ≥ 2 (half real, half generated), got {rounds!r}")
        if not fakes:
            raise ValueError("give at least one model's samples: fakes={'DCGAN': images, ...}")
        check_digit_batch(real)
        rng = torch.Generator().manual_seed(seed)
        real_count, fake_count = rounds // 2, rounds - rounds // 2
        per_model = [fake_count // len(fakes) + (i < fake_count % len(fakes)) for i in range(len(fakes))]
        cards = [Card(image, REAL) for image in _draw(real, real_count, rng)]
        for (name, images), count in zip(fakes.items(), per_model):
            check_digit_batch(images)
            if name == REAL:
                raise ValueError(f"{REAL!r} names the real digits; give the model another name")
            cards += [Card(image, name) for image in _draw(images, count, rng)]
        order = torch.randperm(len(cards), generator=rng).tolist()
        return cls([cards[i] for i in order])

    @property
    def current(self) -> Card | None:
        """The card to judge now, or None when the game is over."""
        return self.deck[len(self.answers)] if len(self.answers) < len(self.deck) else None

    @property
    def finished(self) -> bool:
        return self.current is None

    def answer(self, says_real: bool) -> bool:
        """Record the verdict on the current card; return whether it was right."""
        card = self.current
        if card is None:
            raise RuntimeError("the game is over: deal a new one to play again")
        self.answers.append(bool(says_real))
        return bool(says_real) == card.is_real

    def results(self) -> dict[str, float]:
        """The share of right verdicts: ``overall``, on the ``real`` cards, and on each model's cards (how often
        its samples were caught). Only the cards answered so far count."""
        played = list(zip(self.deck, self.answers))
        if not played:
            raise ValueError("answer at least one card first")
        scores = {"overall": sum(said == card.is_real for card, said in played) / len(played)}
        for source in dict.fromkeys(card.source for card, _ in played):
            verdicts = [said == card.is_real for card, said in played if card.source == source]
            scores[source] = sum(verdicts) / len(verdicts)
        return scores


def _draw(images: torch.Tensor, count: int, rng: torch.Generator) -> list[torch.Tensor]:
    if len(images) < count:
        raise ValueError(f"need {count} images for the deck, got {len(images)}")
    return [images[i, 0].cpu() for i in torch.randperm(len(images), generator=rng)[:count].tolist()]
