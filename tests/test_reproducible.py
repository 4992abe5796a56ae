"""A seed is a promise: two runs with the same settings and seed on one machine label, fit and learn the same."""

import sqlite3

import numpy as np
import torch
from stable_baselines3 import PPO

from prefrl.control import run_folder as rf
from prefrl.control.config import TrainConfig
from prefrl.control.ppo_config import PPOConfig
from prefrl.control.trainer import Trainer

TIMING = {"wall_time", "refit_seconds", "reward_step_seconds", "update_seconds", "eval_seconds", "fit_seconds"}


def run(folder, seed):
    config = TrainConfig(
        env="Hopper-v5", labels=30, timesteps=2048, seed=seed, eval_freq=1024, eval_episodes=2, progress=False,
        ppo=PPOConfig(n_steps=256, batch_size=64, n_epochs=2),
    )  # fmt: skip
    Trainer(config, folder).run()
    db = sqlite3.connect(folder / rf.STORE)
    labels = db.execute("SELECT item_a, item_b, choice FROM labels ORDER BY id").fetchall()
    segments = db.execute("SELECT payload FROM items ORDER BY id").fetchall()
    db.close()
    metrics = [  # NaN (no training episode finished yet) as None, so equal rows compare equal
        {k: None if v != v else v for k, v in row.items() if k not in TIMING} for row in rf.read_metrics(folder)
    ]
    policy = torch.cat([p.detach().flatten() for p in PPO.load(folder / rf.POLICY).policy.parameters()])
    return metrics, labels, segments, torch.load(folder / rf.REWARD, weights_only=True), policy


def test_two_runs_with_the_same_seed_end_identical_and_another_seed_does_not(tmp_path):
    a, b, other = run(tmp_path / "a", 4), run(tmp_path / "b", 4), run(tmp_path / "c", 5)
    metrics, labels, segments, reward, policy = a
    assert len(labels) == 30 and len(metrics) == 3
    assert b[0] == metrics, "the evaluations differ"
    assert b[1] == labels and b[2] == segments, "the queries, labels or clips differ"
    assert reward.keys() == b[3].keys() and all(torch.equal(reward[k], b[3][k]) for k in reward)
    assert torch.equal(policy, b[4])
    assert other[1] != labels and not torch.equal(policy, other[4])  # the seed is what decides
    assert np.isfinite([m["true_return_mean"] for m in metrics]).all()
