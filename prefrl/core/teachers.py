"""Teachers answer queries. Synthetic oracles read each item's hidden true reward; a person answers via the store.

A teacher is handed the two items themselves: a control clip (a `Segment`, with its `obs`, `actions` and
`true_rewards` per step) or a text item's array of one score. The synthetic oracles read only the true rewards, so
they serve control and text alike; a teacher of your own may judge whatever it sees. The simulated-human noise models
of B-Pref (Lee et al., 2021) compose in a fixed order: skip, equal, myopic, Boltzmann, mistake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from prefrl.core.comparisons import Choice


class Teacher(Protocol):
    """Anything that turns pairs of items into choices; None means the query was skipped."""

    name: str
    """Recorded with every label it gives, as the annotator `oracle:<name>`."""

    def observe(self, item_returns: np.ndarray) -> None:
        """Recent items' true returns, before each batch of labels: a teacher whose answers depend on the scale of
        the task (skip and equal thresholds) reads it here; others ignore it."""

    def label(self, a: Any, b: Any) -> Choice | None:
        """Which of two items is better: LEFT (a), RIGHT (b), EQUAL, INCOMPARABLE, or None to skip the query."""
        ...


def true_rewards(item: Any) -> np.ndarray:
    """An item's true per-step rewards: a clip's `true_rewards`, or the item itself where it is the array."""
    return np.asarray(getattr(item, "true_rewards", item))


@dataclass
class FunctionTeacher:
    """A teacher made of a function `label(a, b) -> Choice | None`; it ignores `observe`."""

    fn: Callable[[Any, Any], Choice | str | None]
    name: str

    def observe(self, item_returns: np.ndarray) -> None:
        pass

    def label(self, a: Any, b: Any) -> Choice | None:
        answer = self.fn(a, b)
        return None if answer is None else Choice(answer)


def as_teacher(obj: Any) -> Teacher:
    """A teacher from what a user hands over: a Teacher (anything with `label`), a Teacher class (called with no
    arguments), or a function that labels a pair."""
    if isinstance(obj, type):
        obj = obj()
    if hasattr(obj, "label"):
        if not hasattr(obj, "observe"):
            raise TypeError(f"{type(obj).__name__} has label() but no observe(); add one (it may do nothing)")
        if not hasattr(obj, "name"):
            obj.name = type(obj).__name__
        return obj  # type: ignore[no-any-return]
    if callable(obj):
        return FunctionTeacher(obj, getattr(obj, "__name__", "custom"))
    raise TypeError(f"{obj!r} ({type(obj).__name__}) is not a teacher: pass an object with label(a, b), or a function")


@dataclass
class SyntheticOracle:
    """Prefers the item with the higher true return, with B-Pref's noise models applied in order:

    1. skip: no answer (None) when both returns are below eps_skip * margin;
    2. equal: EQUAL when the returns differ by less than eps_equal * |margin|;
    3. myopic: step t of an H-step item is weighted gamma^(H-1-t) (recent steps count most);
    4. Boltzmann: LEFT with probability sigmoid(beta * (Ra - Rb)); beta = inf is deterministic (exact ties: EQUAL);
    5. mistake: a decided answer is flipped with probability epsilon; an EQUAL from step 2 stands.

    margin is the mean true return per item over recent behaviour, given by `observe()`. Thresholds are recomputed
    from it each time (the reference package compounded them by epsilon after its first round).
    scale='mean' compares per-step means instead of sums, so that beta means the same across item lengths and tasks.
    """

    beta: float = float("inf")
    epsilon: float = 0.0
    gamma: float = 1.0
    eps_skip: float = 0.0
    eps_equal: float = 0.0
    scale: str = "sum"
    seed: int = 0
    name: str = "oracle"

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise ValueError("beta must be positive (inf for a perfectly rational teacher)")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError("epsilon must be a probability in [0, 1]")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError("gamma (myopia) must be in (0, 1]")
        if self.eps_skip < 0 or self.eps_equal < 0:
            raise ValueError("eps_skip and eps_equal must be >= 0")
        if self.scale not in ("sum", "mean"):
            raise ValueError("scale must be 'sum' or 'mean'")
        self._rng = np.random.default_rng(self.seed)
        self.margin: float | None = None

    def observe(self, item_returns: np.ndarray) -> None:
        """Set the margin from recent items' true returns (the trainer calls this before each batch of queries)."""
        if len(item_returns):
            self.margin = float(np.mean(item_returns))

    def _value(self, rewards: np.ndarray) -> float:
        r = np.asarray(rewards, dtype=np.float64)
        if self.gamma < 1.0:
            r = r * self.gamma ** np.arange(len(r) - 1, -1, -1)
        return float(r.sum() / max(len(r), 1) if self.scale == "mean" else r.sum())

    def label(self, a: Any, b: Any) -> Choice | None:
        rewards_a, rewards_b = true_rewards(a), true_rewards(b)
        ra, rb = float(np.sum(rewards_a)), float(np.sum(rewards_b))
        margin = self.margin
        if self.eps_skip > 0 and margin is not None and max(ra, rb) < self.eps_skip * margin:
            return None
        if self.eps_equal > 0 and margin is not None and abs(ra - rb) < self.eps_equal * abs(margin):
            return Choice.EQUAL
        diff = self._value(rewards_a) - self._value(rewards_b)
        if np.isinf(self.beta):
            if diff == 0.0:
                return Choice.EQUAL
            left = diff > 0
        else:
            left = bool(self._rng.random() < 1.0 / (1.0 + np.exp(-np.clip(self.beta * diff, -50, 50))))
        if self.epsilon > 0 and self._rng.random() < self.epsilon:
            left = not left
        return Choice.LEFT if left else Choice.RIGHT


PRESETS: dict[str, dict[str, float | str]] = {
    "perfect": {},
    "noisy": {"beta": 1.0, "scale": "mean"},
    "mistake": {"epsilon": 0.1},
    "skip": {"eps_skip": 0.1},
    "equal": {"eps_equal": 0.1},
    "myopic": {"gamma": 0.9},
}


NOISE = ("beta", "epsilon", "gamma", "eps_skip", "eps_equal")
"""A synthetic teacher's noise parameters, each a run setting of its own."""


def preset_settings(teacher: Any) -> dict[str, Any] | None:
    """A synthetic teacher as the run settings that rebuild it (its preset's name and noise parameters), so a run
    handed `prefrl.teachers.noisy` records and resumes it as `teacher="noisy"`; None for any other teacher."""
    if not isinstance(teacher, SyntheticOracle) or teacher.name not in PRESETS:
        return None
    preset = make_teacher(teacher.name)
    if teacher.scale != preset.scale:  # not expressible as run settings
        return None
    changed = {k: getattr(teacher, k) for k in NOISE if getattr(teacher, k) != getattr(preset, k)}
    return {"teacher": teacher.name, **changed}


def make_teacher(preset: str, seed: int = 0, **overrides: float | str | None) -> SyntheticOracle:
    """A named synthetic teacher; any of beta, epsilon, gamma, eps_skip, eps_equal, scale given override the preset."""
    if preset not in PRESETS:
        raise ValueError(f"unknown teacher {preset!r}; choose one of {', '.join(PRESETS)}")
    kwargs = dict(PRESETS[preset])
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    return SyntheticOracle(seed=seed, name=preset, **kwargs)  # type: ignore[arg-type]
