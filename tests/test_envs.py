"""prefrl's own environments: registered on `import prefrl`, valid gymnasium envs, oracles that mean what they say."""

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from prefrl_envs import ENVS
from prefrl_envs.behaviours import backflip_rewards, one_leg_reward

import prefrl  # noqa: F401  (registers prefrl/... ids)
from prefrl.control.trainer import can_terminate_early


@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_each_env_passes_gymnasiums_checker_and_runs_a_fixed_1000_step_horizon(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.spec.max_episode_steps == 1000
    assert not can_terminate_early(env)  # episodes never end early: no termination leaks the reward
    env.close()


def test_paper_hopper_has_no_control_cost_and_penalises_every_fallen_step():
    env = gym.make("prefrl/PaperHopper-v0")
    env.reset(seed=0)
    rewards, fallen, terminated = [], [], False
    for _ in range(300):  # full torque on one joint tips it over
        _, r, terminated, _, info = env.step(np.array([1.0, -1.0, 1.0]))
        rewards.append(r)
        fallen.append(info["fallen"])
        assert not terminated
        assert info["reward_ctrl"] == 0.0
    assert any(fallen) and not fallen[0]
    down = np.array(fallen)
    # once down: no healthy bonus and a penalty of 1, so about -1 a step (plus whatever forward velocity remains)
    assert np.mean(np.array(rewards)[down]) < -0.5 < np.mean(np.array(rewards)[~down])


def test_backflip_oracle_scores_a_landed_backflip_above_standing_still_and_above_a_crash():
    steps = 40
    flip = np.linspace(0, -2 * math.pi, steps)  # torso turns once backwards (rooty decreases)
    standing = backflip_rewards(np.zeros(steps), np.full(steps, 1.25)).sum()
    landed = backflip_rewards(flip, np.full(steps, 1.25)).sum()
    crashed = backflip_rewards(flip, np.full(steps, 0.3)).sum()  # same rotation, ends lying down
    forward = backflip_rewards(-flip, np.full(steps, 1.25)).sum()  # a front flip is not what was asked
    assert standing == pytest.approx(0.0)
    assert landed == pytest.approx(2.0)  # one full turn of rotation + 1 for landing it
    assert crashed == pytest.approx(1.0)
    assert forward == pytest.approx(-1.0)
    assert landed > crashed > standing > forward


def test_one_leg_oracle_pays_forward_speed_only_while_the_front_leg_is_off_the_floor():
    assert one_leg_reward(2.0, front_leg_on_floor=False) == 2.0
    assert one_leg_reward(2.0, front_leg_on_floor=True) == 0.0
    env = gym.make("prefrl/HalfCheetahOneLeg-v0")
    env.reset(seed=0)
    for _ in range(20):  # settle on the floor: both legs down, nothing earned
        _, r, *_ = env.step(np.zeros(6))
    assert env.unwrapped.front_leg_on_floor() and r == 0.0
    data = env.unwrapped.data
    qpos, qvel = data.qpos.copy(), data.qvel.copy()
    qpos[1] += 1.0  # lifted clear of the floor, moving forward at 3 m/s
    qvel[0] = 3.0
    env.unwrapped.set_state(qpos, qvel)
    _, r, _, _, info = env.step(np.zeros(6))
    assert not env.unwrapped.front_leg_on_floor() and r == pytest.approx(info["x_velocity"]) and r > 2.0
