"""Wrappers between the environment and PPO: the learned reward goes in, the true reward only into `info`."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

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
    """Replaces the environment's reward with `reward_fn(concat(obs_t, action_t)) + alive_bonus`.

    The true reward is moved to `info["true_reward"]` and handed, with the step, to `on_step` (which cuts
    segments for the oracle); nothing returned to the agent is computed from it.

    record_state=True puts the MuJoCo state each action was taken in into `info` as `StateInInfo` does, but reads
    it here, from a DummyVecEnv's envs, after the DummyVecEnv has deep-copied its infos: on Hopper-v5 the gym wrapper
    and the deep copy of its arrays cost 8-15 us a step, up to 1% of a preference run.
    """

    def __init__(
        self,
        venv: VecEnv,
        reward_fn: Callable[[np.ndarray], np.ndarray],
        on_step: StepHook | None = None,
        alive_bonus: float = 0.0,
        record_state: bool = False,
    ) -> None:
        super().__init__(venv)
        self.reward_fn = reward_fn
        self.on_step = on_step
        self.alive_bonus = alive_bonus
        self._obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        self._mujoco: list | None = None  # each env's unwrapped MujocoEnv
        self._states: list[tuple[np.ndarray, np.ndarray]] = []
        if record_state:
            if not isinstance(venv, DummyVecEnv):
                raise TypeError("record_state reads the MuJoCo state from a DummyVecEnv's envs")
            self._mujoco = [env.unwrapped for env in venv.envs]  # type: ignore[attr-defined]

    def reset(self) -> np.ndarray:  # type: ignore[override]
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
        features = np.concatenate([self._obs, actions], axis=1).astype(np.float32)
        rewards = np.asarray(self.reward_fn(features), dtype=np.float32) + np.float32(self.alive_bonus)
        for info, r in zip(infos, true_rewards):
            info["true_reward"] = float(r)
        for info, (qpos, qvel) in zip(infos, self._states):
            info["qpos"], info["qvel"] = qpos, qvel
        if self.on_step is not None:
            self.on_step(self._obs, actions, true_rewards, dones, infos)
        self._obs = obs  # type: ignore[assignment]
        return obs, rewards, dones, infos
