"""The public Python API: `prefrl.train` runs what `prefrl train` runs, with the same checks."""

import pytest

import prefrl
from prefrl.errors import PrefrlError


def test_the_package_exports_the_api_it_documents():
    assert set(prefrl.__all__) >= {"train", "TrainConfig", "Trainer", "PPOConfig", "RewardConfig", "Teacher"}
    assert all(getattr(prefrl, name) is not None for name in prefrl.__all__)


def test_train_runs_a_preference_run_to_its_end_and_returns_the_last_evaluation(tmp_path):
    config = prefrl.TrainConfig(
        env="Pendulum-v1", labels=8, timesteps=512, eval_freq=256, eval_episodes=1, progress=False,
        ppo=prefrl.PPOConfig(n_steps=256, batch_size=64, n_epochs=1),
    )  # fmt: skip
    row = prefrl.train(config, tmp_path / "run")
    assert row["timesteps"] == 512 and row["labels"] == 8
    assert (tmp_path / "run" / "policy.pt").exists()


def test_train_refuses_bad_settings_before_anything_is_written(tmp_path):
    with pytest.raises(PrefrlError, match="--ppo learning_rate=-1: must be a positive number"):
        prefrl.train(prefrl.TrainConfig(env="Pendulum-v1", ppo=prefrl.PPOConfig(learning_rate=-1)), tmp_path / "r")
    assert not (tmp_path / "r").exists()
