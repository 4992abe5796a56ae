"""Results of a sweep: results.csv (every evaluation of every cell), scores.csv and summary.md (each task's score
against true-reward PPO, with its interquartile mean and confidence interval, and the mean over tasks) and figures
(learning curves, one panel per task; bars per teacher and per selection).
"""

from __future__ import annotations

import csv
import math
import shutil
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from prefrl.bench.scores import FINAL_EVALS, TaskScore, final_return, iqm_interval, untrained_return
from prefrl.bench.sweep import RESULTS_KEYS, Cell, SweepConfig, cell_rows, kept_config, recorded_rows

__all__ = ["final_return", "reward_time_share", "write_report"]


def reward_time_share(row: dict[str, float]) -> float:
    """Share of a preference run's wall time that its learned reward cost (NaN where it was not logged)."""
    spent = row.get("refit_seconds", math.nan) + row.get("reward_step_seconds", math.nan)
    return spent / row["wall_time"] if row.get("wall_time") else math.nan


def _logged_mean(values: list[float]) -> float:
    """Mean of the values that were logged (NaN marks a run from before they were)."""
    kept = [x for x in values if not math.isnan(x)]
    return float(np.mean(kept)) if kept else math.nan


def _percent(shares: list[float]) -> str:
    mean = _logged_mean(shares)
    return "-" if math.isnan(mean) else f"{100 * mean:.0f}%"


def _variant(cell: Cell) -> tuple[int, str, str]:
    return cell.labels, cell.teacher, cell.selection


def _interval(low: float, high: float) -> str:
    return "-" if math.isnan(low) else f"[{low:.2f}, {high:.2f}]"


SCORE_COLUMNS = [
    "env", "labels", "teacher", "selection", "seeds", "steps", "score", "score_kind", "iqm", "iqm_ci_low",
    "iqm_ci_high", "preference_mean", "preference_std", "true_reward_mean", "true_reward_std", "untrained",
    "wall_clock_ratio", "learned_reward_time_share",
]  # fmt: skip


def write_report(config: SweepConfig, results: Path, command: str) -> str:
    """Write results.csv (every evaluation of every cell, those recorded there before included), the settings of
    each cell beside it (configs/), scores.csv, summary.md and the figures; returns the summary."""
    results.mkdir(parents=True, exist_ok=True)
    config = replace(config, results=results)
    data = cell_rows(config)
    for cell in config.cells():  # the settings outlive the run folders, as the rows do
        ran, kept = cell.folder(config.work) / "config.json", kept_config(results, cell)
        if ran.exists() and data[cell] and kept is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ran, kept)
    recorded = recorded_rows(results)  # cells of other sweeps sharing the folder are kept too
    rows_out = [(cell, rows) for cell, rows in data.items()]
    rows_out += [(cell, rows) for cell, rows in recorded.items() if cell not in data]
    metrics = list(dict.fromkeys(key for _, rows in rows_out for row in rows for key in row))
    with (results / "results.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*RESULTS_KEYS, *metrics])
        for cell, rows in rows_out:
            arm = "true" if cell.baseline else "learned"
            teacher = "-" if cell.baseline else cell.teacher
            selection = "-" if cell.baseline else cell.selection
            for row in rows:
                writer.writerow([cell.env, cell.seed, cell.labels, teacher, selection, arm,
                                 *(_csv_value(row.get(key)) for key in metrics)])  # fmt: skip

    lines = [
        "| env | labels | teacher | selection | seeds | steps | preference PPO | true-reward PPO | untrained | score "
        "| IQM [95% CI] | wall-clock ratio | learned reward's share of the time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    score_rows: list[dict[str, object]] = []
    ratios: dict[tuple[str, tuple[int, str, str]], list[float]] = defaultdict(list)
    per_variant: dict[tuple[int, str, str], dict[str, TaskScore]] = defaultdict(dict)
    unfinished: dict[str, int] = defaultdict(int)
    for env in config.envs:
        variants = sorted({_variant(c) for c in data if c.env == env and not c.baseline})
        steps = config.steps(env)
        untrained = untrained_return([rows for cell, rows in data.items() if cell.env == env])
        for variant in variants:
            pref, true, wall, share = [], [], [], []
            for seed in config.seeds:
                p_rows = data.get(Cell(env, seed, *variant), [])
                t_rows = data.get(Cell(env, seed), [])
                if not p_rows or not t_rows:
                    continue
                if min(p_rows[-1]["timesteps"], t_rows[-1]["timesteps"]) < steps:  # both runs must have finished
                    unfinished[env] += 1
                    continue
                # both finished: each run's own last evaluations (their final steps differ by part of a rollout)
                pref.append(final_return(p_rows, math.inf))
                true.append(final_return(t_rows, math.inf))
                wp, wt = p_rows[-1]["wall_time"], t_rows[-1]["wall_time"]
                wall.append(wp / wt if wt else float("nan"))
                share.append(reward_time_share(p_rows[-1]))
            if not pref:
                lines.append(
                    f"| {env} | {variant[0]} | {variant[1]} | {variant[2]} | 0 | - | - | - | - | - | - | - | - |"
                )
                continue
            task = TaskScore(pref, true, untrained)
            per_variant[variant][env] = task
            ratios[(env, variant)] = list(task.per_seed)
            iqm, low, high = iqm_interval(task.per_seed[:, None])
            kind = "normalised" if task.normalised else "ratio of means"
            lines.append(
                f"| {env} | {variant[0]} | {variant[1]} | {variant[2]} | {len(pref)} | {steps:,} | "
                f"{_mean_sd(pref)} | {_mean_sd(true)} | {_number(untrained)} | "
                f"{task.score:.2f}{' (normalised)' if task.normalised else ''} | {iqm:.2f} {_interval(low, high)} | "
                f"{np.mean(wall):.2f} | {_percent(share)} |"
            )
            score_rows.append(dict(zip(SCORE_COLUMNS, [
                env, variant[0], variant[1], variant[2], len(pref), steps, task.score, kind, iqm, low, high,
                np.mean(pref), _std(pref), np.mean(true), _std(true), untrained, np.mean(wall),
                _logged_mean(share),
            ])))  # fmt: skip
    overall = _over_tasks(per_variant)
    with (results / "scores.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SCORE_COLUMNS)
        writer.writeheader()
        writer.writerows(score_rows)
    write_baselines(config, data, results / "baselines.csv")
    summary = "\n".join(
        [
            "# Sweep summary",
            "",
            f"Command: `{command}`",
            "",
            f"A run's final return is the mean of its last {FINAL_EVALS} evaluations (deterministic policy). "
            "Returns are mean ± sample std over the seeds whose two arms have both finished. **Score**: the ratio of "
            "the means, preference PPO's mean final return over true-reward PPO's at the same steps and seeds; where "
            "true-reward PPO's mean is not positive, the return normalised between the untrained policy (0, its "
            "evaluation at step 0) and true-reward PPO (1). IQM: the interquartile mean of the per-seed scores "
            "(each seed's preference run against the mean baseline), with a 95% stratified-bootstrap confidence "
            "interval (rliable; none for one seed). Wall-clock ratio compares the two runs' total times; the learned "
            "reward's share is the part of the preference run's time spent choosing queries, labelling, refitting, "
            "predicting the reward and cutting clips.",
            "",
            *lines,
            "",
            *overall,
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


def _csv_value(value: float | None) -> str | float:
    """A metric as results.csv holds it: whole numbers without a decimal point, a missing one empty."""
    if value is None:
        return ""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


BASELINE_COLUMNS = ["env", "seeds", "steps", "true_reward_mean", "true_reward_std", "untrained"]


def write_baselines(config: SweepConfig, data: dict[Cell, list[dict[str, float]]], path: Path) -> None:
    """True-reward PPO on its own, per task, over the seeds whose run finished: the level every score is measured
    against, to hold up to what PPO is known to reach."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=BASELINE_COLUMNS)
        writer.writeheader()
        for env in config.envs:
            steps = config.steps(env)
            runs = [data.get(Cell(env, seed), []) for seed in config.seeds]
            finals = [final_return(rows, math.inf) for rows in runs if rows and rows[-1]["timesteps"] >= steps]
            writer.writerow(dict(zip(BASELINE_COLUMNS, [
                env, len(finals), steps, np.mean(finals) if finals else math.nan, _std(finals) if finals else math.nan,
                untrained_return([rows for rows in runs if rows]),
            ])))  # fmt: skip


def _over_tasks(per_variant: dict[tuple[int, str, str], dict[str, TaskScore]]) -> list[str]:
    """Lines giving each variant's mean score over tasks and the IQM over all (seed, task) scores, where 2+ tasks
    have finished; the IQM's interval resamples seeds within each task, over the seeds every task has."""
    lines = []
    for variant, tasks in sorted(per_variant.items()):
        if len(tasks) < 2:
            continue
        n = min(len(t.per_seed) for t in tasks.values())
        matrix = np.stack([t.per_seed[:n] for t in tasks.values()], axis=1)
        iqm, low, high = iqm_interval(matrix)
        lines.append(
            f"Over {len(tasks)} tasks, {variant[0]} {variant[1]} labels ({variant[2]}): mean score "
            f"{np.mean([t.score for t in tasks.values()]):.2f}, lowest {min(t.score for t in tasks.values()):.2f}, "
            f"IQM {iqm:.2f} {_interval(low, high)} over {n} seed{'s' if n > 1 else ''} per task."
        )
    return [*lines, ""] if lines else []


def _std(values: list[float]) -> float:
    """Sample standard deviation (n - 1), as papers report over seeds; NaN for one seed."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def _number(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def _mean_sd(values: list[float], digits: int | None = None) -> str:
    """Mean ± sample standard deviation (n - 1), as papers report over seeds; one seed has no spread to show.

    digits=None: whole numbers for returns in the hundreds or more (locomotion), two decimals for small ones (the
    backflip task scores about 2 a landed flip)."""
    if digits is None:
        digits = 0 if abs(float(np.mean(values))) >= 100 else 2
    spread = f"{_std(values):,.{digits}f}" if len(values) > 1 else "-"
    return f"{np.mean(values):,.{digits}f} ± {spread}"


def plot_curves(config: SweepConfig, data: dict[Cell, list[dict[str, float]]], path: Path) -> None:
    """The paper's figure: one panel per task (four to a row), a line per label budget (and teacher, selection)
    and one for true-reward PPO, each the mean ± sample std over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(len(config.envs), 4)
    n_rows = math.ceil(len(config.envs) / cols)
    fig, axes = plt.subplots(n_rows, cols, figsize=(5.5 * cols, 4 * n_rows), squeeze=False)
    for ax in axes.flat[len(config.envs) :]:
        ax.set_visible(False)
    for ax, env in zip(axes.flat, config.envs):
        groups: dict[tuple, list[list[dict[str, float]]]] = defaultdict(list)
        for cell, rows in data.items():
            if cell.env == env and len(rows) > 1:
                groups[(0, "true", "") if cell.baseline else _variant(cell)].append(rows)
        for i, (variant, all_runs) in enumerate(sorted(groups.items(), key=lambda kv: (kv[0][0] == 0, kv[0]))):
            finished = [r for r in all_runs if r[-1]["timesteps"] >= config.steps(env)]
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
        if groups:
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
    ax.set_ylabel("score against true-reward PPO")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
