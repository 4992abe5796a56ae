"""Preference PPO (synthetic perfect oracle) next to true-reward PPO, same seeds and settings.

Each (env, seed, arm) cell is one `prefrl train` run folder. Cells run in parallel worker processes and resume
mid-way, so a sweep can be spread over several shorter sessions: rerun the same command and finished cells are
skipped, unfinished ones continue from their last checkpoint. When --minutes runs out, running cells are stopped
(they checkpoint first) and the results so far are aggregated.

    python benchmarks/pref_vs_true.py --envs HalfCheetah-v5 Hopper-v5 --seeds 0 1 2 --labels 700 \
        --timesteps 500000 --workers 2

Writes, under --results: results.csv (one row per evaluation per cell), summary.md and pref_vs_true.png.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def cell_dir(work: Path, env: str, arm: str, seed: int) -> Path:
    return work / env / f"{arm}-s{seed}"


def progress_of(folder: Path) -> int:
    p = folder / "progress.json"
    return int(json.loads(p.read_text())["timesteps"]) if p.exists() else -1


def command(args: argparse.Namespace, env: str, arm: str, seed: int, folder: Path) -> list[str]:
    base = [sys.executable, "-m", "prefrl", "train", "--quiet"]
    if progress_of(folder) >= 0:
        return [*base, "--resume", str(folder)]
    if folder.exists():  # stopped before its first checkpoint: nothing to keep
        shutil.rmtree(folder)
    cmd = [*base, "--env", env, "--seed", str(seed), "--timesteps", str(args.timesteps), "--out", str(folder)]
    cmd += ["--reward", "true"] if arm == "true" else ["--labels", str(args.labels), "--teacher", "perfect"]
    for override in args.ppo:
        cmd += ["--ppo", override]
    return cmd


def run_cells(args: argparse.Namespace) -> None:
    cells = [(env, arm, seed) for seed in args.seeds for env in args.envs for arm in ("pref", "true")]
    todo = [c for c in cells if progress_of(cell_dir(args.work, *c)) < args.timesteps]
    print(
        f"{len(cells)} cells, {len(cells) - len(todo)} already finished, {len(todo)} to run on {args.workers} workers"
    )
    deadline = time.time() + args.minutes * 60
    running: dict[tuple, subprocess.Popen] = {}
    last_report = 0.0
    try:
        while (todo or running) and time.time() < deadline:
            while todo and len(running) < args.workers:
                cell = todo.pop(0)
                folder = cell_dir(args.work, *cell)
                folder.parent.mkdir(parents=True, exist_ok=True)
                log = open(args.work / f"{cell[0]}-{cell[1]}-s{cell[2]}.log", "a")
                running[cell] = subprocess.Popen(command(args, *cell, folder), stdout=log, stderr=subprocess.STDOUT)
            for cell, proc in list(running.items()):
                if proc.poll() is not None:
                    del running[cell]
                    status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode}, see log)"
                    print(f"  {cell[0]} {cell[1]} seed {cell[2]}: {status}", flush=True)
            if time.time() - last_report > 60:
                last_report = time.time()
                parts = [
                    f"{c[0]}/{c[1]}/s{c[2]} {max(progress_of(cell_dir(args.work, *c)), 0) // 1000}k" for c in running
                ]
                print(f"[{time.strftime('%H:%M:%S')}] running: {', '.join(parts)}; queued: {len(todo)}", flush=True)
            time.sleep(2)
    except KeyboardInterrupt:
        print("interrupted: stopping the running cells (each checkpoints first)", flush=True)
    for proc in running.values():  # out of time: stop cleanly, each run checkpoints on SIGTERM
        proc.send_signal(signal.SIGTERM)
    for cell, proc in running.items():
        proc.wait()
        print(f"  {cell[0]} {cell[1]} seed {cell[2]}: paused at {progress_of(cell_dir(args.work, *cell))} steps")


def read_cell(folder: Path) -> list[dict[str, float]]:
    path = folder / "metrics.csv"
    if not path.exists():
        return []
    with path.open() as f:
        return [{k: float(v) if v else float("nan") for k, v in r.items()} for r in csv.DictReader(f)]


def aggregate(args: argparse.Namespace) -> None:
    args.results.mkdir(parents=True, exist_ok=True)
    data: dict[tuple, list[dict[str, float]]] = {}
    with (args.results / "results.csv").open("w", newline="") as f:
        writer = None
        for env in args.envs:
            for arm in ("pref", "true"):
                for seed in args.seeds:
                    rows = read_cell(cell_dir(args.work, env, arm, seed))
                    data[(env, arm, seed)] = rows
                    for r in rows:
                        out = {"env": env, "arm": arm, "labels": args.labels if arm == "pref" else 0, "seed": seed, **r}
                        writer = writer or csv.DictWriter(f, fieldnames=list(out))
                        if f.tell() == 0:
                            writer.writeheader()
                        writer.writerow(out)
    lines = [
        f"| env | steps (common) | preference PPO, {args.labels} perfect labels | true-reward PPO | ratio"
        " | last 3 evaluations: preference / true | wall-clock ratio | seeds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for env in args.envs:
        seeds, horizon = paired_seeds(args, data, env)

        def at(arm: str, key: str, env: str = env, horizon: float = horizon, seeds: list = seeds) -> np.ndarray:
            """Each included seed's value at its last evaluation within the common horizon."""
            return np.array([[r for r in data[(env, arm, s)] if r["timesteps"] <= horizon][-1][key] for s in seeds])

        if not seeds:
            lines.append(f"| {env} | 0 | - | - | - | - | 0 |")
            continue
        pref, true = at("pref", "true_return_mean"), at("true", "true_return_mean")
        wall_p, wall_t = at("pref", "wall_time"), at("true", "wall_time")
        ratio = pref.mean() / true.mean() if true.mean() != 0 else float("nan")
        pref3, true3 = (
            last_evals_mean(data, env, "pref", seeds, horizon),
            last_evals_mean(data, env, "true", seeds, horizon),
        )
        ratio3 = pref3.mean() / true3.mean() if true3.mean() != 0 else float("nan")
        lines.append(
            f"| {env} | {int(horizon):,} | {pref.mean():.0f} ± {pref.std():.0f} | {true.mean():.0f} ± {true.std():.0f}"
            f" | {ratio:.2f} | {pref3.mean():.0f} / {true3.mean():.0f} = {ratio3:.2f}"
            f" | {wall_p.mean() / wall_t.mean():.2f} | {len(pref)} |"
        )
    summary = [
        "# Preference PPO vs true-reward PPO",
        "",
        f"Command: `python benchmarks/pref_vs_true.py --envs {' '.join(args.envs)} --seeds "
        f"{' '.join(map(str, args.seeds))} --labels {args.labels} --timesteps {args.timesteps}`",
        "",
        "True return of the deterministic policy over 5 evaluation episodes at the last evaluation every cell of the "
        "env has reached (mean ± std over seeds), counting only seeds whose two arms both have results. Ratio = "
        "preference / true-reward; the next column averages each run's last 3 evaluations, which is less noisy. "
        "Wall-clock ratio = time of a preference run / time of a true-reward run to that point (cells ran "
        "concurrently on shared cores).",
        "",
        *lines,
        "",
    ]
    (args.results / "summary.md").write_text("\n".join(summary))
    print("\n".join(summary))
    plot(args, data)


def last_evals_mean(data: dict, env: str, arm: str, seeds: list, horizon: float, k: int = 3) -> np.ndarray:
    """Per seed, the mean true return of the last k evaluations within the horizon (a final value less noisy than
    one 5-episode evaluation)."""
    return np.array(
        [np.mean([r["true_return_mean"] for r in data[(env, arm, s)] if r["timesteps"] <= horizon][-k:]) for s in seeds]
    )


def paired_seeds(args: argparse.Namespace, data: dict[tuple, list[dict[str, float]]], env: str) -> tuple[list, float]:
    """Seeds whose two arms have both been evaluated past the start, and the furthest step all of them reached."""
    seeds = [s for s in args.seeds if all(len(data[(env, arm, s)]) > 1 for arm in ("pref", "true"))]
    reached = [data[(env, arm, s)][-1]["timesteps"] for s in seeds for arm in ("pref", "true")]
    return seeds, (min(reached) if reached else 0.0)


def plot(args: argparse.Namespace, data: dict[tuple, list[dict[str, float]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.envs), figsize=(5.5 * len(args.envs), 4), squeeze=False)
    for ax, env in zip(axes[0], args.envs):
        for arm, color, label in (("true", "k", "true-reward PPO"), ("pref", "C0", f"{args.labels} perfect labels")):
            seeds, horizon = paired_seeds(args, data, env)
            runs = [[r for r in data[(env, arm, s)] if r["timesteps"] <= horizon] for s in seeds]
            if not runs:
                continue
            n = min(len(r) for r in runs)
            t = np.array([r["timesteps"] for r in runs[0][:n]])
            y = np.array([[row["true_return_mean"] for row in r[:n]] for r in runs])
            ax.plot(t, y.mean(0), color=color, label=f"{label} ({len(runs)} seeds)")
            ax.fill_between(t, y.mean(0) - y.std(0), y.mean(0) + y.std(0), color=color, alpha=0.15)
        ax.set_title(env)
        ax.set_xlabel("timesteps")
        ax.set_ylabel("true return (eval)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.results / "pref_vs_true.png", dpi=100)
    plt.close(fig)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=["HalfCheetah-v5", "Hopper-v5"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--labels", type=int, default=700)
    p.add_argument("--timesteps", type=int, default=500_000)
    p.add_argument("--workers", type=int, default=2, help="cells run at once (one core each)")
    p.add_argument("--minutes", type=float, default=float("inf"), help="stop (resumably) after this long")
    p.add_argument("--ppo", action="append", default=[], metavar="KEY=VALUE", help="PPO override for every cell")
    p.add_argument("--work", type=Path, default=HERE / "work", help="where the cells' run folders live")
    p.add_argument("--results", type=Path, default=HERE / "results")
    p.add_argument("--aggregate-only", action="store_true", help="only rebuild results from existing cells")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if not args.aggregate_only:
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        run_cells(args)
    aggregate(args)


if __name__ == "__main__":
    main()
