"""Where each run's wall clock went, from the last row of its metrics.csv: PPO's rollouts and updates, evaluations,
and in preference runs the learned reward's refits and per-step work. Put a preference run beside its true-reward
run, each run on the same otherwise idle machine, and the difference splits into parts.

    python benchmarks/wall_clock.py benchmarks/work/pref-s0 benchmarks/work/true-s0
    python benchmarks/wall_clock.py RUN... --plot pace.png   # the pace of each stretch between evaluations

The plot shows how steady the machine was: PPO's update does the same work per step all run long, so its pace
between evaluations moves only when the machine's speed does.

Per-step figures divide by every environment step the run took, its random-policy steps before PPO included.
'refit' is the training process's time on queries and refits, waits for the worker process included. 'fit' is the
fitting itself, in the worker process, where it overlaps PPO's updates: it is not a part of 'wall'. Runs made by
versions that fitted in-line did so inside 'refit', and log no 'fit'.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

PARTS = ("update_seconds", "eval_seconds", "refit_seconds", "reward_step_seconds")


def breakdown(folder: Path) -> dict[str, float]:
    """Seconds per part of the run's last metrics row; 'rollout' is the rest of its wall time."""
    with (folder / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    if any(r.get("update_seconds") in (None, "") for r in rows):
        raise SystemExit(
            f"{folder}: began before update_seconds and eval_seconds were logged; its parts cannot be told"
        )
    row = rows[-1]

    def value(key: str) -> float:
        return float(row[key]) if row.get(key) not in (None, "") else 0.0

    out = {"steps": value("timesteps") + value("pretrain_steps"), "wall": value("wall_time")}
    out.update({key.removesuffix("_seconds"): value(key) for key in PARTS})
    out["rollout"] = out["wall"] - sum(out[key.removesuffix("_seconds")] for key in PARTS)
    out["fit"] = value("fit_seconds")  # not a part of wall: in the background, or inside 'refit'
    return out


def plot_pace(folders: list[Path], path: Path) -> None:
    """Microseconds per step between consecutive evaluations: all of the run's wall time, and PPO's update alone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharex=True)
    for folder in folders:
        with (folder / "metrics.csv").open() as f:
            rows = list(csv.DictReader(f))
        steps = [float(r["timesteps"]) for r in rows]
        for ax, key in zip(axes, ("wall_time", "update_seconds")):
            values = [float(r[key]) for r in rows]
            pace = [
                (values[i] - values[i - 1]) / (steps[i] - steps[i - 1]) * 1e6
                for i in range(2, len(rows))  # from the second stretch: the first holds the start-up
            ]
            ax.plot(steps[2:], pace, marker=".", label=f"{folder.parent.name}/{folder.name}")
    axes[0].set(title="whole run", xlabel="environment steps", ylabel="us per step since the last evaluation")
    axes[1].set(title="PPO's update only", xlabel="environment steps")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"figure: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")
    parser.add_argument("--plot", type=Path, help="also draw each run's pace between evaluations into this PNG")
    args = parser.parse_args()
    names = ["wall", "rollout", "update", "eval", "refit", "reward_step", "fit"]
    print("| run | steps | " + " | ".join(f"{n} s (us/step)" for n in names) + " |")
    print("| --- | --- |" + " --- |" * len(names))
    for folder in args.runs:
        b = breakdown(folder)
        cells = [f"{b[n]:,.1f} ({b[n] / b['steps'] * 1e6:,.1f})" for n in names]
        print(f"| {folder} | {b['steps']:,.0f} | " + " | ".join(cells) + " |")
    if args.plot:
        plot_pace(args.runs, args.plot)


if __name__ == "__main__":
    main()
