"""The paper's variants of the MuJoCo locomotion tasks (Christiano et al., 2017, appendix A.1).

Torques are invisible to a person judging clips, so the true reward has no control cost. Ending an episode when
the agent falls would tell the agent something about the reward through the episode length, so episodes run a
fixed 1000 steps and falling over is a penalty in the hidden true reward instead: the agent has to learn from
preferences that falling is bad.
"""

from __future__ import annotations

import gymnasium as gym

FALL_PENALTY = 1.0


class FallPenalty(gym.Wrapper):
    """Replaces the (lost) healthy bonus with -penalty on every step the agent is not healthy."""

    def __init__(self, env: gym.Env, penalty: float = FALL_PENALTY) -> None:
        super().__init__(env)
        self.penalty = penalty

    def step(self, action):  # type: ignore[no-untyped-def]
        obs, reward, terminated, truncated, info = self.env.step(action)
        healthy = bool(self.env.unwrapped.is_healthy)  # type: ignore[attr-defined]
        if not healthy:
            reward = float(reward) - self.penalty
        info["fallen"] = not healthy
        return obs, reward, terminated, truncated, info


def paper_hopper(**kwargs) -> gym.Env:  # type: ignore[no-untyped-def]
    """`prefrl/PaperHopper-v0`: Hopper-v5 with no control cost, 1000-step episodes that never end early, and -1 a
    step while fallen over (unhealthy) instead of the healthy bonus. Spaces and starting state as Hopper-v5;
    arguments are Hopper-v5's."""
    from gymnasium.envs.mujoco.hopper_v5 import HopperEnv

    return FallPenalty(HopperEnv(terminate_when_unhealthy=False, ctrl_cost_weight=0.0, **kwargs))


def paper_walker2d(**kwargs) -> gym.Env:  # type: ignore[no-untyped-def]
    """`prefrl/PaperWalker2d-v0`: Walker2d-v5 changed as `paper_hopper` changes Hopper-v5."""
    from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv

    return FallPenalty(Walker2dEnv(terminate_when_unhealthy=False, ctrl_cost_weight=0.0, **kwargs))


def paper_half_cheetah(**kwargs) -> gym.Env:  # type: ignore[no-untyped-def]
    """`prefrl/PaperHalfCheetah-v0`: HalfCheetah-v5 with no control cost (it never ends early anyway)."""
    from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv

    return HalfCheetahEnv(ctrl_cost_weight=0.0, **kwargs)
