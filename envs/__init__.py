"""prefrl's own environments, installed as the package `prefrl_envs` and registered under `prefrl/...` ids.

`import prefrl` registers them, so `gym.make("prefrl/PaperHopper-v0")` works. Entry points are strings, so nothing
here imports MuJoCo until an env is made.
"""

from __future__ import annotations

import gymnasium as gym

ENVS = {
    # the paper's variants of the MuJoCo tasks: no control cost; no early termination, falling is a penalty
    "prefrl/PaperHopper-v0": "prefrl_envs.paper:paper_hopper",
    "prefrl/PaperWalker2d-v0": "prefrl_envs.paper:paper_walker2d",
    "prefrl/PaperHalfCheetah-v0": "prefrl_envs.paper:paper_half_cheetah",
    # novel behaviours with a scripted oracle
    "prefrl/HopperBackflip-v1": "prefrl_envs.behaviours:HopperBackflip",
    "prefrl/HopperBackflip-v2": "prefrl_envs.behaviours:HopperBackflip",
    "prefrl/HopperBackflip-v3": "prefrl_envs.behaviours:HopperBackflip",
    "prefrl/HopperBackflip-v4": "prefrl_envs.behaviours:HopperBackflip",
    "prefrl/HopperBackflip-v5": "prefrl_envs.behaviours:HopperBackflip",
    "prefrl/HopperBackflip-v6": "prefrl_envs.behaviours:HopperBackflip",
    "prefrl/HopperBackflip-v7": "prefrl_envs.behaviours:HopperBackflip",
    "prefrl/HopperBackflip-v8": "prefrl_envs.behaviours:HopperBackflip",
    "prefrl/HopperBackflip-v9": "prefrl_envs.behaviours:HopperBackflip",
    "prefrl/HopperBackflip-v10": "prefrl_envs.behaviours:HopperBackflip",
    "prefrl/HopperBackflip-v0": "prefrl_envs.behaviours:HopperBackflip",
    "prefrl/HalfCheetahOneLeg-v0": "prefrl_envs.behaviours:HalfCheetahOneLeg",
}


_V4 = {"shaped": True, "ground_share": 0.5, "judged_steps": 100}
_V5 = {**_V4, "velocity_clip": None}

KWARGS = {
    "prefrl/HopperBackflip-v0": {"landing_bonus": 1.0, "air_only": False},
    "prefrl/HopperBackflip-v2": {"shaped": True},
    "prefrl/HopperBackflip-v3": {"shaped": True, "ground_share": 0.5},
    "prefrl/HopperBackflip-v4": _V4,
    "prefrl/HopperBackflip-v5": _V5,  # v4's oracle; the agent sees velocities unclipped
    "prefrl/HopperBackflip-v6": _V5,  # in 250-step episodes (EPISODE_STEPS)
    "prefrl/HopperBackflip-v7": {**_V5, "paid_turns": 1},
    "prefrl/HopperBackflip-v8": {**_V5, "paid_turns": 1, "touch_share": 0.5},
    "prefrl/HopperBackflip-v9": {**_V5, "paid_turns": 1, "touch_share": 0.5, "over_cost": 1.0},
    "prefrl/HopperBackflip-v10": {**_V5, "paid_turns": 1, "touch_share": 0.5, "over_cost": 1.0, "touch_height": 0.6},
}
"""Settings of an env's versions: earlier ones stay registered so their published results can be reproduced."""

HORIZON = 1000
"""Steps in every episode (none ends early), unless EPISODE_STEPS says otherwise."""
EPISODE_STEPS = {f"prefrl/HopperBackflip-v{v}": 250 for v in (6, 7, 8, 9, 10)}
"""v6: 2 s, time for one flip and its landing. In 1000-step episodes the hopper jumped once and lay on the floor
for the rest, so 15 of every 16 clips showed it lying there, and few queries compared two jumps."""


def register() -> None:
    for env_id, entry_point in ENVS.items():
        if env_id not in gym.envs.registry:
            gym.register(
                env_id,
                entry_point=entry_point,
                max_episode_steps=EPISODE_STEPS.get(env_id, HORIZON),
                kwargs=KWARGS.get(env_id, {}),
            )


register()
