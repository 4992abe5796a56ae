"""When labels are asked for: a share up front, the rest at a rate decaying like h / (T + h).

The cumulative count after T steps is the integral of that rate, scaled so the whole budget is spent at the end
of training. The paper's h is 2e6 steps, but over a run much shorter than h the rate barely falls, and early,
thinly labelled reward models steer PPO into traps it never leaves. The default h is a sixteenth of the run, which
asks about half the remaining labels in the first fifth of training, while the policy changes fastest
(docs/notes/label-schedule.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_HALVING_SHARE = 1 / 16
PAPER_HALVING = 2e6


def default_halving(timesteps: int) -> float:
    """The h a run of `timesteps` steps gets when none is given."""
    return timesteps * DEFAULT_HALVING_SHARE


@dataclass(frozen=True)
class LabelSchedule:
    """Label budget `total` spread over `timesteps` environment steps."""

    total: int
    timesteps: int
    initial_fraction: float = 0.25
    halving: float | None = None
    """Steps T after which the rate h / (T + h) has halved (None: `default_halving(timesteps)`)."""

    def __post_init__(self) -> None:
        if self.halving is None:
            object.__setattr__(self, "halving", default_halving(self.timesteps))
        if self.total <= 0:
            raise ValueError("the label budget must be positive")
        if self.timesteps <= 0:
            raise ValueError("timesteps must be positive")
        if not 0.0 < self.initial_fraction <= 1.0:
            raise ValueError("initial_fraction must be in (0, 1]")
        if not self.halving > 0:  # type: ignore[operator]
            raise ValueError("the label rate's halving time must be positive")
        if self.initial < 1:
            least = math.floor(0.5 / self.initial_fraction) + 1  # the smallest budget whose rounded share is 1
            raise ValueError(f"a budget of {self.total} labels leaves none for the start; use at least {least} labels")

    @property
    def initial(self) -> int:
        """Labels collected from the initial random policy before PPO starts."""
        return int(round(self.total * self.initial_fraction))

    def _area(self, t: float) -> float:
        h: float = self.halving  # type: ignore[assignment]  (set in __post_init__)
        return h * math.log1p(t / h)

    def due(self, t: int) -> int:
        """Cumulative labels that should have been asked for after t environment steps of training."""
        if t >= self.timesteps:
            return self.total
        share = self._area(max(t, 0)) / self._area(self.timesteps)
        return self.initial + int(math.floor((self.total - self.initial) * share))
