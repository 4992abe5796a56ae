"""Sweeps of `prefrl train` runs: envs x seeds x label budgets x teachers x selection strategies, plus the
true-reward baseline of every (env, seed). Each cell is an ordinary run folder, so a sweep resumes mid-cell and can be
spread over several sittings or machines.
"""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

if TYPE_CHECKING:
    from prefrl.control.config import TrainConfig


@dataclass(frozen=True)
class Cell:
    """One training run of the sweep. labels == 0 marks the true-reward baseline."""

    env: str
    seed: int
    labels: int = 0
    teacher: str = "perfect"
    selection: str = "disagreement"

    @property
    def baseline(self) -> bool:
        return self.labels == 0

    @property
    def tag(self) -> str:
        return "true" if self.baseline else f"{self.labels}-{self.teacher}-{self.selection}"

    def folder(self, work: Path) -> Path:
        return work / self.env.replace("/", "_") / f"{self.tag}-s{self.seed}"

    def log(self, work: Path) -> Path:
        """Where the cell's output goes, beside its env's folder."""
        return Path(work) / f"{self.env.replace('/', '_')}-{self.tag}-s{self.seed}.log"


@dataclass
class SweepConfig:
    envs: list[str] = field(default_factory=lambda: ["HalfCheetah-v5"])
    seeds: list[int] = field(default_factory=lambda: [0])
    labels: list[int] = field(default_factory=lambda: [700])
    teachers: list[str] = field(default_factory=lambda: ["perfect"])
    selections: list[str] = field(default_factory=lambda: ["disagreement"])
    timesteps: int = 500_000
    """Steps per run, unless `env_timesteps` names the env."""
    env_timesteps: dict[str, int] = field(default_factory=dict)
    """Steps per run of the envs that need another budget than `timesteps` (Reacher learns in far fewer than Ant)."""
    workers: int = 2
    minutes: float = float("inf")
    """Stop (resumably) after this long."""
    work: Path = Path("benchmarks/work")
    results: Path | None = None
    """Where the results accumulate (results.csv, and each cell's settings under configs/): a cell recorded there as
    finished counts as done, so a sweep can be spread over sittings and machines whose work folders are gone."""
    settings: dict[str, Any] = field(default_factory=dict)
    """TrainConfig fields for every cell (eval_episodes, label_halving, segment_length...); a true-reward run ignores
    those it has no use for."""
    ppo: dict[str, Any] = field(default_factory=dict)
    """PPO settings for every cell, over each env's preset."""
    reward_model: dict[str, Any] = field(default_factory=dict)
    """Reward-model settings for every preference cell."""

    def steps(self, env: str) -> int:
        """Steps each run of `env` trains for."""
        return self.env_timesteps.get(env, self.timesteps)

    def total_steps(self) -> int:
        return sum(self.steps(c.env) for c in self.cells())

    def cells(self) -> list[Cell]:
        """Every cell, by seed then env, each true-reward baseline just before its preference cells, so that a
        sweep run in several sittings completes whole (env, seed) comparisons as it goes."""
        out = []
        for seed, env in product(self.seeds, self.envs):
            out.append(Cell(env, seed))
            for labels, teacher, selection in product(self.labels, self.teachers, self.selections):
                out.append(Cell(env, seed, labels, teacher, selection))
        return out

    def train_config(self, cell: Cell) -> TrainConfig:
        """The resolved settings the cell trains with, as its run folder's config.json records them."""
        from prefrl.control.config import TrainConfig
        from prefrl.control.ppo_config import ppo_config_for
        from prefrl.core.reward_config import RewardConfig

        arm: dict[str, Any] = (
            {"reward": "true"}
            if cell.baseline
            else {"labels": cell.labels, "teacher": cell.teacher, "selection": cell.selection}
        )
        return TrainConfig(
            env=cell.env, seed=cell.seed, timesteps=self.steps(cell.env), progress=False,
            ppo=ppo_config_for(cell.env, **self.ppo), reward_model=RewardConfig(**self.reward_model),
            **{**self.settings, **arm},
        ).resolved()  # fmt: skip


def progress_of(folder: Path) -> int:
    """Timesteps a cell's last checkpoint reached (-1: none yet); imported when asked, as the bench keeps the
    training stack out of its start-up."""
    from prefrl.control.run_folder import checkpoint_steps

    return checkpoint_steps(folder)


def config_file(work: Path, cell: Cell) -> Path:
    """The settings a new cell is started with, beside its log."""
    return cell.log(work).with_suffix(".json")


def train_command(config: SweepConfig, cell: Cell) -> list[str]:
    """The `prefrl train` process that runs the cell: resumed from its checkpoint, or started from its settings."""
    folder = cell.folder(config.work)
    base = [sys.executable, "-m", "prefrl", "train", "--quiet"]
    if progress_of(folder) >= 0:
        return [*base, "--resume", str(folder), "--env", cell.env]  # named again: may import it
    if folder.exists():  # stopped before its first checkpoint: nothing to keep
        shutil.rmtree(folder)
    path = config_file(config.work, cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config.train_config(cell).to_dict(), indent=1))
    return [*base, "--config", str(path), "--env", cell.env, "--out", str(folder)]


IGNORED_SETTINGS = {"progress", "device", "threads", "fit_threads"}
"""How a run is shown and where it computes, not what it learns."""
BASELINE_SETTINGS = {"env", "reward", "seed", "timesteps", "eval_freq", "eval_episodes", "ppo"}
"""All a true-reward run's result depends on: its label and reward-model settings are unused."""


def recorded_config(config: SweepConfig, cell: Cell) -> Path | None:
    """Where the settings a cell ran with are: its run folder's config.json, else the copy kept with the results."""
    for path in (cell.folder(config.work) / "config.json", kept_config(config.results, cell)):
        if path is not None and path.exists():
            return path
    return None


def kept_config(results: Path | None, cell: Cell) -> Path | None:
    """The copy of a cell's config.json kept with the results, so finished cells outlive their run folders."""
    return None if results is None else results / "configs" / cell.folder(Path(".")).with_suffix(".json")


def mismatched_cells(config: SweepConfig) -> list[tuple[Cell, list[str]]]:
    """Cells already run (in the work folder or recorded with the results) with other settings than this sweep asks
    for, with the differences.

    A changed default (or flag) must not let old cells stand in for new ones: resumed, they would continue with
    their own settings; finished, they would be reported as if they ran with this sweep's.
    """
    from prefrl.control.config import TrainConfig

    found = []
    for cell in config.cells():
        path = recorded_config(config, cell)
        if path is None:
            continue
        run = config.train_config(cell)
        wanted = _flat(asdict(run))
        try:
            had = _flat(asdict(TrainConfig.from_dict(json.loads(path.read_text())).resolved()))
        except (ValueError, TypeError, AttributeError):  # a damaged file: say so rather than fail deep inside
            found.append((cell, [f"settings that cannot be read back (its {path.name} is damaged)"]))
            continue
        differ = [
            key
            for key in sorted(set(wanted) | set(had))
            if key.split(".")[0] not in IGNORED_SETTINGS
            and (not cell.baseline or key.split(".")[0] in BASELINE_SETTINGS)
            and had.get(key) != wanted.get(key)
        ]
        if CAP in differ and _caps_never_bind(run, (had.get(CAP), wanted.get(CAP))):
            differ.remove(CAP)
        if differ:
            found.append((cell, [f"{key}={had.get(key)!r} (this sweep: {wanted.get(key)!r})" for key in differ]))
    return found


CAP = "reward_model.refit_max_steps"
"""The refit cap's dotted key: a run recorded with another cap is the same run wherever neither cap binds."""


def _caps_never_bind(run: TrainConfig, caps: tuple[int | None, int | None]) -> bool:
    """Neither refit cap is reached by any refit the run's labels allow, so the run is the same under both (a run
    recorded before the cap became the default needs no rerun on a budget the cap leaves alone)."""
    from prefrl.core.reward import longest_refit

    longest = longest_refit(run.reward_model, run.labels, run.seed)
    return all(cap is None or cap >= longest for cap in caps)


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys, compared after a JSON round trip (tuples and lists alike)."""
    out: dict[str, Any] = {}
    for key, value in json.loads(json.dumps(data)).items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


RESULTS_KEYS = ["env", "seed", "budget", "teacher", "selection", "reward"]
"""The first columns of results.csv, naming a row's cell (budget: its label budget, 0 for true-reward PPO); the rest
are its run's metrics."""


def recorded_rows(results: Path | None) -> dict[Cell, list[dict[str, float]]]:
    """Every evaluation results.csv holds, by cell: the cells of earlier sittings and other machines."""
    path = None if results is None else results / "results.csv"
    if path is None or not path.exists():
        return {}
    out: dict[Cell, list[dict[str, float]]] = {}
    with path.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader, [])[len(RESULTS_KEYS) :]  # by position: older files named the budget 'labels' too
        for row in reader:
            env, seed, budget, teacher, selection, reward = row[: len(RESULTS_KEYS)]
            kind = () if reward == "true" else (int(budget), teacher, selection)
            metrics = {k: float(v) for k, v in zip(header, row[len(RESULTS_KEYS) :]) if v != ""}
            out.setdefault(Cell(env, int(seed), *kind), []).append(metrics)
    return out


def cell_rows(config: SweepConfig) -> dict[Cell, list[dict[str, float]]]:
    """Each cell's evaluations: its run folder's, or those recorded with the results where they reach further."""
    from prefrl.control.run_folder import read_metrics

    recorded = recorded_rows(config.results)
    out = {}
    for cell in config.cells():
        rows = read_metrics(cell.folder(config.work))
        kept = recorded.get(cell, [])
        out[cell] = kept if kept and (not rows or kept[-1]["timesteps"] > rows[-1]["timesteps"]) else rows
    return out


def unfinished(config: SweepConfig) -> list[Cell]:
    """Cells whose run has not reached its steps (`run_folder.steps_reached`: a run stopped during its final
    evaluation is resumed to log it), in the work folder or among the recorded results."""
    from prefrl.control.run_folder import steps_reached

    recorded = recorded_rows(config.results)

    def reached(cell: Cell) -> float:
        kept = recorded.get(cell, [])
        return max(steps_reached(cell.folder(config.work)), kept[-1]["timesteps"] if kept else -1)

    return [c for c in config.cells() if reached(c) < config.steps(c.env)]


def steps_done(config: SweepConfig, todo: list[Cell]) -> int:
    """Steps run so far: all of each finished cell's, and the checkpoints of those in `todo`."""
    return sum(max(progress_of(c.folder(config.work)), 0) if c in todo else config.steps(c.env) for c in config.cells())


def run_local(config: SweepConfig) -> dict[Cell, str]:
    """Run unfinished cells, `workers` at a time, with one progress bar over all their steps. Returns statuses."""
    cells = config.cells()
    todo = unfinished(config)
    remaining = list(todo)  # what the progress bar counts by checkpoints
    status = {c: "done" for c in cells if c not in todo}
    print(f"{len(cells)} cells: {len(cells) - len(todo)} finished, {len(todo)} to run on {config.workers} workers")
    deadline = time.time() + config.minutes * 60
    running: dict[Cell, subprocess.Popen] = {}
    config.work.mkdir(parents=True, exist_ok=True)

    bar = tqdm(total=config.total_steps(), initial=steps_done(config, remaining), unit="step", desc="sweep")
    try:
        while (todo or running) and time.time() < deadline:
            while todo and len(running) < config.workers:
                cell = todo.pop(0)
                cell.folder(config.work).parent.mkdir(parents=True, exist_ok=True)
                log = open(cell.log(config.work), "a")
                running[cell] = subprocess.Popen(train_command(config, cell), stdout=log, stderr=subprocess.STDOUT)
            for cell, proc in list(running.items()):
                if proc.poll() is not None:
                    del running[cell]
                    status[cell] = "done" if proc.returncode == 0 else f"failed (exit {proc.returncode}; see its log)"
                    bar.write(f"{cell.env} {cell.tag} seed {cell.seed}: {status[cell]}")
            bar.n = steps_done(config, remaining)
            bar.set_postfix(running=len(running), queued=len(todo))
            bar.refresh()
            time.sleep(2)
    except KeyboardInterrupt:
        bar.write("interrupted: stopping the running cells (each checkpoints first)")
    for proc in running.values():  # out of time: stop cleanly; each run checkpoints on SIGTERM
        proc.send_signal(signal.SIGTERM)
    for cell, proc in running.items():
        proc.wait()
        status[cell] = f"paused at {progress_of(cell.folder(config.work))} steps"
    bar.close()
    for cell in todo:
        status.setdefault(cell, "not started")
    return status
