"""Where a run's time goes, by part: PPO's updates and evaluations in both arms; in preference runs the learned
reward's share (queries and refits, per-step work) and the fitting itself, in whichever process it ran."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

PARTS = {
    "update": "PPO's gradient updates",
    "eval": "evaluations, plots and checkpoints",
    "refit": "choosing queries, labelling (synthetic teachers), and refitting or waiting for a refit",
    "reward_step": "predicting each rollout's reward in one batch, and cutting clips at every step",
    "fit": "fitting the reward model, wherever it ran (mostly in the worker, overlapping PPO)",
}
"""The parts timed, reported as `<part>_seconds` in metrics.csv and progress.json; the rest of a run is rollouts."""
LEARNED_PARTS = ("refit", "reward_step", "fit")
"""Parts only a preference run has."""


class Stopwatch:
    """Seconds per part, carried across a resume. A block timed inside another block of the same part counts once
    (a query refits)."""

    def __init__(self, seconds: dict[str, float] | None = None) -> None:
        self.seconds = {part: float((seconds or {}).get(f"{part}_seconds", 0.0)) for part in PARTS}
        self._open: dict[str, float] = {}

    @contextmanager
    def time(self, part: str) -> Iterator[None]:
        if part in self._open:
            yield
            return
        self.start(part)
        try:
            yield
        finally:
            self.stop(part)

    def start(self, part: str) -> None:
        self._open[part] = time.perf_counter()

    def stop(self, part: str) -> None:
        """End the part's open block, if one is open."""
        started = self._open.pop(part, None)
        if started is not None:
            self.seconds[part] += time.perf_counter() - started

    def add(self, part: str, seconds: float) -> None:
        self.seconds[part] += seconds

    def elapsed(self, part: str) -> float:
        """The part's seconds so far, its open block included."""
        started = self._open.get(part)
        return self.seconds[part] + (time.perf_counter() - started if started is not None else 0.0)

    def report(self, learned: bool) -> dict[str, float]:
        """`<part>_seconds` of every part the run has (open blocks included), as metrics rows and progress.json
        record them."""
        parts = [p for p in PARTS if learned or p not in LEARNED_PARTS]
        return {f"{part}_seconds": self.elapsed(part) for part in parts}
