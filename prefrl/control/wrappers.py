"""Wrappers between the environment and PPO: the learned reward goes in, the true reward only into `info`."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper, VecNormalize
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from prefrl.control.segments import step_features

StepHook = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list], None]


class StateInInfo(gym.Wrapper):
    """Puts the MuJoCo state (qpos, qvel) the action was taken in into `info`, so a segment can be re-rendered."""

    def step(self, action):  # type: ignore[no-untyped-def]
        data = self.unwrapped.data  # type: ignore[attr-defined]
        qpos, qvel = data.qpos.copy(), data.qvel.copy()
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["qpos"], info["qvel"] = qpos, qvel
        return obs, reward, terminated, truncated, info


class LearnedRewardVecEnv(VecEnvWrapper):
    """Replaces the environment's reward with `reward_fn(concat(obs_t, action_t))`, or with transition=True
    `reward_fn(concat(obs_t, action_t, obs_t+1))`, obs_t+1 being the episode's last observation where it ended
    (SB3's `terminal_observation`), which also goes into `info["next_obs"]` for the clips.

    The true reward is moved to `info["true_reward"]` and handed, with the step, to `on_step` (which cuts
    segments for the oracle); nothing returned to the agent is computed from it.

    record_state=True puts the MuJoCo state each action was taken in into `info` as `StateInInfo` does, but reads
    it here, from a DummyVecEnv's envs, after the DummyVecEnv has deep-copied its infos: on Hopper-v5 the gym wrapper
    and the deep copy of its arrays cost 8-15 us a step, up to 1% of a preference run.

    defer=True returns a reward of 0 at every step and keeps the step's features instead; `take_rollout()` hands
    them over, with the steps' dones, once PPO's rollout is complete, and the caller adds their reward to the
    rollout buffer (`RolloutRewardNormalize` scales it as VecNormalize would have, step by step). PPO learns from
    the rewards only after the rollout ends, so a whole rollout is predicted in one batch (17 us a step one by one
    against 1 us in a batch of 512), and a reward model still being fitted has the rollout's time to finish.
    """

    def __init__(
        self,
        venv: VecEnv,
        reward_fn: Callable[[np.ndarray], np.ndarray],
        on_step: StepHook | None = None,
        record_state: bool = False,
        defer: bool = False,
        transition: bool = False,
    ) -> None:
        super().__init__(venv)
        self.transition = transition
        self.reward_fn = reward_fn
        self.on_step = on_step
        self.defer = defer
        self._features: list[np.ndarray] = []  # deferred: each step's features, (n_envs, D)
        self._dones: list[np.ndarray] = []
        self._obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        self._mujoco: list | None = None  # each env's unwrapped MujocoEnv
        self._states: list[tuple[np.ndarray, np.ndarray]] = []
        if record_state:
            if not isinstance(venv, DummyVecEnv):
                raise TypeError("record_state reads the MuJoCo state from a DummyVecEnv's envs")
            self._mujoco = [env.unwrapped for env in venv.envs]  # type: ignore[attr-defined]

    def reset(self) -> np.ndarray:  # type: ignore[override]
        self._features, self._dones = [], []  # a rollout cut short is not rewarded
        self._obs = self.venv.reset()  # type: ignore[assignment]
        return self._obs  # type: ignore[return-value]

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        if self._mujoco is not None:
            self._states = [(e.data.qpos.copy(), e.data.qvel.copy()) for e in self._mujoco]
        self.venv.step_async(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, true_rewards, dones, infos = self.venv.step_wait()
        assert self._obs is not None and self._actions is not None, "reset() before step()"
        actions = self._actions.reshape(len(infos), -1)
        next_obs = None
        if self.transition:
            next_obs = np.array(obs, dtype=np.float32)
            for i, (done, info) in enumerate(zip(dones, infos)):
                if done:
                    next_obs[i] = info["terminal_observation"]
                info["next_obs"] = next_obs[i]
        features = step_features(self._obs, actions, next_obs)
        if self.defer:
            self._features.append(features)
            self._dones.append(np.asarray(dones, dtype=bool).copy())
            rewards = np.zeros(len(infos), dtype=np.float32)
        else:
            rewards = np.asarray(self.reward_fn(features), dtype=np.float32)
        for info, r in zip(infos, true_rewards):
            info["true_reward"] = float(r)
        for info, (qpos, qvel) in zip(infos, self._states):
            info["qpos"], info["qvel"] = qpos, qvel
        if self.on_step is not None:
            self.on_step(self._obs, actions, true_rewards, dones, infos)
        self._obs = obs  # type: ignore[assignment]
        return obs, rewards, dones, infos

    def take_rollout(self) -> tuple[np.ndarray, np.ndarray]:
        """Deferred mode: the rewards of every step since the last call, (steps, n_envs), as step() would have
        returned them, and the steps' dones (steps, n_envs)."""
        if not self._features:
            n = self.num_envs
            return np.zeros((0, n), dtype=np.float32), np.zeros((0, n), dtype=bool)
        features = np.stack(self._features)  # (T, n, D)
        dones = np.stack(self._dones)
        self._features, self._dones = [], []
        flat = features.reshape(-1, features.shape[-1])
        rewards = np.asarray(self.reward_fn(flat), dtype=np.float32)
        return rewards.reshape(dones.shape), dones


class RolloutRewardNormalize(VecNormalize):
    """VecNormalize for a reward that arrives after the rollout (`LearnedRewardVecEnv(defer=True)`): observations
    are normalised at every step as usual, and `scale_rollout` then scales the rollout's rewards by the running std
    of the discounted return, one step after another, with VecNormalize's own arithmetic, so the rewards PPO learns
    from are the ones VecNormalize would have given it.

    It pickles as a plain VecNormalize (with norm_reward=True: what the rewards went through), so `VecNormalize.load`
    reads the statistics without prefrl.
    """

    def __init__(self, venv: VecEnv, gamma: float) -> None:
        super().__init__(venv, gamma=gamma, norm_reward=True)
        self.rollout_returns = np.zeros(self.num_envs)
        """The discounted return as of the last scaled step (VecNormalize's `returns`, which its step() zeroes at
        episode ends as they happen, ahead of the scaling)."""

    def reset(self):  # type: ignore[no-untyped-def]
        self.rollout_returns = np.zeros(self.num_envs)
        return super().reset()

    def _update_reward(self, reward: np.ndarray) -> None:
        """The per-step rewards are placeholders: the statistics move in scale_rollout instead."""

    def normalize_reward(self, reward: np.ndarray) -> np.ndarray:
        return reward

    def scale_rollout(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """(steps, n_envs) rewards and dones in step order -> the normalised rewards, float32, updating ret_rms."""
        if self.num_envs == 1 and self.training and self.norm_reward:
            return self._scale_one_env(rewards, dones)
        out = np.empty(rewards.shape, dtype=np.float32)
        for t in range(len(rewards)):
            if self.training:  # VecNormalize._update_reward
                self.rollout_returns = self.rollout_returns * self.gamma + rewards[t]
                self.ret_rms.update(self.rollout_returns)
            out[t] = VecNormalize.normalize_reward(self, rewards[t])
            self.rollout_returns[dones[t]] = 0
        return out

    def _scale_one_env(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """scale_rollout for one env, in Python floats: RunningMeanStd.update on a single return, term by term in
        the same order, so every result is the same double (numpy's per-call overhead cost 26 us a step)."""
        mean, var, count = float(self.ret_rms.mean), float(self.ret_rms.var), float(self.ret_rms.count)
        ret, gamma = float(self.rollout_returns[0]), float(self.gamma)
        variances = np.empty(len(rewards))
        for t, (r, done) in enumerate(zip(rewards[:, 0].tolist(), dones[:, 0].tolist())):
            ret = ret * gamma + r
            delta = ret - mean  # a batch of one: its mean is the return, its variance 0
            total = count + 1
            mean = mean + delta * 1 / total
            var = (var * count + 0.0 + delta * delta * count * 1 / (count + 1)) / (count + 1)
            count = 1 + count
            variances[t] = var
            if done:
                ret = 0.0
        self.ret_rms.mean, self.ret_rms.var, self.ret_rms.count = np.float64(mean), np.float64(var), count
        self.rollout_returns[0] = ret
        scaled = rewards[:, 0] / np.sqrt(variances + self.epsilon)  # float64, as NumPy 2 divides float32 by it
        return np.clip(scaled, -self.clip_reward, self.clip_reward).astype(np.float32)[:, None]

    def __reduce_ex__(self, protocol):  # type: ignore[no-untyped-def]
        state = self.__getstate__()
        state.pop("rollout_returns", None)
        return object.__new__, (VecNormalize,), state


def add_rollout_rewards(
    buffer: RolloutBuffer, reward_env: LearnedRewardVecEnv, normalize: RolloutRewardNormalize | None
) -> None:
    """Add the learned reward of the rollout just collected to PPO's buffer, scaled as VecNormalize would have. The
    env returned 0 at every step, so the buffer holds only the discounted value of the final observation at
    truncations, which SB3 adds to the step's reward; the reward is added to that, as it would have been at the step."""
    rewards, step_dones = reward_env.take_rollout()
    if rewards.shape != buffer.rewards.shape:
        raise RuntimeError(f"rewards for {rewards.shape} steps, a rollout buffer of {buffer.rewards.shape}")
    if normalize is not None:
        rewards = normalize.scale_rollout(rewards, step_dones)
    buffer.rewards += rewards


class LearnedRewardBuffer(RolloutBuffer):
    """PPO's rollout buffer (SB3's `rollout_buffer_class`), which hands the finished rollout to `before_returns`
    before computing its returns and advantages: there the learned reward of every step is added, predicted in one
    batch by the model due for this rollout."""

    before_returns: Callable[[RolloutBuffer], None] | None = None
    """Set on the instance PPO builds (so that PPO's saved settings never hold it)."""

    def compute_returns_and_advantage(self, last_values: torch.Tensor, dones: np.ndarray) -> None:
        if self.before_returns is not None:
            self.before_returns(self)
        super().compute_returns_and_advantage(last_values=last_values, dones=dones)
