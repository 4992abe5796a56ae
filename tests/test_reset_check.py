"""--policy-reset-check: at a share of the run, the policy from before the policy reset and the fresh one run the same
episodes, and the one the reward model rates higher trains on; once per run, resumes included, with the kept policy
read back from the run folder; a run that keeps the fresh policy is the run without the check."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from prefrl.cli import main
from prefrl.control import run_folder as rf
from prefrl.control.reset_check import PolicySnapshot, check_reset

TINY = ["--env", "HalfCheetah-v5", "--labels", "8", "--ppo", "n_steps=256", "--ppo", "batch_size=64", "--ppo",
        "n_epochs=1", "--eval-episodes", "1", "--eval-freq", "256", "--seed", "3", "--quiet"]  # fmt: skip


def pendulum_pushing(torque: float) -> PPO:
    """A PPO on normalised Pendulum-v1 whose policy pushes with `torque` and hardly varies."""
    model = PPO("MlpPolicy", VecNormalize(DummyVecEnv([lambda: gym.make("Pendulum-v1")])), n_steps=64, seed=1)
    with torch.no_grad():
        model.policy.action_net.weight.zero_()
        model.policy.action_net.bias.fill_(torque)
        model.policy.log_std.fill_(-6.0)
    return model


def action_reward(sign: float):
    """A reward of each step's features (observation, then action) that pays `sign` x the torque."""
    return lambda features: sign * features[:, 3]


def test_the_check_goes_back_to_the_kept_policy_with_its_statistics_when_the_reward_rates_it_higher():
    model = pendulum_pushing(1.5)
    kept = PolicySnapshot.take(model)
    fresh = pendulum_pushing(-1.5)
    fresh.get_env().obs_rms.mean += 3.0  # statistics that moved on after the reset
    rng = torch.get_rng_state()
    result = check_reset(fresh, kept, "Pendulum-v1", action_reward(+1), transition=False, seed=0)
    assert torch.equal(torch.get_rng_state(), rng)  # the run goes on drawing what it would have drawn
    assert result.went_back and result.kept_return > 0 > result.fresh_return
    assert np.isclose(result.kept_return, 200 * 1.5, rtol=0.01)  # 200 steps of +1.5
    restored = fresh.policy.state_dict()
    assert all(torch.equal(restored[k], v) for k, v in kept.weights.items())
    assert np.array_equal(fresh.get_env().obs_rms.mean, kept.obs_stats[0])


def test_the_check_leaves_the_fresh_policy_when_the_reward_rates_it_higher():
    kept = PolicySnapshot.take(pendulum_pushing(1.5))
    fresh = pendulum_pushing(-1.5)
    before = {k: v.clone() for k, v in fresh.policy.state_dict().items()}
    result = check_reset(fresh, kept, "Pendulum-v1", action_reward(-1), transition=False, seed=0)
    assert not result.went_back and result.fresh_return > result.kept_return
    assert all(torch.equal(fresh.policy.state_dict()[k], v) for k, v in before.items())


def returns(folder):
    return [(row["timesteps"], row["true_return_mean"]) for row in rf.read_metrics(folder)]


def test_a_run_checks_its_reset_once_and_is_the_run_without_the_check_unless_it_goes_back(tmp_path):
    plain, checked = tmp_path / "plain", tmp_path / "checked"
    args = [*TINY, "--timesteps", "1024", "--policy-reset", "400"]
    assert main(["train", *args, "--out", str(plain)]) == 0
    assert main(["train", *args, "--policy-reset-check", "0.6", "--out", str(checked)]) == 0
    found = rf.read_json(checked / rf.RESET_CHECK)
    assert found["timesteps"] == 768  # rollouts start at 0, 256, 512, 768; the check is due from 614
    assert np.isfinite([found["fresh_return"], found["kept_return"]]).all()
    assert found["went_back"] == (found["kept_return"] > found["fresh_return"])
    assert rf.read_json(checked / rf.PROGRESS)["reset_checked_at"] == 768
    assert returns(checked)[:4] == returns(plain)[:4]  # evaluated at 768 before the check's rollout
    assert (returns(checked)[4:] != returns(plain)[4:]) == found["went_back"]


def test_a_resumed_run_checks_its_reset_with_the_policy_kept_in_its_folder(tmp_path):
    folder = tmp_path / "run"
    args = ["--policy-reset", "200", "--policy-reset-check", "0.6"]
    assert main(["train", *TINY, "--timesteps", "512", *args, "--out", str(folder)]) == 0
    assert (folder / rf.BEFORE_RESET).exists() and not (folder / rf.RESET_CHECK).exists()
    assert main(["train", "--resume", str(folder), "--timesteps", "1024", "--quiet"]) == 0
    found = rf.read_json(folder / rf.RESET_CHECK)
    assert found["timesteps"] == 768
    assert main(["train", "--resume", str(folder), "--timesteps", "1536", "--quiet"]) == 0
    assert rf.read_json(folder / rf.RESET_CHECK) == found  # never checked twice


def test_a_damaged_kept_policy_is_reported_in_one_line(capsys, tmp_path):
    folder = tmp_path / "run"
    args = ["--policy-reset", "200", "--policy-reset-check", "0.6"]
    assert main(["train", *TINY, "--timesteps", "512", *args, "--out", str(folder)]) == 0
    (folder / rf.BEFORE_RESET).write_bytes(b"not a checkpoint")
    capsys.readouterr()
    assert main(["train", "--resume", str(folder), "--timesteps", "1024", "--quiet"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("prefrl: error")]
    assert len(errors) == 1 and rf.BEFORE_RESET in errors[0] and "unreadable" in errors[0]
    assert rf.read_json(folder / rf.PROGRESS)["timesteps"] == 512  # refused before training on


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--policy-reset-check", "1"], "--policy-reset-check must be at least 0 and below 1"),
        (["--policy-reset-check", "0.1", "--policy-reset", "300"], "the check must come after the policy reset"),
        (["--policy-reset-check", "0.5", "--policy-reset", "0"], "the check must come after the policy reset"),
    ],
)
def test_a_check_outside_the_run_or_before_its_reset_is_refused_in_one_line(capsys, tmp_path, flags, says):
    code = main(["train", *TINY, "--timesteps", "1024", *flags, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and says in err[0]
