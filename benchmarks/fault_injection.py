"""Kill a training run with SIGKILL at random moments, resume it each time, and check that it ends complete: every
label given before a kill is still there, none is duplicated, the budget is spent, and metrics.csv has one row per
evaluation. The test suite runs this with a few kills; the published result is 30.

    python benchmarks/fault_injection.py --kills 30 --out /tmp/faults
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

TIMESTEPS, LABELS = 6144, 24
COMMAND = ["--env", "HalfCheetah-v5", "--labels", str(LABELS), "--timesteps", str(TIMESTEPS), "--ppo", "n_steps=256",
           "--ppo", "batch_size=64", "--ppo", "n_epochs=1", "--eval-episodes", "1", "--eval-freq", "512", "--quiet"]  # fmt: skip


@dataclass
class Outcome:
    kills: int = 0
    """Kills that landed while the trainer was still running."""
    starts: int = 0
    lost_labels: int = 0
    """Labels present before a kill and missing (or changed) after it."""
    duplicate_labels: int = 0
    """Labels of a query that already had one (a query answered twice)."""
    duplicate_rows: int = 0
    """metrics.csv rows for an evaluation step already logged."""
    finished: bool = False
    labels: int = 0
    steps: int = 0
    problems: list[str] = field(default_factory=list)


def labels_in(run: Path) -> dict[int, tuple[int, int, int, str]]:
    """Every label in the run's store by id, as (query, item a, item b, choice), read-only (the store may not exist
    yet)."""
    path = run / "labels.sqlite"
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute("SELECT id, query_id, item_a, item_b, choice FROM labels")
        return {i: (q, a, b, c) for i, q, a, b, c in rows}
    except sqlite3.OperationalError:  # killed before the schema was written
        return {}
    finally:
        db.close()


def start(run: Path) -> subprocess.Popen[bytes]:
    resumable = (run / "progress.json").exists()
    if not resumable and run.exists():  # killed before its first checkpoint: nothing to keep, start again
        subprocess.run(["rm", "-rf", str(run)], check=True)
    args = ["train", "--resume", str(run), "--quiet"] if resumable else ["train", *COMMAND, "--out", str(run)]
    return subprocess.Popen([sys.executable, "-m", "prefrl", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_and_resume(run: Path, kills: int, seed: int = 0, earliest: float = 1.0, latest: float = 12.0) -> Outcome:
    """Start the run, SIGKILL it `kills` times at moments drawn uniformly in [earliest, latest] s after each start,
    then let it finish, checking the store after every kill."""
    rng, out = random.Random(seed), Outcome()
    while True:
        proc = start(run)
        out.starts += 1
        if out.kills < kills:
            try:
                proc.wait(timeout=rng.uniform(earliest, latest))
            except subprocess.TimeoutExpired:
                before = labels_in(run)
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                out.kills += 1
                after = labels_in(run)
                out.lost_labels += sum(1 for i, label in before.items() if after.get(i) != label)
                continue
        _, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            out.problems.append(f"start {out.starts} exited {proc.returncode}: {err.decode()[-300:]}")
            return out
        if (run / "progress.json").exists() and json.loads((run / "progress.json").read_text())[
            "timesteps"
        ] >= TIMESTEPS:
            break
    labels = list(labels_in(run).values())
    # a query answered twice; the same pair asked again later is a new query, and not a durability fault
    out.labels, out.duplicate_labels = len(labels), len(labels) - len({query for query, *_ in labels})
    steps = [float(line.split(",")[0]) for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    out.duplicate_rows = len(steps) - len(set(steps))
    out.steps = int(json.loads((run / "progress.json").read_text())["timesteps"])
    out.finished = out.steps >= TIMESTEPS and steps == sorted(steps) and steps[-1] == TIMESTEPS
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/fault-injection"))
    args = p.parse_args()
    started = time.time()
    outcome = kill_and_resume(args.out, args.kills, args.seed)
    print(json.dumps({**outcome.__dict__, "seconds": round(time.time() - started)}, indent=2))
    ok = outcome.finished and not (outcome.lost_labels or outcome.duplicate_labels or outcome.duplicate_rows)
    sys.exit(0 if ok and outcome.labels == LABELS and not outcome.problems else 1)


if __name__ == "__main__":
    main()
