"""Run folders with queries waiting for a person: real MuJoCo segments (with state to render) in a real store, or
the completions of a text run, stored as its trainer stores them."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pygame

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
        terminated = False
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
        segments.append(Segment(**{key: np.array(v) for key, v in steps.items()}, episode=k, start=0,
                                terminated=bool(terminated)))  # fmt: skip
    env.close()
    return segments


def make_label_run(folder: Path, n_queries: int, env_id: str = "HalfCheetah-v5", length: int = 8) -> list[int]:
    """A run folder whose store asks n_queries questions about random segments; clips are not rendered yet."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"env": env_id, "segment_length": length}))
    store = LabelStore(folder / "labels.sqlite")
    segments = random_segments(env_id, 2 * n_queries, length)
    ids = store.add_items("segment", [s.to_bytes() for s in segments])
    queries = store.add_queries([(ids[2 * i], ids[2 * i + 1]) for i in range(n_queries)])
    store.set_state("clips_dir", str(folder / "clips"))
    store.set_state("run_name", folder.name)
    store.set_state("budget", str(n_queries))
    store.close()
    return queries


TEXT_RANKINGS = (  # (prompt, its completions); the trainer stores K sampled completions per prompt like this
    (
        "Tell a story about Stolis and a candlestick at the lake.\n",
        "Stolis found a shiny candlestick at the lake. The morning was lovely, and Stolis laughed. Hebrel said the "
        "water was calm and friendly, so they sat on the pier and watched the boats until the sun went down. Stolis "
        "gave the candlestick to Hebrel, who felt happy and grateful, and they walked home together along the shore.",
        "The lake was cold. Stolis sighed.",
        "Stolis looked at the candlestick and the candlestick and the lake and the lake and the",
    ),
    (
        "Write a short story in which Vianstum finds an umbrella at the zoo.\n",
        "Vianstum found a ruined umbrella at the zoo. Geisia said the morning was gloomy, and Vianstum sighed.",
        "Vianstum found a bright umbrella at the zoo and gave it to Prouthel, who laughed with joy.",
        "At the zoo, Vianstum",
    ),
)


def make_text_run(folder: Path, prompts: int = 2, k: int = 3, ranked: bool = False) -> list[int]:
    """A text run folder (no model) whose store asks about every pair of each prompt's k completions (`ranked`: as
    one ranking per prompt, as the text trainer asks them).

    Items are JSON payloads as the text trainer writes them; each prompt's last completion was cut at the length
    limit (it did not end by itself)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"oracle": "combo", "k": k, "out": str(folder)}))
    store = LabelStore(folder / "labels.sqlite")
    payloads = []
    for g in range(prompts):
        prompt, *completions = TEXT_RANKINGS[g % len(TEXT_RANKINGS)]
        for j in range(k):
            payload = {
                "prompt": prompt, "completion": completions[j % len(completions)], "ended": j != k - 1, "group": g,
                "cycle": 0, "source": "policy-0", "gold": float(j),
            }  # fmt: skip
            payloads.append(json.dumps(payload).encode())
    ids = store.add_items("text", payloads)
    groups = [ids[g * k : (g + 1) * k] for g in range(prompts)]
    pairs = [(g, pair) for g, group in enumerate(groups) for pair in itertools.combinations(group, 2)]
    queries = store.add_queries([pair for _, pair in pairs], groups=[g for g, _ in pairs] if ranked else None)
    store.close()
    return queries


def wait_for_pair(window, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    """Step an in-process LabelWindow until a pair is on screen; one more frame so it is drawn. Returns the pair."""
    deadline = time.time() + timeout
    while window.current is None:
        assert time.time() < deadline, "no pair reached the screen"
        window.step()
        time.sleep(0.005)
    window.step()
    return window.current


def press(window, key: int) -> None:  # type: ignore[no-untyped-def]
    """A key press as pygame delivers it, handled by one frame of the window."""
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))
    window.step()
