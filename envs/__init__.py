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
    "prefrl/HopperBackflip-v0": "prefrl_envs.behaviours:HopperBackflip",
    "prefrl/HalfCheetahOneLeg-v0": "prefrl_envs.behaviours:HalfCheetahOneLeg",
}


KWARGS = {
    "prefrl/HopperBackflip-v0": {"landing_bonus": 1.0, "air_only": False},
    "prefrl/HopperBackflip-v2": {"shaped": True},
    "prefrl/HopperBackflip-v3": {"shaped": True, "ground_share": 0.5},
    "prefrl/HopperBackflip-v4": {"shaped": True, "ground_share": 0.5, "judged_steps": 100},
}
"""Settings of an env's versions: earlier ones stay registered so their published results can be reproduced."""


def register() -> None:
    for env_id, entry_point in ENVS.items():
        if env_id not in gym.envs.registry:
            gym.register(env_id, entry_point=entry_point, max_episode_steps=1000, kwargs=KWARGS.get(env_id, {}))


register()
