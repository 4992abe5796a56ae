"""Run folders with queries waiting for a person: real MuJoCo segments (with state to render) in a real store."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np

from prefrl.control.segments import Segment
from prefrl.core.store import LabelStore


def random_segments(env_id: str, n: int, length: int, seed: int = 0) -> list[Segment]:
    env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    data = env.unwrapped.data
    segments = []
    for k in range(n):
        steps: dict[str, list] = {"obs": [], "actions": [], "true_rewards": [], "qpos": [], "qvel": []}
        for _ in range(length):
            steps["qpos"].append(data.qpos.copy())
            steps["qvel"].append(data.qvel.copy())
            action = env.action_space.sample()
            steps["obs"].append(obs)
            steps["actions"].append(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            steps["true_rewards"].append(reward)
            if terminated or truncated:
                obs, _ = env.reset()
                break
        segments.append(Segment(**{key: np.array(v) for key, v in steps.items()}, episode=k, start=0))
    env.close()
    return segments


def make_label_run(folder: Path, n_queries: int, env_id: str = "HalfCheetah-v5", length: int = 8) -> list[int]:
    """A run folder whose store asks n_queries questions about random segments; clips are not rendered yet."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"env": env_id}))
    store = LabelStore(folder / "labels.sqlite")
    segments = random_segments(env_id, 2 * n_queries, length)
    ids = store.add_items("segment", [s.to_bytes() for s in segments])
    queries = store.add_queries([(ids[2 * i], ids[2 * i + 1]) for i in range(n_queries)])
    store.set_state("clips_dir", str(folder / "clips"))
    store.set_state("run_name", folder.name)
    store.set_state("budget", str(n_queries))
    store.close()
    return queries
