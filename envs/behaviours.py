"""Novel behaviours with a scripted oracle, to benchmark headless and then teach by hand in the labelling window.

Each env's reward is its task's *hidden* true reward: with `prefrl train` the agent only ever sees the learned
reward, and the synthetic oracle compares clips by this one (also in info["task_reward"]). The definitions:

HopperBackflip: Hopper-v5's body with no early termination (1000 steps). Per step, the fraction of a full backward
    turn the torso made (d(-pitch) / 2 pi; forward rotation counts negative), plus 1 for every completed backward
    turn when the hopper is next upright (torso height > 0.9 and pitch within 0.5 rad of upright).
    A clean backflip that lands scores about 2; spinning on the ground without landing scores about 1 per turn.
HalfCheetahOneLeg: HalfCheetah-v5's body. Per step, the forward velocity, counted only while no part of the front
    leg (thigh, shin, foot) touches the floor; otherwise 0. Running on the back leg alone is what pays.
"""

from __future__ import annotations

import math

import numpy as np
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv

TWO_PI = 2 * math.pi


def upright(pitch: float, height: float) -> bool:
    wrapped = (pitch + math.pi) % TWO_PI - math.pi
    return abs(wrapped) < 0.5 and height > 0.9


class BackflipCounter:
    """The backflip oracle as a running tally over one episode (pure, so tests can feed it hand-made motions)."""

    def __init__(self, pitch: float) -> None:
        self.start = self.last = pitch
        self.landed = 0

    def step(self, pitch: float, height: float) -> float:
        reward = -(pitch - self.last) / TWO_PI  # rooty grows as the torso tips forward, so backward is negative
        self.last = pitch
        turns = math.floor(-(pitch - self.start) / TWO_PI + 0.1)  # a turn is done within ~36 degrees of upright
        if turns > self.landed and upright(pitch, height):
            reward += turns - self.landed
            self.landed = turns
        return reward


def backflip_rewards(pitch: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Oracle reward of each step of a motion given as torso pitch (rad) and height, starting at step 0's state."""
    counter = BackflipCounter(float(pitch[0]))
    return np.array([counter.step(float(p), float(h)) for p, h in zip(pitch[1:], height[1:])])


class HopperBackflip(HopperEnv):
    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(terminate_when_unhealthy=False, **kwargs)
        self._counter: BackflipCounter | None = None

    def reset_model(self):  # type: ignore[no-untyped-def]
        obs = super().reset_model()
        self._counter = BackflipCounter(float(self.data.qpos[2]))
        return obs

    def step(self, action):  # type: ignore[no-untyped-def]
        obs, _, terminated, truncated, info = super().step(action)
        assert self._counter is not None, "reset() before step()"
        reward = self._counter.step(float(self.data.qpos[2]), float(self.data.qpos[1]))
        info["task_reward"] = reward
        return obs, reward, terminated, truncated, info


def one_leg_reward(x_velocity: float, front_leg_on_floor: bool) -> float:
    return 0.0 if front_leg_on_floor else float(x_velocity)


class HalfCheetahOneLeg(HalfCheetahEnv):
    FRONT_LEG = ("fthigh", "fshin", "ffoot")

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        import mujoco

        model = self.model
        self._floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
        self._front = {mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, g) for g in self.FRONT_LEG}

    def front_leg_on_floor(self) -> bool:
        for i in range(self.data.ncon):
            pair = {int(self.data.contact[i].geom1), int(self.data.contact[i].geom2)}
            if self._floor in pair and pair & self._front:
                return True
        return False

    def step(self, action):  # type: ignore[no-untyped-def]
        obs, _, terminated, truncated, info = super().step(action)
        reward = one_leg_reward(info["x_velocity"], self.front_leg_on_floor())
        info["task_reward"] = reward
        return obs, reward, terminated, truncated, info
