"""The files of a run folder, written atomically so a run killed at any moment can resume from the last checkpoint."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from prefrl.core.records import append_row, read_json, read_rows, write_atomic, write_json, write_rows  # noqa: F401  (callers use rf.read_json / rf.write_json)
from prefrl.errors import PrefrlError

CONFIG = "config.json"
STORE = "labels.sqlite"
REWARD = "reward_model.pt"
POLICY = "policy.zip"
"""SB3's own save, an export for `PPO.load` users: prefrl never reads it (PPO.load unpickles, and can run code)."""
CHECKPOINT = "policy.pt"
"""The policy's and its optimiser's weights and PPO's counters, loaded weights-only: what resume and watch read."""
VECNORM = "vecnormalize.npz"
VECNORM_PKL = "vecnormalize.pkl"
PROGRESS = "progress.json"
BEFORE_RESET = "policy_before_reset.pt"
RESET_CHECK = "reset_check.json"
METRICS = "metrics.csv"
CURVE = "learning_curve.png"
TENSORBOARD = "tb"
LOCK = ".lock"

METRIC_FIELDS = [
    "timesteps",
    "labels",
    "true_return_mean",
    "true_return_std",
    "reward_model_accuracy",
    "train_true_return",
    "pretrain_steps",
    "wall_time",
    "refit_seconds",
    "reward_step_seconds",
    "update_seconds",
    "eval_seconds",
    "fit_seconds",
]
_INT_FIELDS = {"timesteps", "labels", "pretrain_steps"}


class RunLock:
    """An OS lock on `<run>/.lock`, so one trainer at a time writes a run folder. The OS drops it when its holder
    dies, however it dies, so a lock left by a killed trainer is simply taken over."""

    def __init__(self, folder: Path) -> None:
        path = folder / LOCK
        self._file: IO[str] | None = path.open("a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "unknown"
            self._file.close()
            self._file = None
            raise PrefrlError(
                f"{folder} is in use by another prefrl trainer (PID {holder}); wait for it to end, or stop it first"
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(str(os.getpid()))
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def save_vecnormalize(venv: VecNormalize, folder: Path) -> None:
    """Statistics as plain arrays (npz, what resume reads) and SB3's own pickle (for `VecNormalize.load` users)."""
    stats = dict(
        obs_mean=venv.obs_rms.mean,
        obs_var=venv.obs_rms.var,
        obs_count=venv.obs_rms.count,
        ret_mean=venv.ret_rms.mean,
        ret_var=venv.ret_rms.var,
        ret_count=venv.ret_rms.count,
    )
    write_atomic(folder / VECNORM, lambda tmp: np.savez(tmp, **stats))
    write_atomic(folder / VECNORM_PKL, lambda tmp: venv.save(str(tmp)))


def save_policy(model: PPO, folder: Path) -> None:
    """The weights-only checkpoint (what prefrl resumes from) and SB3's zip beside it (an export)."""
    state = {
        "policy": model.policy.state_dict(),
        "optimizer": model.policy.optimizer.state_dict(),
        "num_timesteps": torch.tensor(model.num_timesteps),
        "n_updates": torch.tensor(model._n_updates),
        "episode_num": torch.tensor(model._episode_num),
    }
    write_atomic(folder / CHECKPOINT, lambda tmp: torch.save(state, tmp))
    # the export names no prefrl class, so plain SB3 loads it
    write_atomic(
        folder / POLICY, lambda tmp: model.save(tmp, exclude=["rollout_buffer_class", "rollout_buffer_kwargs"])
    )


def load_policy(model: PPO, folder: Path) -> None:
    """Put a checkpoint's weights and counters into a PPO built from the run's config, unpickling nothing."""
    path = folder / CHECKPOINT
    if not path.exists():
        old = (
            " (it has only policy.zip, which prefrl does not unpickle: start a new run)"
            if (folder / POLICY).exists()
            else ""
        )
        raise PrefrlError(f"{folder} has no policy checkpoint ({CHECKPOINT}){old}")
    try:
        state = torch.load(path, weights_only=True, map_location=model.device)
        model.policy.load_state_dict(state["policy"])
        model.policy.optimizer.load_state_dict(state["optimizer"])
        model.num_timesteps = int(state["num_timesteps"])
        model._n_updates, model._episode_num = int(state["n_updates"]), int(state["episode_num"])
    except Exception as exc:  # truncated, garbage, or weights of another network
        raise PrefrlError(f"{path} is unreadable ({type(exc).__name__}); restore it, or start a new run") from None


def load_vecnormalize(venv: VecNormalize, folder: Path) -> None:
    """Restore statistics saved by `save_vecnormalize` without unpickling anything."""
    try:
        with np.load(folder / VECNORM, allow_pickle=False) as z:
            obs = z["obs_mean"], z["obs_var"], float(z["obs_count"])
            ret = z["ret_mean"], z["ret_var"], float(z["ret_count"])
    except Exception as exc:  # missing, truncated or not an npz of these arrays
        raise PrefrlError(
            f"{folder / VECNORM} is unreadable ({type(exc).__name__}); restore it, or start a new run"
        ) from None
    if obs[0].shape != venv.obs_rms.mean.shape:
        raise PrefrlError(
            f"{folder / VECNORM} holds statistics of another env's observations; restore it, or start a new run"
        )
    (
        (venv.obs_rms.mean, venv.obs_rms.var, venv.obs_rms.count),
        (venv.ret_rms.mean, venv.ret_rms.var, venv.ret_rms.count),
    ) = obs, ret


def append_metrics(folder: Path, row: dict[str, Any]) -> None:
    append_row(folder / METRICS, METRIC_FIELDS, {k: _cell(k, v) for k, v in row.items()})


def _cell(key: str, value: Any) -> Any:
    """NaN (no value, e.g. no reward model in a true-reward run) is written as an empty cell; counts as integers."""
    if isinstance(value, float) and np.isnan(value):
        return ""
    return int(value) if key in _INT_FIELDS else value


METRICS_FIX = "delete it to go on without the curve so far (the run keeps its checkpoint), or restore it from a copy"


def read_metrics(folder: Path) -> list[dict[str, float]]:
    rows = read_rows(folder / METRICS, METRICS_FIX)
    if rows and "timesteps" not in rows[0]:
        raise PrefrlError(f"{folder / METRICS} is damaged (no timesteps column); {METRICS_FIX}")
    return rows


PROGRESS_FIELDS = {
    "timesteps": int,
    "labels": int,
    "pretrain_steps": int,
    "policy_reset_at": int,
    "reset_checked_at": int,
}
"""progress.json's counts; every other entry is a number of seconds."""


def read_progress(folder: Path) -> dict[str, float]:
    """The last checkpoint's progress.json, each entry checked to be a number (counts whole and not negative)."""
    path = folder / PROGRESS
    data = read_json(path)
    for key, value in data.items():
        whole = PROGRESS_FIELDS.get(key) is int
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not float(value).is_integer()):
            raise PrefrlError(f"{path} is damaged ({key} is {value!r}, not a number); restore it, or start a new run")
        if whole and value < 0:
            raise PrefrlError(f"{path} is damaged ({key} is {value}); restore it, or start a new run")
    return data


def checkpoint_steps(folder: Path) -> int:
    """Timesteps the run's last checkpoint reached (-1: none yet)."""
    return int(read_progress(folder).get("timesteps", -1)) if (folder / PROGRESS).exists() else -1


def steps_reached(folder: Path) -> int:
    """How far a run has got: as far as both its last checkpoint and its last logged evaluation reach (-1 before
    either). A run stopped during its final evaluation has checkpointed its last step without the row, so it is not
    done until a resume logs it."""
    rows = read_metrics(folder)
    return min(checkpoint_steps(folder), int(rows[-1]["timesteps"]) if rows else -1)


def truncate_metrics(folder: Path, max_timesteps: int) -> None:
    """Drop rows logged after the checkpoint a resumed run starts from."""
    rows = [r for r in read_metrics(folder) if r["timesteps"] <= max_timesteps]
    if not (folder / METRICS).exists():
        return

    cells = [{k: _cell(k, v) for k, v in r.items()} for r in rows]
    write_atomic(folder / METRICS, lambda tmp: write_rows(tmp, METRIC_FIELDS, cells))
