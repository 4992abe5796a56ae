"""How a sweep scores preference PPO against true-reward PPO, per task and over tasks.

A task's score is the ratio of the means: the mean over seeds of the preference runs' final returns over the mean of
the true-reward runs' (each run's final return is the mean of its last evaluations). Where true-reward PPO's mean is
not positive (Reacher's returns are all negative), a ratio means nothing, and the score is normalised instead: the
untrained policy is 0 and true-reward PPO is 1. Beside it: the interquartile mean of the per-seed scores with a 95%
stratified-bootstrap confidence interval (rliable), as Agarwal et al. (2021) recommend for few seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

FINAL_EVALS = 3
"""The final return of a run is the mean of its last 3 evaluations: less noisy than one 5-episode evaluation."""

BOOTSTRAP_REPS = 2000
"""Bootstrap resamples behind each confidence interval."""


def final_return(rows: list[dict[str, float]], horizon: float) -> float:
    kept = [r["true_return_mean"] for r in rows if r["timesteps"] <= horizon]
    return float(np.mean(kept[-FINAL_EVALS:])) if kept else float("nan")


def untrained_return(runs: list[list[dict[str, float]]]) -> float:
    """Mean return of the untrained policies: the evaluations at step 0 of the given runs (NaN if none has one)."""
    first = [rows[0]["true_return_mean"] for rows in runs if rows and rows[0]["timesteps"] == 0]
    return float(np.mean(first)) if first else float("nan")


@dataclass
class TaskScore:
    """Preference PPO against true-reward PPO on one task, over the seeds where both finished."""

    preference: list[float]
    """Final return of each seed's preference run."""
    true_reward: list[float]
    """Final return of each seed's true-reward run, in the same seed order."""
    untrained: float = math.nan
    """Return of the untrained policy (the normalised score's 0)."""
    per_seed: np.ndarray = field(init=False)
    """Each seed's score against the mean baseline; their mean is `score`."""
    normalised: bool = field(init=False)
    """Whether the score is normalised between untrained and true-reward PPO rather than a ratio of means."""

    def __post_init__(self) -> None:
        base = float(np.mean(self.true_reward))
        self.normalised = base <= 0
        low = self.untrained if self.normalised else 0.0
        pref = np.asarray(self.preference, dtype=float)
        span = base - low
        self.per_seed = (pref - low) / span if span and not math.isnan(span) else np.full(len(pref), np.nan)

    @property
    def score(self) -> float:
        return float(np.mean(self.per_seed))


def iqm_interval(scores: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Interquartile mean of a (runs, tasks) score matrix and its 95% stratified-bootstrap interval over runs.

    One run has no interval to give (NaN bounds); NaN scores give NaN throughout.
    """
    scores = np.asarray(scores, dtype=float).reshape(len(scores), -1)
    if scores.size == 0 or np.isnan(scores).any():
        return math.nan, math.nan, math.nan
    from scipy.stats import trim_mean

    iqm = float(trim_mean(scores.reshape(-1), proportiontocut=0.25))
    if len(scores) < 2:
        return iqm, math.nan, math.nan
    import warnings

    with warnings.catch_warnings():  # arch and seaborn, under rliable, warn about their own dependencies' APIs
        warnings.simplefilter("ignore")
        from rliable import library as rly
        from rliable import metrics

        # rliable's stratified bootstrap draws its resamples from NumPy's global generator whatever `random_state`
        # says, so that generator is seeded for the call (and restored after): a report is the same every time.
        outside = np.random.get_state()
        np.random.seed(seed)
        try:
            _, interval = rly.get_interval_estimates(
                {"x": scores},
                lambda x: np.array([metrics.aggregate_iqm(x)]),
                reps=BOOTSTRAP_REPS,
                random_state=np.random.RandomState(seed),
            )
        finally:
            np.random.set_state(outside)
    return iqm, float(interval["x"][0, 0]), float(interval["x"][1, 0])
