"""The policy must never see the true reward: PPO's inputs are the learned reward and observations only."""

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from prefrl.control.trainer import make_env
from prefrl.control.wrappers import LearnedRewardVecEnv


class ScrambledReward(gym.Wrapper):
    """Same dynamics, a wildly different true reward."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, -1000.0 * reward + np.sin(reward * 1e3) * 77.0, terminated, truncated, info


def fixed_reward(features):
    return np.tanh(features @ np.linspace(-1, 1, features.shape[1])).astype(np.float32)


def learned_env(scramble: bool, seen: list):
    def make():
        env = make_env("HalfCheetah-v5")
        return ScrambledReward(env) if scramble else env

    venv = DummyVecEnv([make])
    venv.seed(0)
    return VecNormalize(LearnedRewardVecEnv(venv, fixed_reward, on_step=lambda *a: seen.append(a[2].copy())))


def train_params(scramble: bool):
    seen: list = []
    model = PPO("MlpPolicy", learned_env(scramble, seen), n_steps=128, batch_size=64, n_epochs=2, seed=0, device="cpu")
    model.learn(256)
    params = torch.cat([p.detach().flatten() for p in model.policy.parameters()])
    return params, model.rollout_buffer.rewards.copy(), np.concatenate(seen)


def test_policy_trained_on_learned_reward_is_identical_whatever_the_true_reward():
    params_a, rewards_a, true_a = train_params(scramble=False)
    params_b, rewards_b, true_b = train_params(scramble=True)
    assert not np.allclose(true_a, true_b)  # the hidden true rewards really differed...
    assert np.array_equal(rewards_a, rewards_b)  # ...but PPO's rollout rewards did not
    assert torch.equal(params_a, params_b)  # and nothing PPO optimised changed


def test_wrapper_returns_predicted_reward_and_keeps_true_reward_in_info():
    venv = DummyVecEnv([lambda: make_env("HalfCheetah-v5")])
    venv.seed(0)
    wrapped = LearnedRewardVecEnv(venv, fixed_reward, alive_bonus=0.5)
    obs = wrapped.reset()
    action = np.full((1, 6), 0.3, dtype=np.float32)
    wrapped.step_async(action)
    _, reward, _, infos = wrapped.step_wait()
    assert np.allclose(reward, fixed_reward(np.concatenate([obs, action], 1)) + 0.5)
    assert "true_reward" in infos[0] and infos[0]["true_reward"] != reward[0]
    assert infos[0]["qpos"].shape == (9,)


def test_only_envs_whose_steps_become_segments_record_the_mujoco_state():
    for record_state in (True, False):
        env = make_env("Hopper-v5", record_state=record_state)
        env.reset(seed=0)
        before = env.unwrapped.data.qpos.copy()
        *_, info = env.step(env.action_space.sample())
        assert ("qpos" in info and "qvel" in info) == record_state
        if record_state:  # the state the action was taken in, so the clip re-renders from its first frame
            assert np.array_equal(info["qpos"], before)
        env.close()


def test_the_training_env_of_a_run_adds_the_alive_bonus_its_config_resolved(tmp_path):
    from prefrl.control.trainer import TrainConfig, Trainer

    def bonus_seen_by_ppo(env_id: str, **kwargs) -> float:
        trainer = Trainer(TrainConfig(env=env_id, labels=50, timesteps=4096, **kwargs), tmp_path / env_id)
        venv = trainer._train_env()
        wrapper = venv.venv if isinstance(venv, VecNormalize) else venv
        assert isinstance(wrapper, LearnedRewardVecEnv)
        return wrapper.alive_bonus

    assert bonus_seen_by_ppo("Hopper-v5") == 0.5  # the family default reaches the reward PPO optimises
    assert bonus_seen_by_ppo("Walker2d-v5") == 0.0
    assert bonus_seen_by_ppo("HalfCheetah-v5", alive_bonus=0.25) == 0.25  # an explicit bonus is used as given


def test_the_wrapper_records_the_state_each_action_was_taken_in_even_across_a_reset():
    venv = DummyVecEnv([lambda: make_env("Hopper-v5", record_state=False)])
    venv.seed(0)
    wrapped = LearnedRewardVecEnv(venv, fixed_reward, record_state=True)
    wrapped.reset()
    data = venv.envs[0].unwrapped.data
    for _ in range(1000):  # full throttle until the hopper falls and the DummyVecEnv resets it
        before = data.qpos.copy(), data.qvel.copy()
        wrapped.step_async(np.ones((1, 3), dtype=np.float32))
        _, _, dones, infos = wrapped.step_wait()
        assert np.array_equal(infos[0]["qpos"], before[0]) and np.array_equal(infos[0]["qvel"], before[1])
        if dones[0]:
            break
    assert dones[0], "the hopper never fell"
    reset_state = data.qpos.copy()  # the DummyVecEnv reset the env inside that last step
    init = venv.envs[0].unwrapped.init_qpos
    assert np.abs(reset_state - init).max() < 0.01 < np.abs(before[0] - init).max()  # truly a reset
    wrapped.step_async(np.zeros((1, 3), dtype=np.float32))
    _, _, _, infos = wrapped.step_wait()
    assert np.array_equal(infos[0]["qpos"], reset_state)  # the next step was taken from the reset state
