"""Sweeps of `prefrl train` runs: envs x seeds x label budgets x teachers x selection strategies, plus the
true-reward baseline of every (env, seed). Each cell is an ordinary run folder, so a sweep resumes mid-cell and can be
spread over several sittings or machines.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from tqdm import tqdm


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
    extra: list[str] = field(default_factory=list)
    """Further `prefrl train` arguments for every cell (e.g. --ppo n_epochs=10)."""
    preference_extra: list[str] = field(default_factory=list)
    """Further arguments for the preference cells only: settings a true-reward run has no use for (--clip-seconds)."""

    def steps(self, env: str) -> int:
        """Steps each run of `env` trains for."""
        return self.env_timesteps.get(env, self.timesteps)

    def total_steps(self) -> int:
        return sum(self.steps(c.env) for c in self.cells())

    def cells(self) -> list[Cell]:
        """Every cell, the true-reward baseline of each (env, seed) first."""
        out = [Cell(env, seed) for seed, env in product(self.seeds, self.envs)]
        for seed, env, labels, teacher, selection in product(
            self.seeds, self.envs, self.labels, self.teachers, self.selections
        ):
            out.append(Cell(env, seed, labels, teacher, selection))
        return out


def progress_of(folder: Path) -> int:
    """Timesteps a cell's last checkpoint reached (-1: none yet)."""
    from prefrl.control import run_folder as rf

    return int(rf.read_progress(folder).get("timesteps", -1)) if (folder / rf.PROGRESS).exists() else -1


def train_command(config: SweepConfig, cell: Cell) -> list[str]:
    folder = cell.folder(config.work)
    base = [sys.executable, "-m", "prefrl"]
    if progress_of(folder) >= 0:
        return [*base, "train", "--quiet", "--resume", str(folder), "--env", cell.env]  # named again: may import it
    if folder.exists():  # stopped before its first checkpoint: nothing to keep
        shutil.rmtree(folder)
    return [*base, *train_args(config, cell)]


def train_args(config: SweepConfig, cell: Cell) -> list[str]:
    """The `prefrl train` arguments that start the cell afresh."""
    folder = cell.folder(config.work)
    cmd = [
        "train",
        "--quiet",
        "--env",
        cell.env,
        "--seed",
        str(cell.seed),
        "--timesteps",
        str(config.steps(cell.env)),
        "--out",
        str(folder),
    ]
    if cell.baseline:
        cmd += ["--reward", "true"]
    else:
        cmd += ["--labels", str(cell.labels), "--teacher", cell.teacher, "--selection", cell.selection]
        cmd += config.preference_extra
    return cmd + list(config.extra)


IGNORED_SETTINGS = {"progress", "device", "threads", "fit_threads"}
"""How a run is shown and where it computes, not what it learns."""
BASELINE_SETTINGS = {"env", "reward", "seed", "timesteps", "eval_freq", "eval_episodes", "ppo"}
"""All a true-reward run's result depends on: its label and reward-model settings are unused."""


def mismatched_cells(config: SweepConfig) -> list[tuple[Cell, list[str]]]:
    """Cells already in the work folder that ran with other settings than this sweep asks for, with the differences.

    A changed default (or flag) must not let old cells stand in for new ones: resumed, they would continue with
    their own settings; finished, they would be reported as if they ran with this sweep's.
    """
    from prefrl.cli import build_parser, train_config_from_args
    from prefrl.control.trainer import TrainConfig

    parser = build_parser()
    found = []
    for cell in config.cells():
        path = cell.folder(config.work) / "config.json"
        if not path.exists():
            continue
        wanted = _flat(asdict(train_config_from_args(parser.parse_args(train_args(config, cell))).resolved()))
        try:
            had = _flat(asdict(TrainConfig.from_dict(json.loads(path.read_text())).resolved()))
        except (ValueError, TypeError, AttributeError):  # a damaged file: say so rather than fail deep inside
            found.append((cell, ["settings that cannot be read back (its config.json is damaged)"]))
            continue
        diffs = [
            f"{key}={had.get(key)!r} (this sweep: {wanted.get(key)!r})"
            for key in sorted(set(wanted) | set(had))
            if key.split(".")[0] not in IGNORED_SETTINGS
            and (not cell.baseline or key.split(".")[0] in BASELINE_SETTINGS)
            and had.get(key) != wanted.get(key)
        ]
        if diffs:
            found.append((cell, diffs))
    return found


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys, compared after a JSON round trip (tuples and lists alike)."""
    out: dict[str, Any] = {}
    for key, value in json.loads(json.dumps(data)).items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def run_local(config: SweepConfig) -> dict[Cell, str]:
    """Run unfinished cells, `workers` at a time, with one progress bar over all their steps. Returns statuses."""
    cells = config.cells()
    todo = [c for c in cells if progress_of(c.folder(config.work)) < config.steps(c.env)]
    status = {c: "done" for c in cells if c not in todo}
    print(f"{len(cells)} cells: {len(cells) - len(todo)} finished, {len(todo)} to run on {config.workers} workers")
    deadline = time.time() + config.minutes * 60
    running: dict[Cell, subprocess.Popen] = {}
    config.work.mkdir(parents=True, exist_ok=True)

    def steps_done() -> int:
        return sum(max(progress_of(c.folder(config.work)), 0) for c in cells)

    bar = tqdm(total=config.total_steps(), initial=steps_done(), unit="step", desc="sweep")
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
            bar.n = steps_done()
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
