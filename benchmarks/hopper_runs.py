"""Every Hopper run side by side: when (whether) each one broke through, which a table of final returns hides.

Hopper-v5's true return sits near 1,000 while the agent stands, hops in place or lunges and falls, then jumps to
~3,000 once it hops forward steadily. Whether that happens within 500k steps decides a run's final return, for
true-reward PPO as much as for preference PPO, so this plots each run's curve and lists its breakthrough step.

    python benchmarks/hopper_runs.py --out benchmarks/results/hopper-runs.png \\
        benchmarks/results/halfcheetah-hopper-paper-schedule/results.csv \\
        benchmarks/results/refit-cap/paper-schedule/hopper-*.csv benchmarks/results/hopper-trap-remedies/*.csv

A CSV with an `env` column (a sweep's results.csv) holds several runs, split by seed and arm; any other CSV is one
run's metrics.csv, named by its file, and counts as true-reward PPO when its name contains "true".
"""

from __future__ import annotations

import argparse
from pathlib import Path

from curves import Curve, plt, runs_in  # benchmarks/curves.py: reads every kind of CSV; matplotlib set up headless

BREAKTHROUGH = 2500.0
"""A run has broken through at its first evaluation at or above this true return."""


def summary(curve: Curve) -> tuple[float, float | None]:
    """Mean of the last 3 evaluations, and the first step at or above BREAKTHROUGH (None: never)."""
    last3 = sum(r for _, r in curve[-3:]) / len(curve[-3:])
    first = next((t for t, r in curve if r >= BREAKTHROUGH), None)
    return last3, first


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csvs", nargs="+", type=Path)
    p.add_argument("--env", default="Hopper-v5", help="env rows to take from sweep CSVs (default: %(default)s)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/hopper-runs.png"))
    args = p.parse_args()

    runs: dict[tuple[str, str], Curve] = {}
    for path in args.csvs:
        runs.update(runs_in(path, args.env))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    print("| arm | run | last-3 mean | first eval >= 2,500 |\n| --- | --- | --- | --- |")
    for ax, arm in zip(axes, ("preference", "true")):
        ax.set_prop_cycle(color=plt.cm.tab20.colors)  # type: ignore[attr-defined]  # 20 runs, 20 colours
        for (a, name), curve in sorted(runs.items()):
            if a != arm:
                continue
            last3, first = summary(curve)
            ax.plot([t for t, _ in curve], [r for _, r in curve], lw=1.2, label=f"{name} ({last3:,.0f})")
            print(f"| {arm} | {name} | {last3:,.0f} | {f'{first:,.0f}' if first is not None else 'never'} |")
        ax.axhline(BREAKTHROUGH, color="grey", ls=":", lw=0.8)
        ax.set_title(f"{args.env}: {arm}-reward PPO" if arm == "true" else f"{args.env}: preference PPO")
        ax.set_xlabel("timesteps")
        ax.legend(fontsize=6, loc="upper left")
    axes[0].set_ylabel("true return (deterministic policy)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
