"""Pairwise comparisons between two items and the dataset the reward model trains on."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np


class Choice(str, Enum):
    """What a teacher said about a pair (a, b)."""

    LEFT = "left"  # a is better
    RIGHT = "right"  # b is better
    EQUAL = "equal"  # both equally good
    INCOMPARABLE = "incomparable"  # can't tell: kept in the store, never trained on

    @property
    def target(self) -> float | None:
        """Bradley-Terry target P(a > b); None for comparisons that are not trained on."""
        return _TARGETS[self]


_TARGETS: dict[Choice, float | None] = {
    Choice.LEFT: 1.0,
    Choice.RIGHT: 0.0,
    Choice.EQUAL: 0.5,
    Choice.INCOMPARABLE: None,
}


@dataclass(frozen=True)
class Comparison:
    """Two item ids and the teacher's choice between them."""

    a: int
    b: int
    choice: Choice

    @property
    def target(self) -> float | None:
        return self.choice.target


@dataclass
class PreferenceDataset:
    """Trainable comparisons as arrays: pairs of item rows and their targets.

    `pairs[i] = (row_a, row_b)` index into an item tensor held by the caller, so the same segment can take part in
    many comparisons without being copied.
    """

    pairs: np.ndarray  # (N, 2) int64
    targets: np.ndarray  # (N,) float32 in {0, 0.5, 1}

    @classmethod
    def from_comparisons(cls, comparisons: list[Comparison], row_of: dict[int, int]) -> PreferenceDataset:
        """Keep the comparisons that can be trained on, mapping item ids to rows with `row_of`."""
        kept = [c for c in comparisons if c.target is not None]
        pairs = np.array([[row_of[c.a], row_of[c.b]] for c in kept], dtype=np.int64).reshape(-1, 2)
        targets = np.array([c.target for c in kept], dtype=np.float32)
        return cls(pairs=pairs, targets=targets)

    def __len__(self) -> int:
        return len(self.targets)
