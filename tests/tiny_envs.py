"""Small envs for the tests of the loop on any gymnasium env, importable as `tests.tiny_envs:Name`."""

from typing import ClassVar

import gymnasium as gym
import numpy as np


class Reach(gym.Env):
    """Move a point on a line towards 0; rewarded by closeness. Episodes end when `ends_after` says so."""

    metadata: ClassVar[dict] = {"render_modes": [], "render_fps": 20}
    dt = 0.05

    def __init__(self, steps: int = 10, how: str = "terminated", random_length: bool = False) -> None:
        self.observation_space = gym.spaces.Box(-10.0, 10.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.steps, self.how, self.random_length = steps, how, random_length

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = float(self.np_random.uniform(-3, 3)), 0
        self.length = int(self.np_random.integers(3, self.steps + 1)) if self.random_length else self.steps
        return self._obs(), {}

    def _obs(self):
        return np.array([self.x, self.t / self.steps], dtype=np.float32)

    def step(self, action):
        self.x += 0.2 * float(np.clip(action, -1, 1)[0])
        self.t += 1
        over = self.t >= self.length
        reward = -abs(self.x)
        return self._obs(), reward, over and self.how == "terminated", over and self.how == "truncated", {}


def ten_step_time_limit() -> gym.Env:
    """Ten-step episodes ended by a time limit, as gym.make with max_episode_steps=10 makes them."""
    return gym.wrappers.TimeLimit(Reach(steps=10_000, how="none"), max_episode_steps=10)


def cut_short_without_a_limit() -> gym.Env:
    """Ten-step episodes truncated by the env itself, with no time limit to say so in advance."""
    return Reach(steps=10, how="truncated")


def dying_early() -> gym.Env:
    """Episodes that terminate after 3-10 steps: every clip is cut short by the end of an episode."""
    return Reach(steps=10, how="terminated", random_length=True)


class Pixels(Reach):
    """The same task seen as an image."""

    def __init__(self) -> None:
        super().__init__()
        self.observation_space = gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)


class Blind(Reach):
    """Takes a render mode, as gymnasium's envs do, but draws nothing."""

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__()
        self.render_mode = render_mode
