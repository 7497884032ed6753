"""The score of a review, in one place: every answered item counts by its weight as the share
of its scale it got (yes = 1, no = 0; a scale mark m of n = m / n); the score is that weighted
share × 100, rounded to one decimal. A critical item answered "no" (or the lowest mark) fails
the whole call: failed, score 0."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ItemRule:
    id: int
    weight: float
    scale_max: int
    critical: bool


def item_failed(item: ItemRule, value: int) -> bool:
    return value <= 0


def score(items: list[ItemRule], answers: dict[int, int]) -> tuple[float, bool]:
    """(score 0–100, failed) of the answers {item id: value}; items left out do not count."""
    total = earned = 0.0
    failed = False
    for item in items:
        if item.id not in answers:
            continue
        value = answers[item.id]
        if item.critical and item_failed(item, value):
            failed = True
        total += item.weight
        earned += item.weight * value / max(1, item.scale_max)
    if failed or total <= 0:
        return 0.0, failed
    return round(100.0 * earned / total, 1), False
