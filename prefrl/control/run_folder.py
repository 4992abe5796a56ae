"""The files of a run folder, written atomically so a run killed at any moment can resume from the last checkpoint."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecNormalize

from prefrl.core.records import append_row, read_json, read_rows, write_json  # noqa: F401  (callers use rf.read_json / rf.write_json)

CONFIG = "config.json"
STORE = "labels.sqlite"
REWARD = "reward_model.pt"
POLICY = "policy.zip"
VECNORM = "vecnormalize.npz"
VECNORM_PKL = "vecnormalize.pkl"
PROGRESS = "progress.json"
METRICS = "metrics.csv"
CURVE = "learning_curve.png"
TENSORBOARD = "tb"

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


def save_vecnormalize(venv: VecNormalize, folder: Path) -> None:
    """Statistics as plain arrays (npz, what resume reads) and SB3's own pickle (for `VecNormalize.load` users)."""
    tmp = folder / (VECNORM + ".tmp.npz")
    np.savez(
        tmp,
        obs_mean=venv.obs_rms.mean,
        obs_var=venv.obs_rms.var,
        obs_count=venv.obs_rms.count,
        ret_mean=venv.ret_rms.mean,
        ret_var=venv.ret_rms.var,
        ret_count=venv.ret_rms.count,
    )
    os.replace(tmp, folder / VECNORM)
    venv.save(str(folder / VECNORM_PKL))


def load_vecnormalize(venv: VecNormalize, folder: Path) -> None:
    """Restore statistics saved by `save_vecnormalize` without unpickling anything."""
    with np.load(folder / VECNORM, allow_pickle=False) as z:
        venv.obs_rms.mean, venv.obs_rms.var, venv.obs_rms.count = z["obs_mean"], z["obs_var"], float(z["obs_count"])
        venv.ret_rms.mean, venv.ret_rms.var, venv.ret_rms.count = z["ret_mean"], z["ret_var"], float(z["ret_count"])


def append_metrics(folder: Path, row: dict[str, Any]) -> None:
    append_row(folder / METRICS, METRIC_FIELDS, {k: _cell(k, v) for k, v in row.items()})


def _cell(key: str, value: Any) -> Any:
    """NaN (no value, e.g. no reward model in a true-reward run) is written as an empty cell; counts as integers."""
    if isinstance(value, float) and np.isnan(value):
        return ""
    return int(value) if key in _INT_FIELDS else value


def read_metrics(folder: Path) -> list[dict[str, float]]:
    return read_rows(folder / METRICS)


def truncate_metrics(folder: Path, max_timesteps: int) -> None:
    """Drop rows logged after the checkpoint a resumed run starts from."""
    rows = [r for r in read_metrics(folder) if r["timesteps"] <= max_timesteps]
    path = folder / METRICS
    if path.exists():
        path.unlink()
    for r in rows:
        append_metrics(folder, r)
