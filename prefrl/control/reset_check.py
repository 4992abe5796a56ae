"""Checking a policy reset: the policy from before it is kept aside, and later it and the fresh one run the same few
episodes; the one the reward model of that moment rates higher trains on. A fresh policy can fall into a trap the old
one had escaped (a slow gait, a dive), and the reward model can tell, though nothing of the true reward is read.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from stable_baselines3.common.vec_env import VecNormalize

from prefrl.control.envs import make_env
from prefrl.control.policy_reset import new_policy_net
from prefrl.control.segments import step_features
from prefrl.core.records import write_atomic
from prefrl.errors import PrefrlError

if TYPE_CHECKING:
    from stable_baselines3 import PPO
    from stable_baselines3.common.policies import BasePolicy

CHECK_EPISODES = 5
"""Stochastic episodes each policy runs at the check."""


@dataclass
class PolicySnapshot:
    """A policy as it was, to go back to: its weights, its optimiser's state, and the observation statistics it acted
    on (mean, var, count; None where PPO's observations are not normalised)."""

    weights: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    obs_stats: tuple[np.ndarray, np.ndarray, float] | None

    @classmethod
    def take(cls, model: PPO) -> PolicySnapshot:
        env = model.get_env()
        stats = None
        if isinstance(env, VecNormalize):
            rms = env.obs_rms
            stats = (rms.mean.copy(), rms.var.copy(), float(rms.count))
        weights = {k: v.detach().clone() for k, v in model.policy.state_dict().items()}
        return cls(weights, copy.deepcopy(model.policy.optimizer.state_dict()), stats)

    def restore(self, model: PPO) -> None:
        """Put this policy back into `model`, with its optimiser's state and its observation statistics."""
        model.policy.load_state_dict(self.weights)
        model.policy.optimizer.load_state_dict(self.optimizer)
        env = model.get_env()
        if isinstance(env, VecNormalize) and self.obs_stats is not None:
            mean, var, count = self.obs_stats
            env.obs_rms.mean, env.obs_rms.var, env.obs_rms.count = mean.copy(), var.copy(), count

    def policy(self, model: PPO) -> BasePolicy:
        """A policy network built as `model`'s, holding these weights (torch's RNG is left as it was)."""
        rng = torch.get_rng_state()
        net = new_policy_net(model)
        torch.set_rng_state(rng)
        net.load_state_dict(self.weights)
        return net.to(model.device)

    def save(self, path: Path) -> None:
        state: dict[str, Any] = {"weights": self.weights, "optimizer": self.optimizer}
        if self.obs_stats is not None:
            mean, var, count = self.obs_stats
            state["obs"] = [torch.from_numpy(mean), torch.from_numpy(var), float(count)]
        write_atomic(path, lambda tmp: torch.save(state, tmp))

    @classmethod
    def load(cls, path: Path) -> PolicySnapshot:
        """What `save` wrote, unpickling nothing."""
        try:
            state = torch.load(path, weights_only=True, map_location="cpu")
            obs = state.get("obs")
            stats = None if obs is None else (obs[0].numpy(), obs[1].numpy(), float(obs[2]))
            return cls(state["weights"], state["optimizer"], stats)
        except Exception as exc:  # missing, truncated, or not what save wrote
            raise PrefrlError(
                f"{path} (the policy from before the reset, for the reset check) is unreadable "
                f"({type(exc).__name__}); restore it, or start a new run"
            ) from None


def learned_return(
    policy: BasePolicy,
    normalise: Callable[[np.ndarray], np.ndarray],
    env_id: str,
    reward: Callable[[np.ndarray], np.ndarray],
    transition: bool,
    seed: int,
    episodes: int = CHECK_EPISODES,
) -> float:
    """The mean return by `reward` (the learned reward PPO sees, of each step's features) of `episodes` stochastic
    episodes of `policy` in an env of its own seeded from `seed`. torch's RNG is left as it was, so the run it is
    called from goes on as if it had not been."""
    rng = torch.get_rng_state()
    env = make_env(env_id, record_state=False)
    low, high = env.action_space.low, env.action_space.high  # type: ignore[attr-defined]
    returns = []
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            steps, done = [], False
            while not done:
                action, _ = policy.predict(normalise(np.asarray(obs)), deterministic=False)
                action = np.clip(action, low, high)
                following, _, terminated, truncated, _ = env.step(action)
                after = np.asarray(following, dtype=np.float32)[None] if transition else None
                steps.append(step_features(np.asarray(obs, dtype=np.float32)[None], action[None], after)[0])
                obs, done = following, terminated or truncated
            returns.append(float(np.sum(reward(np.stack(steps)))))
    finally:
        env.close()
        torch.set_rng_state(rng)
    return float(np.mean(returns))


@dataclass(frozen=True)
class ResetCheck:
    """What the reset check found: each policy's mean learned return, and whether the run went back to the old one."""

    timesteps: int
    fresh_return: float
    kept_return: float
    went_back: bool


def check_reset(
    model: PPO,
    before: PolicySnapshot,
    env_id: str,
    reward: Callable[[np.ndarray], np.ndarray],
    transition: bool,
    seed: int,
) -> ResetCheck:
    """Run the fresh policy and the one kept from before the reset, the same episodes each, and go back to the kept
    one (weights, optimiser, observation statistics) if `reward` rates it higher; otherwise leave `model` as it is."""
    env = model.get_env()
    norm = env if isinstance(env, VecNormalize) else None

    def normaliser(stats: tuple[np.ndarray, np.ndarray, float] | None) -> Callable[[np.ndarray], np.ndarray]:
        if norm is None or stats is None:
            return lambda obs: obs.astype(np.float32)
        mean, var = stats[0], stats[1]
        return lambda obs: np.clip((obs - mean) / np.sqrt(var + norm.epsilon), -norm.clip_obs, norm.clip_obs)

    current = None if norm is None else (norm.obs_rms.mean, norm.obs_rms.var, float(norm.obs_rms.count))
    fresh = learned_return(model.policy, normaliser(current), env_id, reward, transition, seed)
    kept = learned_return(before.policy(model), normaliser(before.obs_stats), env_id, reward, transition, seed)
    went_back = kept > fresh
    if went_back:
        before.restore(model)
    return ResetCheck(int(model.num_timesteps), fresh, kept, went_back)
