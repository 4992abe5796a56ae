"""Your own gymnasium env, trained from synthetic preferences: a point on a plane that should reach a goal.

Register the env with gymnasium as usual and name its id in the config; prefrl needs Box observations and Box
actions, and nothing else of it (clips for a person need MuJoCo state; synthetic teachers read the env's reward).

    python examples/custom_env.py --timesteps 100000 --labels 200 --out runs/point
"""

from __future__ import annotations

import argparse
from typing import ClassVar

import gymnasium as gym
import numpy as np

import prefrl


class PointReach(gym.Env):
    """A point at the origin moves by its action (at most 0.1 per step, each axis) towards a goal drawn in [-1, 1]^2.
    Observation: the point, the goal. Reward: minus the distance to the goal."""

    metadata: ClassVar[dict] = {"render_modes": [], "render_fps": 20}

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-2.0, 2.0, shape=(4,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):  # type: ignore[no-untyped-def]
        super().reset(seed=seed)
        self.point = np.zeros(2)
        self.goal = self.np_random.uniform(-1.0, 1.0, size=2)
        return self._obs(), {}

    def step(self, action):  # type: ignore[no-untyped-def]
        self.point = np.clip(self.point + 0.1 * np.clip(action, -1.0, 1.0), -2.0, 2.0)
        reward = -float(np.linalg.norm(self.point - self.goal))
        return self._obs(), reward, False, False, {}

    def _obs(self) -> np.ndarray:
        return np.concatenate([self.point, self.goal]).astype(np.float32)


gym.register("PointReach-v0", entry_point=PointReach, max_episode_steps=60)


def main(out: str, timesteps: int, labels: int, **settings: object) -> dict[str, float]:
    config = prefrl.TrainConfig(env="PointReach-v0", labels=labels, timesteps=timesteps, **settings)  # type: ignore[arg-type]
    row = prefrl.train(config, out)
    print(f"true return {row['true_return_mean']:.1f} after {int(row['timesteps'])} steps; run folder {out}")
    return row


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--timesteps", type=int, default=100_000)
    p.add_argument("--labels", type=int, default=200)
    p.add_argument("--out", default="runs/point")
    args = p.parse_args()
    main(args.out, args.timesteps, args.labels)
