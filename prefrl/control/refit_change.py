"""How a refit moved the reward PPO sees, measured on the same recent steps."""

from __future__ import annotations

import numpy as np


def reward_change(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """How a refit moved the reward the agent sees on the same recent steps: its correlation with the old reward,
    the slope of new on old, and the change of its mean per step (`level_shift`).

    PPO's value function was fitted to `before`; a slope or level far from (1, 0) is a reward it has to relearn,
    even when the correlation says the refit kept the reward's shape.
    """
    spread = float(before.std())
    corr = float(np.corrcoef(before, after)[0, 1]) if spread > 0 and after.std() > 0 else float("nan")
    slope = float(np.cov(before, after, bias=True)[0, 1] / spread**2) if spread > 0 else float("nan")
    return {"correlation": corr, "slope": slope, "level_shift": float(after.mean() - before.mean())}
