"""Several runs' learning curves on one plot: evaluated true return against steps, one line per metrics.csv.

For comparisons a table of final returns flattens, such as one PPO setting on several versions of an env:

    python benchmarks/curves.py --out benchmarks/results/ant-baseline/curves.png \\
        --title "True-reward PPO, SB3's defaults, seed 0" --level 1327 "RL Zoo, Ant-v3, 1M" \\
        benchmarks/results/ant-baseline/*.csv

Each line is named by its file (without `.csv`); a run folder may be given instead of its metrics.csv.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def curve(path: Path) -> tuple[list[float], list[float]]:
    """(timesteps, evaluated true return) of one run's metrics."""
    with open(path / "metrics.csv" if path.is_dir() else path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [float(r["timesteps"]) for r in rows], [float(r["true_return_mean"]) for r in rows]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="metrics.csv files or run folders")
    p.add_argument("--out", type=Path, required=True, help="the PNG to write")
    p.add_argument("--title", default="", help="the plot's title")
    p.add_argument("--level", nargs=2, metavar=("RETURN", "LABEL"), help="a published level, drawn as a dashed line")
    args = p.parse_args()
    for path in args.runs:
        if not (path / "metrics.csv" if path.is_dir() else path).is_file():
            p.error(f"{path}: no metrics.csv there; give a run folder or its metrics.csv")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for path in args.runs:
        steps, returns = curve(path)
        ax.plot(steps, returns, marker=".", label=path.name if path.is_dir() else path.stem)
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
