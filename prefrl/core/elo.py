"""Elo ratings from pairwise comparisons, and how well two sets of scores agree.

Elo is the other common way to turn rankings into scalar rewards (chatbot arenas use it). The text trainer reports
it next to the Bradley-Terry reward model so a researcher can see whether the two agree on the same labels.
"""

from __future__ import annotations

import numpy as np

from prefrl.core.comparisons import Comparison


def elo_ratings(
    comparisons: list[Comparison], k: float = 16.0, initial: float = 1000.0, passes: int = 20, seed: int = 0
) -> dict[int, float]:
    """Ratings after replaying the comparisons `passes` times in shuffled order (one pass depends on order).

    Each trainable comparison moves both items by k * (outcome - expected), expected = 1 / (1 + 10^((Rb - Ra)/400)).
    Equal counts as half a win; incomparable comparisons are ignored.
    """
    kept = [c for c in comparisons if c.target is not None]
    ratings: dict[int, float] = {}
    for c in kept:
        ratings.setdefault(c.a, initial)
        ratings.setdefault(c.b, initial)
    rng = np.random.default_rng(seed)
    for _ in range(passes):
        for i in rng.permutation(len(kept)):
            c = kept[i]
            expected = 1.0 / (1.0 + 10 ** ((ratings[c.b] - ratings[c.a]) / 400.0))
            delta = k * (float(c.target) - expected)  # type: ignore[arg-type]
            ratings[c.a] += delta
            ratings[c.b] -= delta
    return ratings


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    # average the ranks of ties
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation; nan when either side is constant or there are fewer than 2 items."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def pairwise_agreement(comparisons: list[Comparison], scores: dict[int, float]) -> float:
    """Fraction of decided comparisons (left or right) whose order the scores reproduce; nan when there are none."""
    decided = [c for c in comparisons if c.target in (0.0, 1.0) and c.a in scores and c.b in scores]
    if not decided:
        return float("nan")
    right = [(scores[c.a] > scores[c.b]) == (c.target == 1.0) for c in decided]
    return float(np.mean(right))
