"""What continuing a run may change: its length and its label budget. Every other setting stays the run's own, and a
command line that asks for another value is refused, naming the difference."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from prefrl.control import run_folder as rf
from prefrl.control.config import TrainConfig
from prefrl.errors import PrefrlError

MAY_CHANGE = ("timesteps", "labels")
"""Settings a resumed run takes from the command line: --timesteps extends it, --labels raises its budget."""


def progress(out: Path) -> dict[str, Any]:
    """The run's progress.json, or an empty record before its first checkpoint."""
    return rf.read_progress(out) if (out / rf.PROGRESS).exists() else {}


def continued(
    out: Path, saved: TrainConfig, timesteps: int | None, labels: int | None
) -> tuple[TrainConfig, list[str]]:
    """The run's config with the length and budget the command line asks for, and a line for each change.

    The label schedule is recomputed for the new length and budget: labels already asked stay, the schedule pauses
    until its curve passes them, and the budget is spent by the new end. Evaluations keep their spacing in steps.
    """
    done = progress(out)
    steps_done, labels_given = int(done.get("timesteps", 0)), int(done.get("labels", 0))
    config, changes = saved, []
    if timesteps is not None and timesteps != saved.timesteps:
        if timesteps < steps_done:
            raise PrefrlError(
                f"{out} has already trained {steps_done} steps; --timesteps must be at least that to continue it"
            )
        config = replace(config, timesteps=timesteps)
        changes.append(f"extending {out} from {saved.timesteps} to {timesteps} steps")
    if labels is not None and labels != saved.labels:
        if saved.reward != "learned":
            raise PrefrlError(f"{out} trains on the true reward and has no label budget; drop --labels")
        if labels < labels_given:
            raise PrefrlError(f"{out} already has {labels_given} labels; --labels must be at least that")
        config = replace(config, labels=labels)
        changes.append(f"raising the label budget of {out} from {saved.labels} to {labels}")
    return config, changes


def finished(out: Path, config: TrainConfig) -> str | None:
    """One line saying the run is complete and how to extend it, or None while it has steps left or its final
    evaluation is not logged yet (a run stopped during it has checkpointed its last step without the row)."""
    if rf.steps_reached(out) < config.timesteps:
        return None
    done = progress(out)
    steps = int(done.get("timesteps", 0))
    labels = f", {int(done.get('labels', 0))} labels" if config.reward == "learned" else ""
    return (
        f"{out} is finished ({steps} steps{labels}); nothing to do. To train it further: "
        f"prefrl train --resume {out} --timesteps {2 * steps}"
    )
