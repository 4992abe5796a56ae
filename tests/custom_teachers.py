"""Teachers of a user's own, for the tests to name as --teacher tests.custom_teachers:..."""

import numpy as np

from prefrl.core.comparisons import Choice
from prefrl.core.selection import disagreement_pairs


class PrefersStill:
    """Prefers the clip with the smaller actions; counts the returns it is shown."""

    name = "prefers-still"

    def __init__(self) -> None:
        self.observed = 0

    def observe(self, item_returns: np.ndarray) -> None:
        self.observed += 1

    def label(self, a, b) -> Choice:
        return Choice.LEFT if np.abs(a.actions).sum() <= np.abs(b.actions).sum() else Choice.RIGHT


NOT_A_TEACHER = 3


SEEN: list[tuple] = []
"""What most_active_pairs was handed: (clips, their type, member_returns' shape, pairs asked)."""


def most_active_pairs(clips, member_returns, n, rng):
    """A query strategy of a user's own: compare each of the n most active clips with a random other one."""
    SEEN.append((len(clips), type(clips[0]).__name__, member_returns.shape, n))
    activity = np.array([np.abs(c.actions).sum() for c in clips])
    busy = np.argsort(-activity)[:n]
    other = (busy + rng.integers(1, len(clips), size=n)) % len(clips)
    return np.stack([busy, other], axis=1)


def one_pair_only(clips, member_returns, n, rng):
    return np.array([[0, 1]])


class FasterByInfo:
    """Judges by what the env reports in each step's info: the clip with the higher mean forward velocity."""

    name = "faster-by-info"

    def __init__(self) -> None:
        self.shown: list[tuple] = []  # (clip a, clip b, answer)

    def observe(self, item_returns: np.ndarray) -> None:
        pass

    def label(self, a, b) -> Choice:
        answer = Choice.LEFT if a.info["x_velocity"].mean() >= b.info["x_velocity"].mean() else Choice.RIGHT
        self.shown.append((a, b, answer))
        return answer


def best_tenth_pairs(clips, member_returns, n, rng):
    """Random pairs among the best-rated tenth of the clips, written out as a user would (the built-in 'top')."""
    k = max(len(clips) // 10, 2 * n)
    rows = np.argsort(-member_returns.mean(axis=0), kind="stable")[:k]
    a = rng.integers(0, len(rows), size=n)
    b = (a + rng.integers(1, len(rows), size=n)) % len(rows)
    return rows[np.stack([a, b], axis=1)]


def upper_half_disagreement_pairs(clips, member_returns, n, rng):
    """Disagreement among the better-rated half of the clips, written out as a user would (the built-in
    'upper-disagreement')."""
    k = max(len(clips) // 2, 2 * n)
    rows = np.argsort(-member_returns.mean(axis=0), kind="stable")[:k]
    return rows[disagreement_pairs(member_returns[:, rows], n, rng, 10)]
