"""Teachers of a user's own, for the tests to name as --teacher tests.custom_teachers:..."""

import numpy as np

from prefrl.core.comparisons import Choice


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
