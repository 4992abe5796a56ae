"""Run a sweep's cells as Ray tasks, for users who outgrow one machine. The local process pool stays the default.

Each task runs the same `prefrl train` command a local worker would, so cells stay ordinary run folders and resume
the same way. On a cluster, --work must be a folder every node sees (shared storage); progress is read from it.
Ray is an optional extra: pip install 'prefrl[ray]'.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tqdm import tqdm

from prefrl.bench.sweep import Cell, SweepConfig, progress_of, steps_done, train_command, unfinished
from prefrl.errors import PrefrlError


def _train_task(args: list[str], log_path: str) -> int:
    """Inside a Ray worker: run one cell; on cancellation stop it cleanly (it checkpoints on SIGTERM)."""
    with open(log_path, "a") as log:
        proc = subprocess.Popen([sys.executable, *args], stdout=log, stderr=subprocess.STDOUT)
        try:
            return proc.wait()
        except KeyboardInterrupt:  # ray.cancel
            proc.send_signal(signal.SIGTERM)
            return proc.wait()


def run_ray(config: SweepConfig, address: str | None = None) -> dict[Cell, str]:
    try:
        import ray
    except ImportError:
        raise PrefrlError(
            "--backend ray needs Ray: pip install 'prefrl[ray]' (or use the default --backend local)"
        ) from None
    ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    task = ray.remote(num_cpus=1)(_train_task)
    cells = config.cells()
    todo = unfinished(config)
    status = {c: "done" for c in cells if c not in todo}
    config.work.mkdir(parents=True, exist_ok=True)
    print(
        f"{len(cells)} cells: {len(cells) - len(todo)} finished, {len(todo)} to run on Ray ({ray.cluster_resources().get('CPU', 0):.0f} CPUs)"
    )
    refs = {}
    for cell in todo:
        cell.folder(config.work).parent.mkdir(parents=True, exist_ok=True)
        log = cell.log(config.work)
        refs[task.remote(train_command(config, cell)[1:], str(log.resolve()))] = cell
    bar = tqdm(total=config.total_steps(), unit="step", desc="sweep (ray)")
    deadline = time.time() + config.minutes * 60
    pending = list(refs)
    try:
        while pending and time.time() < deadline:
            done, pending = ray.wait(pending, num_returns=len(pending), timeout=2.0)
            for ref in done:
                code = ray.get(ref)
                status[refs[ref]] = "done" if code == 0 else f"failed (exit {code}; see its log)"
                bar.write(f"{refs[ref].env} {refs[ref].tag} seed {refs[ref].seed}: {status[refs[ref]]}")
            bar.n = steps_done(config, todo)
            bar.refresh()
    except KeyboardInterrupt:
        bar.write("interrupted: stopping the running cells (each checkpoints first)")
    for ref in pending:
        ray.cancel(ref)
    for ref in pending:
        try:
            ray.get(ref)
        except Exception:
            pass
        status[refs[ref]] = f"paused at {progress_of(refs[ref].folder(config.work))} steps"
    bar.close()
    ray.shutdown()
    return status
