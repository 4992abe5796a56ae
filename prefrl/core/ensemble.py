"""What makes a set of reward models an ensemble, for every domain: each member held out from its own share of the
labels, trained on its own bootstrap resample of the rest, and its output normalised over reference steps. The
control domain's MLPs (core/reward.py) and the text domain's heads on a language model both use these.
"""

from __future__ import annotations

import numpy as np
import torch


def held_out(seed: int, key: int, members: int, fraction: float) -> np.ndarray:
    """Whether each member holds out the label (or group of labels) `key`: fixed per (seed, key), so the split
    survives refits and resumes. (members,) bool."""
    return np.random.default_rng([seed, key]).random(members) < fraction


def bootstrap(train: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One member's bootstrap resample of its training labels: as many, drawn with replacement."""
    return rng.choice(train, size=len(train), replace=True)


def output_stats(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each member's mean and std over reference steps, raw (members, N) -> (members,), (members,): dividing by the
    std puts every member, and so their mean, on one scale whatever the labels' own."""
    return raw.mean(1), raw.std(1, unbiased=False).clamp_min(1e-6)
