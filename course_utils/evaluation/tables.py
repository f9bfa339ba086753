"""The course's one table writer, and the registry of every metric its tables show.

Each metric is registered once (:data:`METRICS`): its key in a row of scores, its heading, whether higher or lower
is better (shown as ↑ or ↓), and how its value is printed. Every scores table of the notebooks, the benchmarks and
notebook 08's leaderboard is :func:`metrics_table`; the shape tables of :mod:`course_utils.teaching.summary` use
:func:`markdown_table` directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One column of a scores table: ``key`` in a row, ``heading``, ``better`` ("higher", "lower" or None when
    neither is, e.g. a ratio that should sit near 1) and ``format``, a format spec (``".2f"``, ``".0%"``)."""

    key: str
    heading: str
    better: str | None
    format: str

    @property
    def title(self) -> str:
        """The heading with ↑ (higher is better) or ↓ (lower is better)."""
        arrow = {"higher": " ↑", "lower": " ↓", None: ""}[self.better]
        return self.heading + arrow

    def cell(self, value: float | None) -> str:
        """``value`` as the table prints it; — for a missing or NaN value."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        return format(value, self.format)


METRICS: dict[str, Metric] = {metric.key: metric for metric in [
    Metric("inception_score", "score", "higher", ".2f"),
    Metric("frechet_distance", "Fréchet", "lower", ".1f"),
    Metric("confident_share", "confident", "higher", ".0%"),
    Metric("class_min", "rarest class /1000", "higher", ".0f"),
    Metric("class_max", "commonest /1000", "lower", ".0f"),
    Metric("label_accuracy", "asked-for class", "higher", ".1%"),
    Metric("precision", "precision", "higher", ".2f"),
    Metric("recall", "recall", "higher", ".2f"),
    Metric("swd_28", "SWD 28", "lower", ".1f"),
    Metric("swd_7", "SWD 7", "lower", ".1f"),
    Metric("memorisation", "memo. ratio", None, ".2f"),
    Metric("two_sample_accuracy", "2-sample acc.", None, ".2f"),
    Metric("train_seconds", "train s", None, ".0f"),
    Metric("test_nll_nats", "−log p(x), nats", "lower", ".1f"),
    Metric("bits_per_dim", "bits/dim", "lower", ".3f"),
    Metric("sample_seconds_64", "64 samples, s", None, ".2f"),
    Metric("ms_per_digit", "ms per digit", "lower", ".2f"),
    Metric("pixel_ms_per_digit", "pixel model, ms per digit", None, ".2f"),
    Metric("speedup", "× faster", "higher", ".1f"),
    Metric("eager_steps_per_s", "eager steps/s", "higher", ",.1f"),
    Metric("captured_steps_per_s", "captured steps/s", "higher", ",.1f"),
]}
"""Every metric a course table shows, by key (the keys of ``quality_scores`` and ``all_metrics``)."""


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[bool] | None = None) -> str:
    """A Markdown table: ``header``, a rule that right-aligns the ``numeric`` columns, then ``rows`` (cells as text)."""
    numeric = numeric if numeric is not None else [False] * len(header)
    if len(numeric) != len(header):
        raise ValueError(f"numeric says {len(numeric)} columns, the header has {len(header)}")
    lines = ["| " + " | ".join(header) + " |", "|" + "".join(" ---: |" if right else " --- |" for right in numeric)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells, the header {len(header)}: {list(row)}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def metrics_table(rows: Mapping[str, Mapping[str, float]], columns: Sequence[str], first: str = "images", *,
                  required: bool = True) -> str:
    """Rows of scores (name → metric key → value) as a Markdown table of ``columns`` (metric keys of
    :data:`METRICS`), each with its registered heading and format. With ``required`` a missing metric is a
    ``ValueError`` naming it; otherwise it shows as —."""
    unknown = [key for key in columns if key not in METRICS]
    if unknown:
        raise ValueError(f"no metric registered as {unknown}; the registered ones are {list(METRICS)}")
    missing = sorted({key for row in rows.values() for key in columns if key not in row})
    if required and missing:
        raise ValueError(f"every row needs the metrics {missing}: compute them with all_metrics()")
    metrics = [METRICS[key] for key in columns]
    return markdown_table([first, *(metric.title for metric in metrics)],
                          ([name, *(metric.cell(row.get(metric.key)) for metric in metrics)] for name, row in rows.items()),
                          [False, *[True] * len(metrics)])
