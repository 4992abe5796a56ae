"""Several runs' learning curves on one plot: evaluated true return against steps, one line per run.

For comparisons a table of final returns flattens, such as one PPO setting on several versions of an env:

    python benchmarks/curves.py --out benchmarks/results/ant-baseline/curves.png \\
        --title "True-reward PPO, SB3's defaults, seed 0" --level 1327 "RL Zoo, Ant-v3, 1M" \\
        benchmarks/results/ant-baseline/*.csv

A metrics.csv (or a run folder holding one) is one run, named by its file (without `.csv`) or folder. A sweep's
results.csv (it has an `env` column) holds many: pick the env with --env, and each (seed, arm, variant) is a line.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

Curve = list[tuple[float, float]]
"""(timesteps, evaluated true return) of one run, in order."""


def metrics_file(path: Path) -> Path:
    """The CSV a path names: itself, or the metrics.csv of a run folder."""
    return path / "metrics.csv" if path.is_dir() else path


def runs_in(path: Path, env: str | None = None) -> dict[tuple[str, str], Curve]:
    """(arm, name) -> curve for the runs one CSV (or run folder) holds; arm is 'true' or 'preference'.

    A sweep's results.csv is split by env (only `env`'s rows, when given), seed and variant. Any other CSV is one
    run's metrics.csv, named by its file, and counts as true-reward PPO when its name contains "true".
    """
    with open(metrics_file(path), newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        table = list(reader)
    # the cell's label budget: its own column, or in older sweeps the first of two named 'labels'
    budget = next((header.index(k) for k in ("budget", "labels") if k in header), None)
    rows = [dict(zip(header, r), budget=r[budget] if budget is not None else "") for r in table]
    out: dict[tuple[str, str], Curve] = defaultdict(list)
    for row in rows:
        if "env" in row:
            if env is not None and row["env"] != env:
                continue
            arm = "true" if row["reward"] == "true" else "preference"
            name = f"{path.parent.name}/{row['env']} seed {row['seed']}"
            if arm == "preference":  # a sweep may hold several budgets, teachers or strategies per seed
                name += f" {row['budget']} {row['teacher']} {row['selection']}"
        else:
            arm = "true" if "true" in path.stem else "preference"
            name = path.name if path.is_dir() else path.stem
        out[(arm, name)].append((float(row["timesteps"]), float(row["true_return_mean"])))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="metrics.csv files, run folders or a sweep's results.csv")
    p.add_argument("--out", type=Path, required=True, help="the PNG to write")
    p.add_argument("--env", help="the env whose rows to take from a sweep's results.csv (default: all)")
    p.add_argument("--title", default="", help="the plot's title")
    p.add_argument("--level", nargs=2, metavar=("RETURN", "LABEL"), help="a published level, drawn as a dashed line")
    args = p.parse_args()
    for path in args.runs:
        if not metrics_file(path).is_file():
            p.error(f"{path}: no metrics.csv there; give a run folder or its metrics.csv")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for path in args.runs:
        for (_, name), curve in runs_in(path, args.env).items():
            ax.plot([t for t, _ in curve], [r for _, r in curve], marker=".", label=name)
    if args.level:
        ax.axhline(float(args.level[0]), color="grey", linestyle="--", label=args.level[1])
    ax.set_xlabel("environment steps")
    ax.set_ylabel("true return (deterministic evaluation)")
    ax.set_title(args.title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
