"""What a HopperBackflip policy does, in numbers: turns made, time in the air and upright, flips landed.

A return says how much oracle reward a policy earns, not how: a tumble on the ground and a flip that crashes can
score alike. This replays the saved policy's deterministic episodes and reads the motion back from the states.

    python benchmarks/backflip_behaviour.py RUN [RUN...] [--episodes 5]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import gymnasium as gym
import numpy as np
from prefrl_envs.behaviours import upright

import prefrl  # noqa: F401  (registers prefrl/... ids)
from prefrl.control.watch import rollout_states


def describe(run: Path, episodes: int) -> str:
    env_id, played = rollout_states(run, episodes, deterministic=True, seed=10_000)
    env = gym.make(env_id if "HopperBackflip" in env_id else "prefrl/HopperBackflip-v2")  # for airborne()
    env.reset(seed=0)
    hopper = env.unwrapped
    rows = []
    for qpos, qvel, total in played:
        air, up = [], []
        for q, v in zip(qpos, qvel):
            hopper.set_state(q, v)  # runs mj_forward, so contacts are those of this state
            air.append(hopper.airborne())
            up.append(upright(float(q[2]), float(q[1])))
        air_a, up_a = np.array(air), np.array(up)
        landings = int(np.sum(~air_a[1:] & air_a[:-1]))  # steps where the hopper touched down
        turns = -(qpos[-1, 2] - qpos[0, 2]) / (2 * math.pi)
        rows.append((total, turns, air_a.mean(), up_a.mean(), landings, len(qpos) - 1))
    env.close()
    m = np.array(rows)
    return (
        f"{run} ({env_id}): return {m[:, 0].mean():.2f}, net backward turns {m[:, 1].mean():.2f} "
        f"(per episode {', '.join(f'{t:.2f}' for t in m[:, 1])}), airborne {100 * m[:, 2].mean():.0f}% of steps, "
        f"upright {100 * m[:, 3].mean():.0f}%, touch-downs {m[:, 4].mean():.1f} an episode of {m[:, 5].mean():.0f} steps"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--episodes", type=int, default=5)
    args = parser.parse_args()
    for run in args.runs:
        print(describe(run, args.episodes))


if __name__ == "__main__":
    main()
