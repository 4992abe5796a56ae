"""Results of a sweep: results.csv (every evaluation of every cell), summary.md (final true return as a ratio to
true-reward PPO, mean ± std over seeds) and figures (learning curves per env; bars per teacher and per selection).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from prefrl.bench.sweep import Cell, SweepConfig
from prefrl.control.run_folder import read_metrics

FINAL_EVALS = 3
"""The final return of a run is the mean of its last 3 evaluations: less noisy than one 5-episode evaluation."""


def final_return(rows: list[dict[str, float]], horizon: float) -> float:
    kept = [r["true_return_mean"] for r in rows if r["timesteps"] <= horizon]
    return float(np.mean(kept[-FINAL_EVALS:])) if kept else float("nan")


def reward_time_share(row: dict[str, float]) -> float:
    """Share of a preference run's wall time that its learned reward cost (NaN where it was not logged)."""
    spent = row.get("refit_seconds", math.nan) + row.get("reward_step_seconds", math.nan)
    return spent / row["wall_time"] if row.get("wall_time") else math.nan


def _percent(shares: list[float]) -> str:
    kept = [x for x in shares if not math.isnan(x)]
    return f"{100 * np.mean(kept):.0f}%" if kept else "-"


def _variant(cell: Cell) -> tuple[int, str, str]:
    return cell.labels, cell.teacher, cell.selection


def write_report(config: SweepConfig, results: Path, command: str) -> str:
    results.mkdir(parents=True, exist_ok=True)
    data = {cell: read_metrics(cell.folder(config.work)) for cell in config.cells()}
    with (results / "results.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        header_written = False
        for cell, rows in data.items():
            for row in rows:
                if not header_written:
                    writer.writerow(["env", "seed", "labels", "teacher", "selection", "reward", *row])
                    header_written = True
                arm = "true" if cell.baseline else "learned"
                teacher = "-" if cell.baseline else cell.teacher
                selection = "-" if cell.baseline else cell.selection
                writer.writerow([cell.env, cell.seed, cell.labels, teacher, selection, arm, *row.values()])

    lines = [
        "| env | labels | teacher | selection | seeds | steps | preference PPO | true-reward PPO | ratio | ratio of the means "
        "| wall-clock ratio | learned reward's share of the time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    ratios: dict[tuple[str, tuple[int, str, str]], list[float]] = defaultdict(list)
    unfinished: dict[str, int] = defaultdict(int)
    for env in config.envs:
        variants = sorted({_variant(c) for c in data if c.env == env and not c.baseline})
        for variant in variants:
            pref, true, ratio, wall, horizons, share = [], [], [], [], [], []
            for seed in config.seeds:
                p_rows = data.get(Cell(env, seed, *variant), [])
                t_rows = data.get(Cell(env, seed), [])
                if not p_rows or not t_rows:
                    continue
                horizon = min(p_rows[-1]["timesteps"], t_rows[-1]["timesteps"])
                if horizon < config.timesteps:  # a seed counts once both its runs have finished
                    unfinished[env] += 1
                    continue
                # both finished: each run's own last evaluations (their final steps differ by part of a rollout)
                fp, ft = final_return(p_rows, math.inf), final_return(t_rows, math.inf)
                wp, wt = p_rows[-1]["wall_time"], t_rows[-1]["wall_time"]
                pref.append(fp)
                true.append(ft)
                ratio.append(fp / ft if ft else float("nan"))
                wall.append(wp / wt if wt else float("nan"))
                share.append(reward_time_share(p_rows[-1]))
                horizons.append(horizon)
            ratios[(env, variant)] = ratio
            if not pref:
                lines.append(f"| {env} | {variant[0]} | {variant[1]} | {variant[2]} | 0 | - | - | - | - | - | - | - |")
                continue
            of_means = np.mean(pref) / np.mean(true) if np.mean(true) else float("nan")  # as a per-seed ratio
            lines.append(
                f"| {env} | {variant[0]} | {variant[1]} | {variant[2]} | {len(pref)} | {int(min(horizons)):,} | "
                f"{_mean_sd(pref)} | {_mean_sd(true)} | {_mean_sd(ratio, 2)} | {of_means:.2f} | "
                f"{np.mean(wall):.2f} | "
                f"{_percent(share)} |"
            )
    summary = "\n".join(
        [
            "# Sweep summary",
            "",
            f"Command: `{command}`",
            "",
            f"Final true return = mean of a run's last {FINAL_EVALS} evaluations (deterministic policy, 5 episodes "
            "each). Columns give mean ± sample std "
            "over the seeds whose two arms both have results; ratio = preference / true-reward per seed, then "
            "averaged; a seed whose baseline stayed low weighs heavily in it, which the ratio of the two means "
            "(mean preference return / mean true-reward return) does not let it do. Wall-clock ratio compares the "
            "two runs' total times; the learned reward's share is the part of the preference run's time spent "
            "choosing queries, labelling and refitting, and predicting the reward and cutting clips "
            "(runs from before these were logged show -). Only seeds whose "
            "preference and true-reward runs have both finished count.",
            "",
            *lines,
            "",
            *[f"{env}: {n} (variant, seed) pairs still running or paused, left out." for env, n in unfinished.items()],
            "",
        ]
    )
    (results / "summary.md").write_text(summary)
    plot_curves(config, data, results / "curves.png")
    for axis, name in ((1, "teachers"), (2, "selections")):
        if len({v[axis] for _, v in ratios}) > 1:
            plot_bars(config, ratios, axis, results / f"{name}.png")
    return summary


def _mean_sd(values: list[float], digits: int | None = None) -> str:
    """Mean ± sample standard deviation (n - 1), as papers report over seeds; one seed has no spread to show.

    digits=None: whole numbers for returns in the hundreds or more (locomotion), two decimals for small ones (the
    backflip task scores about 2 a landed flip)."""
    if digits is None:
        digits = 0 if abs(float(np.mean(values))) >= 100 else 2
    spread = f"{np.std(values, ddof=1):,.{digits}f}" if len(values) > 1 else "-"
    return f"{np.mean(values):,.{digits}f} ± {spread}"


def plot_curves(config: SweepConfig, data: dict[Cell, list[dict[str, float]]], path: Path) -> None:
    """The paper's figure: one panel per env, mean ± sample std over seeds of each variant and of the baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(config.envs), figsize=(5.5 * len(config.envs), 4), squeeze=False)
    for ax, env in zip(axes[0], config.envs):
        groups: dict[tuple, list[list[dict[str, float]]]] = defaultdict(list)
        for cell, rows in data.items():
            if cell.env == env and len(rows) > 1:
                groups[(0, "true", "") if cell.baseline else _variant(cell)].append(rows)
        for i, (variant, all_runs) in enumerate(sorted(groups.items(), key=lambda kv: (kv[0][0] == 0, kv[0]))):
            finished = [r for r in all_runs if r[-1]["timesteps"] >= config.timesteps]
            runs = finished or all_runs  # runs still going would cut every curve short
            n = min(len(r) for r in runs)
            t = np.array([row["timesteps"] for row in runs[0][:n]])
            y = np.array([[row["true_return_mean"] for row in r[:n]] for r in runs])
            baseline = variant[0] == 0
            label = "true-reward PPO" if baseline else f"{variant[0]} labels, {variant[1]}, {variant[2]}"
            color = "k" if baseline else f"C{i}"
            ax.plot(t, y.mean(0), color=color, label=f"{label} ({len(runs)} seed{'' if len(runs) == 1 else 's'})")
            sd = y.std(0, ddof=1) if len(y) > 1 else np.zeros(n)
            ax.fill_between(t, y.mean(0) - sd, y.mean(0) + sd, color=color, alpha=0.15)
        ax.set_title(env)
        ax.set_xlabel("timesteps")
        ax.set_ylabel("true return (evaluation)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_bars(config: SweepConfig, ratios: dict, axis: int, path: Path) -> None:
    """Ratio to true-reward PPO per teacher (axis 1) or per selection strategy (axis 2), one group per env."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({v[axis] for _, v in ratios})
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(keys) * len(config.envs)), 4))
    width = 0.8 / max(len(config.envs), 1)
    for j, env in enumerate(config.envs):
        means, stds = [], []
        for key in keys:
            values = [r for (e, v), rs in ratios.items() if e == env and v[axis] == key for r in rs]
            means.append(np.mean(values) if values else np.nan)
            stds.append(np.std(values, ddof=1) if len(values) > 1 else 0.0)
        ax.bar(np.arange(len(keys)) + j * width, means, width, yerr=stds, label=env, capsize=3)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(np.arange(len(keys)) + width * (len(config.envs) - 1) / 2, keys)
    ax.set_ylabel("final return / true-reward PPO")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
