"""When labels are asked for, and what a query strategy of the user's own must hand back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from prefrl.errors import PrefrlError

if TYPE_CHECKING:
    from prefrl.control.config import TrainConfig


def query_is_due(config: TrainConfig, owed: int, timesteps: int) -> bool:
    """Ask (and refit) once a batch of labels is owed, 2% of the budget unless `query_batch` says otherwise, and
    for whatever is still owed when training ends."""
    batch = config.query_batch or max(1, config.labels // 50)
    return owed >= batch or (owed > 0 and timesteps >= config.timesteps)


def checked_pairs(pairs: object, n: int, n_clips: int, config: TrainConfig) -> np.ndarray:
    """A strategy of the user's own must give n pairs of indices of distinct clips: one line naming it if not."""
    rows = np.asarray(pairs)
    well_formed = rows.shape == (n, 2) and np.issubdtype(rows.dtype, np.integer)
    if not well_formed or (rows.size and (rows.min() < 0 or rows.max() >= n_clips or (rows[:, 0] == rows[:, 1]).any())):
        raise PrefrlError(
            f"--selection {config.selection} gave {rows.shape} {rows.dtype} pairs; it must give {n} pairs (n x 2 "
            f"integers) of two different clips among the {n_clips} it was handed"
        )
    return rows
