"""The reward ensemble's settings (the paper's, by default), kept apart from the ensemble itself so that reading or
checking them imports no torch."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class RewardConfig:
    """Reward-ensemble settings: the paper's (architecture, ensemble, random response, held-out share, adaptive L2),
    and a learning rate that makes each of its short fits count (docs/notes/per-task.md)."""

    members: int = 3
    """Ensemble size."""
    hidden: int = 64
    """Units in each hidden layer."""
    layers: int = 2
    """Hidden layers per member."""
    random_response: float = 0.1
    """Probability that the teacher answers uniformly at random: P(a>b) = r/2 + (1-r) sigmoid(Ra - Rb)."""
    lr: float = 1e-3
    """Adam learning rate. A fit makes a few hundred steps (100 passes over the up-front labels, 20 per refit), so a
    small rate leaves the model short of what its labels say."""
    batch_size: int = 64
    """Comparisons per member per gradient step."""
    val_fraction: float = 1 / math.e
    """Fraction of comparisons each member holds out for validation."""
    initial_l2: float = 1e-4
    """Starting L2 coefficient; adapted per member during training."""
    l2_band: tuple[float, float] = (1.1, 1.5)
    """Validation loss is kept between these multiples of training loss by adapting L2."""
    initial_epochs: int = 100
    """Passes over the training comparisons in the first fit, on the up-front labels."""
    refit_epochs: int = 20
    """Passes in each later refit (members are warm-started), enough for the model to catch up with the policy's
    new behaviour (docs/notes/hopper.md). Capped by `refit_max_steps`."""
    refit_max_steps: int | None = 160
    """Most gradient steps in a refit (None: no cap). 160 is what 20 passes take at 700 labels, so the cap binds only
    on larger budgets, where refits that grow with the labels cost return (docs/notes/label-budgets.md)."""
    l2_check_every: int = 50
    """Gradient steps between L2 adaptations (and once at the end of every fit)."""


def reward_config_problems(c: RewardConfig) -> list[str]:
    """What is out of range in these settings, as "key=value: must be ...", before any fit runs on them."""
    rules: list[tuple[str, bool, str]] = [
        ("members", c.members >= 1, "at least 1"),
        ("hidden", c.hidden >= 1, "at least 1"),
        ("layers", c.layers >= 0, "0 or more"),
        ("random_response", math.isfinite(c.random_response) and 0 <= c.random_response < 1, "in [0, 1)"),
        ("lr", math.isfinite(c.lr) and c.lr > 0, "a positive number"),
        ("batch_size", c.batch_size >= 1, "at least 1"),
        ("val_fraction", math.isfinite(c.val_fraction) and 0 <= c.val_fraction < 1, "in [0, 1)"),
        ("initial_l2", math.isfinite(c.initial_l2) and c.initial_l2 >= 0, "0 or more"),
        (
            "l2_band",
            len(c.l2_band) == 2 and 0 < c.l2_band[0] <= c.l2_band[1],
            "two numbers low,high with 0 < low <= high",
        ),
        ("initial_epochs", c.initial_epochs >= 1, "at least 1"),
        ("refit_epochs", c.refit_epochs >= 1, "at least 1"),
        ("refit_max_steps", c.refit_max_steps is None or c.refit_max_steps >= 1, "at least 1, or none"),
        ("l2_check_every", c.l2_check_every >= 1, "at least 1"),
    ]
    return [f"{key}={getattr(c, key)}: must be {rule}" for key, ok, rule in rules if not ok]
