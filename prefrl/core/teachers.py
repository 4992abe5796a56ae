"""Teachers answer queries. Synthetic oracles read each item's hidden true reward; a person answers via the store.

A teacher sees, for each item, its array of true per-step rewards (a text item has an array of one score), so the
same oracles serve control and text. Noise models compose in a fixed order; later issues add skip, equal, myopic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from prefrl.core.comparisons import Choice


class Teacher(Protocol):
    """Anything that turns pairs of items into choices; None means the query was skipped."""

    name: str

    def label(self, rewards_a: np.ndarray, rewards_b: np.ndarray) -> Choice | None: ...


@dataclass
class SyntheticOracle:
    """Prefers the item with the higher true return; ties are equal.

    beta: Boltzmann rationality; P(a) = sigmoid(beta (Ra - Rb)); inf is the deterministic, perfect teacher.
    epsilon: probability of flipping a decided answer (a mistake). Equal answers stand.
    """

    beta: float = float("inf")
    epsilon: float = 0.0
    seed: int = 0
    name: str = "oracle"

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ValueError("beta must be positive (inf for a perfectly rational teacher)")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError("epsilon must be a probability in [0, 1]")
        self._rng = np.random.default_rng(self.seed)

    def label(self, rewards_a: np.ndarray, rewards_b: np.ndarray) -> Choice | None:
        diff = float(np.sum(rewards_a) - np.sum(rewards_b))
        if diff == 0.0:
            return Choice.EQUAL
        if np.isinf(self.beta):
            left = diff > 0
        else:
            left = bool(self._rng.random() < 1.0 / (1.0 + np.exp(-np.clip(self.beta * diff, -50, 50))))
        if self.epsilon > 0 and self._rng.random() < self.epsilon:
            left = not left
        return Choice.LEFT if left else Choice.RIGHT


PRESETS: dict[str, dict[str, float]] = {
    "perfect": {},
    "mistake": {"epsilon": 0.1},
}


def make_teacher(
    preset: str, seed: int = 0, beta: float | None = None, epsilon: float | None = None
) -> SyntheticOracle:
    """A named synthetic teacher, with beta/epsilon overriding the preset where given."""
    if preset not in PRESETS:
        raise ValueError(f"unknown teacher {preset!r}; choose one of {', '.join(PRESETS)}")
    kwargs = dict(PRESETS[preset])
    if beta is not None:
        kwargs["beta"] = beta
    if epsilon is not None:
        kwargs["epsilon"] = epsilon
    return SyntheticOracle(seed=seed, name=preset, **kwargs)
