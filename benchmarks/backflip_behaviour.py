"""What a HopperBackflip policy does, in numbers: turns made, time in the air and upright, flips landed.

A return says how much oracle reward a policy earns, not how: a tumble on the ground and a flip that crashes can
score alike. This replays the saved policy's deterministic episodes and reads the motion back from the states.

    python benchmarks/backflip_behaviour.py RUN [RUN...] [--episodes 5]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
from prefrl_envs.behaviours import tilt, upright

import prefrl  # noqa: F401  (registers prefrl/... ids)
from prefrl.control.watch import rollout_states


def describe(run: Path, episodes: int) -> str:
    env_id, played = rollout_states(run, episodes, deterministic=True, seed=10_000)
    env = gym.make(env_id if "HopperBackflip" in env_id else "prefrl/HopperBackflip-v9")  # for airborne()
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
        rows.append(
            (
                total,
                turns,
                air_a.mean(),
                up_a.mean(),
                landings,
                len(qpos) - 1,
                *landed_flips(qpos, air_a, up_a),
                -qvel[:, 2].min(),
                *first_touch_down(qpos, air_a),
            )
        )
    env.close()
    m = np.array(rows)
    return (
        f"{run} ({env_id}): return {m[:, 0].mean():.2f}, net backward turns {m[:, 1].mean():.2f} "
        f"(per episode {', '.join(f'{t:.2f}' for t in m[:, 1])}), airborne {100 * m[:, 2].mean():.0f}% of steps, "
        f"upright {100 * m[:, 3].mean():.0f}%, touch-downs {m[:, 4].mean():.1f} an episode of {m[:, 5].mean():.0f} steps, "
        f"flips (>= 3/4 turn in a flight) touching down upright {m[:, 6].mean():.1f}, then standing within 0.8 s "
        f"{m[:, 7].mean():.1f}, crouched {m[:, 8].mean():.1f} an episode; peak backward spin {m[:, 9].mean():.0f} "
        f"rad/s; first touch-down after a flight {m[:, 10].mean():.2f} turns round, torso "
        f"{m[:, 11].mean():+.0f} degrees from upright and {m[:, 12].mean():.2f} m up"
    )


def first_touch_down(qpos: np.ndarray, airborne: np.ndarray) -> tuple[float, float, float]:
    """Net backward turns, torso tilt (degrees, + tipped forward) and torso height at the first touch-down after a
    flight that turned at least half a turn: how near upright the flip came down (NaN if no such flight)."""
    for t, turned in flights(qpos, airborne):
        if turned >= 0.5:
            return -(qpos[t, 2] - qpos[0, 2]) / (2 * math.pi), math.degrees(tilt(float(qpos[t, 2]))), qpos[t, 1]
    return math.nan, math.nan, math.nan


def flights(qpos: np.ndarray, airborne: np.ndarray) -> Iterator[tuple[int, float]]:
    """(touch-down step, backward turns made since the take-off) of each flight that took off within the episode."""
    takeoff = None
    for t in range(1, len(qpos)):
        if airborne[t] and not airborne[t - 1]:
            takeoff = t - 1
        elif airborne[t - 1] and not airborne[t] and takeoff is not None:
            yield t, -(qpos[t, 2] - qpos[takeoff, 2]) / (2 * math.pi)
            takeoff = None


def landed_flips(qpos: np.ndarray, airborne: np.ndarray, standing_up: np.ndarray) -> tuple[int, int, int]:
    """Of the flights that turned at least 3/4 of a turn backwards and came down within 90 degrees of upright: those
    that touched down upright (torso within 0.5 rad of upright and over 0.6 m up, so the turn was made in the air),
    and those after which, within 100 steps (0.8 s), the torso is upright at standing height (`upright`, given per
    step as `standing_up`: landed standing) or only lower, over 0.6 m (folded on the leg: landed crouched). A flip
    that comes down on its back or sits on the floor is none of these; one that touches down short of upright and
    rocks upright on the floor counts as standing or crouched, not as an upright touch-down."""
    upright_touchdowns = standing = crouched = 0
    for t, turned in flights(qpos, airborne):
        down_tilt = abs(tilt(float(qpos[t, 2])))
        if turned >= 0.75 and down_tilt < math.pi / 2:
            upright_touchdowns += int(down_tilt < 0.5 and qpos[t, 1] > 0.6)
            after = qpos[t : t + 100]
            level = np.abs([tilt(float(p)) for p in after[:, 2]]) < 0.5
            if np.any(standing_up[t : t + 100]):
                standing += 1
            elif np.any(level & (after[:, 1] > 0.6)):
                crouched += 1
    return upright_touchdowns, standing, crouched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--episodes", type=int, default=5)
    args = parser.parse_args()
    for run in args.runs:
        print(describe(run, args.episodes))


if __name__ == "__main__":
    main()
