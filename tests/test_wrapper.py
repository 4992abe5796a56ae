"""The policy must never see the true reward: PPO's inputs are the learned reward and observations only."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from prefrl.control.envs import make_env
from prefrl.control.wrappers import (
    LearnedRewardBuffer,
    LearnedRewardVecEnv,
    RolloutRewardNormalize,
    add_rollout_rewards,
)


class ScrambledReward(gym.Wrapper):
    """Same dynamics, a wildly different true reward."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, -1000.0 * reward + np.sin(reward * 1e3) * 77.0, terminated, truncated, info


def fixed_reward(features):
    """Elementwise arithmetic (no SIMD transcendental), so a row's reward is the same bit for bit whether it is
    computed alone or in a batch."""
    x = (0.3 * features[:, 0] - features[:, 1] + 0.1 * features[:, -1]).astype(np.float32)
    return x / (1 + np.abs(x))


def learned_env(scramble: bool, seen: list, defer: bool, env_id="HalfCheetah-v5", n_envs=1, **make_kwargs):
    def make():
        env = Monitor(gym.make(env_id, **make_kwargs))
        return ScrambledReward(env) if scramble else env

    venv = DummyVecEnv([make] * n_envs)
    venv.seed(0)

    def on_step(obs, actions, true_rewards, dones, infos):
        seen.append(true_rewards.copy())
        truncations.extend(info.get("TimeLimit.truncated", False) for info in infos)

    truncations: list = []
    reward_env = LearnedRewardVecEnv(venv, fixed_reward, on_step=on_step, defer=defer)
    reward_env.truncations = truncations
    if defer:  # what a preference run does: the rollout buffer adds the reward once the rollout is complete
        normalize = RolloutRewardNormalize(reward_env, gamma=0.99)
        return normalize, lambda buffer: add_rollout_rewards(buffer, reward_env, normalize)
    return VecNormalize(reward_env, gamma=0.99), None


def train_params(scramble: bool, defer: bool = True, env_id="HalfCheetah-v5", rollouts=2, n_envs=1, **make_kwargs):
    seen: list = []
    venv, before_returns = learned_env(scramble, seen, defer, env_id, n_envs, **make_kwargs)
    buffer_class = LearnedRewardBuffer if defer else None
    model = PPO("MlpPolicy", venv, n_steps=128, batch_size=64, n_epochs=2, seed=0, device="cpu",
                rollout_buffer_class=buffer_class)  # fmt: skip
    model.rollout_buffer.before_returns = before_returns
    model.learn(128 * n_envs * rollouts)
    params = torch.cat([p.detach().flatten() for p in model.policy.parameters()])
    return params, model.rollout_buffer, np.concatenate(seen), venv


@pytest.mark.parametrize("defer", [True, False], ids=["reward after the rollout", "reward at each step"])
def test_policy_trained_on_learned_reward_is_identical_whatever_the_true_reward(defer):
    params_a, buffer_a, true_a, _ = train_params(scramble=False, defer=defer)
    params_b, buffer_b, true_b, _ = train_params(scramble=True, defer=defer)
    assert not np.allclose(true_a, true_b)  # the hidden true rewards really differed...
    assert np.array_equal(buffer_a.rewards, buffer_b.rewards)  # ...but PPO's rollout rewards did not
    assert torch.equal(params_a, params_b)  # and nothing PPO optimised changed


@pytest.mark.parametrize("n_envs", [1, 2])
def test_a_reward_filled_in_after_the_rollout_trains_ppo_exactly_as_one_given_at_each_step(n_envs):
    # Hopper falls (terminations) and a 30-step limit truncates, where SB3 bootstraps with the final value
    runs = [train_params(False, defer, "Hopper-v5", 3, n_envs, max_episode_steps=30) for defer in (True, False)]
    (params_d, buffer_d, true_d, venv_d), (params_s, buffer_s, true_s, venv_s) = runs
    assert np.array_equal(true_d, true_s)  # the same steps...
    assert any(venv_d.venv.truncations) and buffer_d.episode_starts[1:].any()  # truncations and episode ends
    for name in ("rewards", "returns", "advantages"):
        assert np.array_equal(getattr(buffer_d, name), getattr(buffer_s, name)), name
    assert torch.equal(params_d, params_s)  # ...and the same policy
    assert venv_d.ret_rms.mean == venv_s.ret_rms.mean and venv_d.ret_rms.var == venv_s.ret_rms.var
    assert np.array_equal(venv_d.rollout_returns, venv_s.returns)


@pytest.mark.parametrize("n_envs", [1, 2])
@pytest.mark.parametrize("training, norm_reward", [(True, True), (False, True), (True, False)])
def test_scaling_a_rollout_at_its_end_matches_vecnormalize_step_by_step(n_envs, training, norm_reward):
    rng = np.random.default_rng(0)
    rewards = rng.normal(1.0, 3.0, size=(300, n_envs)).astype(np.float32)
    dones = rng.random((300, n_envs)) < 0.05
    envs = [DummyVecEnv([lambda: gym.make("Hopper-v5")] * n_envs) for _ in range(2)]
    deferred, stepwise = RolloutRewardNormalize(envs[0], gamma=0.99), VecNormalize(envs[1], gamma=0.99)
    for norm in (deferred, stepwise):
        norm.ret_rms.mean, norm.ret_rms.var, norm.ret_rms.count = np.float64(2.0), np.float64(5.0), 40.0
        norm.training, norm.norm_reward = training, norm_reward
    expected = []
    for r, d in zip(rewards, dones):  # what VecNormalize.step_wait does with each step's reward
        if training:
            stepwise._update_reward(r)
        expected.append(stepwise.normalize_reward(r))
        stepwise.returns[d] = 0
    scaled = deferred.scale_rollout(rewards, dones)
    assert scaled.dtype == np.float32 and np.array_equal(scaled, np.stack(expected))
    assert deferred.ret_rms.mean == stepwise.ret_rms.mean and deferred.ret_rms.var == stepwise.ret_rms.var
    assert deferred.ret_rms.count == stepwise.ret_rms.count == (40.0 + 300 * n_envs if training else 40.0)
    assert np.array_equal(deferred.rollout_returns, stepwise.returns)


def test_the_rollout_normaliser_pickles_as_a_plain_vecnormalize(tmp_path):
    *_, venv = train_params(False, defer=True, rollouts=1)
    venv.save(str(tmp_path / "vecnormalize.pkl"))
    loaded = VecNormalize.load(str(tmp_path / "vecnormalize.pkl"), DummyVecEnv([lambda: gym.make("HalfCheetah-v5")]))
    assert type(loaded) is VecNormalize and loaded.norm_reward  # what the rewards PPO learned from went through
    assert loaded.ret_rms.var == venv.ret_rms.var and np.array_equal(loaded.obs_rms.mean, venv.obs_rms.mean)


def test_wrapper_returns_predicted_reward_and_keeps_true_reward_in_info():
    venv = DummyVecEnv([lambda: make_env("HalfCheetah-v5")])
    venv.seed(0)
    wrapped = LearnedRewardVecEnv(venv, fixed_reward)
    obs = wrapped.reset()
    action = np.full((1, 6), 0.3, dtype=np.float32)
    wrapped.step_async(action)
    _, reward, _, infos = wrapped.step_wait()
    assert np.allclose(reward, fixed_reward(np.concatenate([obs, action], 1)))  # nothing added to it
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


def test_the_training_env_of_a_run_records_the_state_only_for_envs_it_can_re_render(tmp_path):
    from prefrl.control.config import TrainConfig
    from prefrl.control.trainer import Trainer

    def records_state(env_id: str) -> bool:
        trainer = Trainer(TrainConfig(env=env_id, labels=50, timesteps=4096), tmp_path / env_id.replace("/", "_"))
        venv = trainer.venv
        wrapper = venv.venv if isinstance(venv, VecNormalize) else venv
        assert isinstance(wrapper, LearnedRewardVecEnv)
        return wrapper._mujoco is not None

    assert records_state("Hopper-v5")  # MuJoCo: a queried clip is re-rendered from its saved states
    assert not records_state("Pendulum-v1")  # classic control: no MuJoCo state to save


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
