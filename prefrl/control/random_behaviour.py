"""The random policy that acts before PPO starts, whose clips the up-front labels compare.

The paper's random policy draws each action uniformly and independently. Fifty such steps sum to much the same
motion in every clip, so comparisons of its clips teach little (docs/notes/per-task.md). `VariedActions` instead
gives each clip's stretch of steps its own scale and smoothness: some clips hold still, some drift, some thrash, and
the up-front labels compare behaviours that differ.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from gymnasium.spaces import Box

INITIAL_BEHAVIOURS = ("uniform", "varied")
"""uniform: the paper's i.i.d. uniform actions; varied: `VariedActions`."""

SCALES = (0.05, 1.0)
"""Range (log-uniform) of a stretch's action noise, as a share of each dimension's half-range."""
CORRELATION_SECONDS = (0.01, 1.0)
"""Range (log-uniform) of a stretch's correlation time in simulated seconds: from jerky to smooth."""


class VariedActions:
    """Actions of an AR(1) process whose scale and correlation time are drawn anew every `stretch` steps.

    x_t = rho x_{t-1} + sqrt(1 - rho^2) scale e_t (e_t standard normal), so x_t has std `scale` whatever rho; the
    action is x_t clipped to [-1, 1] and mapped onto the Box. rho = exp(-dt / tau) for a correlation time tau in
    simulated seconds, so a stretch looks alike on envs with different timesteps.
    """

    def __init__(self, space: Box, dt: float, stretch: int, rng: np.random.Generator) -> None:
        low, high = space.low.astype(np.float64), space.high.astype(np.float64)
        bounded = np.isfinite(low) & np.isfinite(high)  # an unbounded dimension: unit noise around 0
        self.mid = np.where(bounded, 0.5 * (low + high), 0.0)
        self.half = np.where(bounded, 0.5 * (high - low), 1.0)
        self.dt, self.stretch, self.rng = dt, max(1, stretch), rng
        self.restart()

    def restart(self) -> None:
        """A new episode: the next action starts a new stretch."""
        self.step_in_stretch = 0

    def _new_stretch(self) -> None:
        (s0, s1), (t0, t1) = SCALES, CORRELATION_SECONDS
        self.scale = math.exp(self.rng.uniform(math.log(s0), math.log(s1)))
        tau = math.exp(self.rng.uniform(math.log(t0), math.log(t1)))
        self.rho = math.exp(-self.dt / tau) if self.dt > 0 else 0.0
        self.x = self.rng.normal(0.0, self.scale, size=self.mid.shape)

    def sample(self) -> np.ndarray:
        """The next action."""
        if self.step_in_stretch % self.stretch == 0:
            self._new_stretch()
        else:
            noise = self.rng.normal(0.0, self.scale, size=self.mid.shape)
            self.x = self.rho * self.x + math.sqrt(1.0 - self.rho**2) * noise
        self.step_in_stretch += 1
        return (self.mid + np.clip(self.x, -1.0, 1.0) * self.half).astype(np.float32)


class UniformActions:
    """The paper's random policy: each action drawn uniformly from the Box, independently (the space's own RNG)."""

    def __init__(self, space: Box) -> None:
        self.space = space

    def restart(self) -> None:
        """A new episode: nothing to carry over."""

    def sample(self) -> np.ndarray:
        """The next action."""
        return self.space.sample()


def initial_actions(behaviour: str, space: Box, dt: float, stretch: int, seed: int) -> UniformActions | VariedActions:
    """The random policy before PPO that `behaviour` (one of INITIAL_BEHAVIOURS) names, seeded from `seed`."""
    space.seed(seed)
    if behaviour == "varied":
        return VariedActions(space, dt, stretch, np.random.default_rng(seed + 30_000))
    return UniformActions(space)
