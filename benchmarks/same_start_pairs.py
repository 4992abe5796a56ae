"""Offline, Reacher-v5: do pairs of clips from one start state (same target) teach a reward model more per label
than pairs from independent starts? Both get the same number of episodes, labels and fit; each model is saved as a
run folder for `reward_diagnostics.py frozen` (PPO from scratch on it).

    python benchmarks/same_start_pairs.py RUN OUT [--labels 700] [--seed 0]   # RUN: a Reacher-v5 run whose policy acts
    python benchmarks/reward_diagnostics.py frozen OUT/same-start 294912 --episodes 20
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
from reward_diagnostics import DISTANCE_EDGES, acting  # beside this script

from prefrl.control import run_folder as rf
from prefrl.control.segments import step_features
from prefrl.core.comparisons import PreferenceDataset
from prefrl.core.reward import RewardEnsemble
from prefrl.core.reward_config import RewardConfig

Acting = Callable[[np.ndarray, bool], np.ndarray]
"""A policy as `reward_diagnostics.acting` returns it: (raw observation, deterministic) -> action."""
NOISE = (0.0, 0.3, 0.6)
"""Extra action noise on the run's stochastic policy, one behaviour each; uniform random actions are the fourth."""


def episodes(env: gym.Env, act: Acting, starts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One whole episode from each `env.reset(seed=start)`, by a behaviour drawn at random: (N, 50, D) features and
    (N,) true returns."""
    feats, returns = [], []
    for start in starts:
        mode = rng.integers(0, len(NOISE) + 1)
        obs, _ = env.reset(seed=int(start))
        steps, total, done = [], 0.0, False
        while not done:
            if mode == len(NOISE):
                action = rng.uniform(-1, 1, 2)
            else:
                action = np.clip(act(obs, False) + rng.normal(0, NOISE[mode], 2), -1, 1)
            action = action.astype(np.float32)
            steps.append(step_features(obs, action))
            obs, r, term, trunc, _ = env.step(action)
            total, done = total + float(r), term or trunc
        feats.append(np.array(steps, np.float32))
        returns.append(total)
    return np.stack(feats), np.array(returns)


def accuracy(ens: RewardEnsemble, x: np.ndarray, r: np.ndarray, pairs: np.ndarray) -> float:
    """How often the ensemble orders these pairs of episodes as their true returns do."""
    p = ens.member_returns(x, np.ones(x.shape[:2], np.float32)).mean(0)
    return float(np.mean(np.sign(r[pairs[:, 0]] - r[pairs[:, 1]]) == np.sign(p[pairs[:, 0]] - p[pairs[:, 1]])))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="a Reacher-v5 run folder: its policy acts, its config goes with the models")
    p.add_argument("out", type=Path, help="where the two models go, as OUT/independent and OUT/same-start")
    p.add_argument("--labels", type=int, default=700)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    env, act, n = gym.make("Reacher-v5"), acting(args.run, "Reacher-v5"), args.labels
    rng = np.random.default_rng(args.seed)
    base = 10_000_000 * (args.seed + 1)  # reset seeds: each set of episodes its own range
    sets = {
        "independent": episodes(env, act, base + np.arange(2 * n), rng),
        "same-start": episodes(env, act, np.repeat(base + 5_000_000 + np.arange(n), 2), rng),
    }
    test_x, test_r = episodes(env, act, base + 9_000_000 + np.arange(1000), rng)
    twin_x, twin_r = episodes(env, act, np.repeat(base + 8_000_000 + np.arange(500), 2), rng)
    test_pairs = np.random.default_rng(1).integers(0, 1000, (4000, 2))
    test_pairs = test_pairs[test_pairs[:, 0] != test_pairs[:, 1]]
    twin_pairs = np.arange(1000).reshape(-1, 2)
    features = test_x.reshape(-1, test_x.shape[2])
    distance = np.linalg.norm(features[:, 8:10], axis=1)  # observation[8:10]: fingertip minus target
    pairs = np.arange(2 * n).reshape(-1, 2)  # consecutive episodes: independent, or the two of one start
    for name, (x, r) in sets.items():
        targets = (r[pairs[:, 0]] > r[pairs[:, 1]]).astype(np.float32)
        ens = RewardEnsemble(x.shape[2], RewardConfig(), seed=args.seed)
        ens.fit(x, np.ones(x.shape[:2], np.float32), PreferenceDataset(pairs=pairs, targets=targets))
        ens.update_output_stats(x.reshape(-1, x.shape[2]))
        learned = ens.predict(features, keep_level=False)
        profile = " ".join(
            f"{learned[(distance >= lo) & (distance < hi)].mean():+.2f}"
            for lo, hi in zip(DISTANCE_EDGES[:-1], DISTANCE_EDGES[1:])
        )
        print(f"{name}: mean |return difference| of a pair {np.abs(r[0::2] - r[1::2]).mean():.2f}; held-out "
              f"accuracy, independent pairs {accuracy(ens, test_x, test_r, test_pairs):.3f}, same-start pairs "
              f"{accuracy(ens, twin_x, twin_r, twin_pairs):.3f}; learned reward by distance "
              f"{'-'.join(f'{b * 100:g}' for b in DISTANCE_EDGES)} cm: {profile}", flush=True)  # fmt: skip
        out = args.out / name
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(args.run / rf.CONFIG, out / rf.CONFIG)
        ens.save(out / rf.REWARD)


if __name__ == "__main__":
    main()
