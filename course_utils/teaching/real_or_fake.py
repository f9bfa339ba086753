"""The "Real or fake?" game of notebook 08 as plain, tested state: a shuffled deck of digits, half real and half
from the chosen models, the player's answers, and the player's accuracy per model, measured as the two-sample
classifier's is so the two can be compared. The widget only draws it."""

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
        """The player's accuracy per row, measured as the two-sample classifier's is so that the two compare like
        with like: the share of real cards called real and the share of generated cards called fake, averaged (the
        classifier's test set is half real, half generated, so its accuracy is that average too). ``overall`` rests
        on every card, a model's row on the real cards and that model's, ``real`` on the real cards alone. Answering
        "Fake" to everything scores 0.5 on every row but ``real``: chance. Only answered cards count; :meth:`cards`
        says how many each row rests on."""
        return {name: _balanced_accuracy(played) for name, played in self._rows().items()}

    def cards(self) -> dict[str, int]:
        """How many answered cards each row of :meth:`results` rests on: few cards make a noisy row."""
        return {name: len(played) for name, played in self._rows().items()}

    def _rows(self) -> dict[str, list[tuple[Card, bool]]]:
        """The answered cards (with the verdicts) behind each row of :meth:`results`."""
        played = list(zip(self.deck, self.answers))
        if not played:
            raise ValueError("answer at least one card first")
        rows = {"overall": played}
        for source in dict.fromkeys(card.source for card, _ in played):
            rows[source] = [(card, said) for card, said in played
                            if card.source == source or (card.is_real and source != REAL)]
        return rows


def _balanced_accuracy(played: list[tuple[Card, bool]]) -> float:
    """The share of right verdicts on the real cards and on the generated ones, averaged over the kinds present."""
    on_real = [says_real for card, says_real in played if card.is_real]
    on_fake = [not says_real for card, says_real in played if not card.is_real]
    shares = [sum(right) / len(right) for right in (on_real, on_fake) if right]
    return sum(shares) / len(shares)


def _draw(images: torch.Tensor, count: int, rng: torch.Generator) -> list[torch.Tensor]:
    if len(images) < count:
        raise ValueError(f"need {count} images for the deck, got {len(images)}")
    return [images[i, 0].cpu() for i in torch.randperm(len(images), generator=rng)[:count].tolist()]
