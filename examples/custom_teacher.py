"""A teacher of your own: on Hopper-v5 it prefers the clip in which the hopper stays upright, and never looks at
the env's reward. PPO learns from a reward model fitted to its answers.

    python examples/custom_teacher.py --timesteps 200000 --labels 300 --out runs/upright
"""

from __future__ import annotations

import argparse

import numpy as np

import prefrl
from prefrl.core.comparisons import Choice


def upright(clip) -> float:  # type: ignore[no-untyped-def]
    """How upright a clip is: the torso's height (obs[0]) less its tilt (|obs[1]|), averaged over the clip."""
    return float(np.mean(clip.obs[:, 0] - np.abs(clip.obs[:, 1])))


def prefers_upright(a, b) -> Choice:  # type: ignore[no-untyped-def]
    """A teacher is any function of two clips (each with .obs, .actions, .true_rewards) that says which is better."""
    return Choice.LEFT if upright(a) >= upright(b) else Choice.RIGHT


def main(out: str, timesteps: int, labels: int, **settings: object) -> dict[str, float]:
    config = prefrl.TrainConfig(env="Hopper-v5", labels=labels, timesteps=timesteps, **settings)  # type: ignore[arg-type]
    row = prefrl.train(config, out, teacher=prefers_upright)
    print(f"true return {row['true_return_mean']:.1f} after {int(row['timesteps'])} steps; run folder {out}")
    return row


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--timesteps", type=int, default=200_000)
    p.add_argument("--labels", type=int, default=300)
    p.add_argument("--out", default="runs/upright")
    args = p.parse_args()
    main(args.out, args.timesteps, args.labels)
