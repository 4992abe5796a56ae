"""prefrl's own environments, installed as the package `prefrl_envs` and registered under `prefrl/...` ids.

`import prefrl` registers them, so `gym.make("prefrl/PaperHopper-v0")` works. Entry points are strings, so nothing
here imports MuJoCo until an env is made. One id per behaviour, at its best design; earlier designs are rebuilt from
`RETIRED` (see CHANGELOG.md).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

ENVS = {
    # the paper's variants of the MuJoCo tasks: no control cost; no early termination, falling is a penalty
    "prefrl/PaperHopper-v0": "prefrl_envs.paper:paper_hopper",
    "prefrl/PaperWalker2d-v0": "prefrl_envs.paper:paper_walker2d",
    "prefrl/PaperHalfCheetah-v0": "prefrl_envs.paper:paper_half_cheetah",
    # novel behaviours with a scripted oracle
    "prefrl/HopperBackflip-v9": "prefrl_envs.behaviours:HopperBackflip",
    "prefrl/HalfCheetahOneLeg-v0": "prefrl_envs.behaviours:HalfCheetahOneLeg",
}

HORIZON = 1000
"""Steps in every episode (none ends early), unless EPISODE_STEPS says otherwise."""
EPISODE_STEPS = {"prefrl/HopperBackflip-v9": 250}
"""2 s for the backflip: time for one flip and its landing, so most clips hold a jump."""

_SHAPED_V2 = dict(
    ground_share=0.0, judged_steps=None, paid_turns=None, touch_share=0.0, over_cost=0.0, velocity_clip=10.0
)
RETIRED: dict[str, dict[str, Any]] = {
    "prefrl/HopperBackflip-v0": dict(max_episode_steps=1000, landing_bonus=1.0, air_only=False, shaped=False, **_SHAPED_V2),
    "prefrl/HopperBackflip-v1": dict(max_episode_steps=1000, shaped=False, **_SHAPED_V2),
    "prefrl/HopperBackflip-v2": dict(max_episode_steps=1000, **_SHAPED_V2),
    "prefrl/HopperBackflip-v3": dict(max_episode_steps=1000, **{**_SHAPED_V2, "ground_share": 0.5}),
    "prefrl/HopperBackflip-v4": dict(max_episode_steps=1000, paid_turns=None, touch_share=0.0, over_cost=0.0, velocity_clip=10.0),
    "prefrl/HopperBackflip-v5": dict(max_episode_steps=1000, paid_turns=None, touch_share=0.0, over_cost=0.0),
    "prefrl/HopperBackflip-v6": dict(paid_turns=None, touch_share=0.0, over_cost=0.0),
    "prefrl/HopperBackflip-v7": dict(touch_share=0.0, over_cost=0.0),
    "prefrl/HopperBackflip-v8": dict(over_cost=0.0),
    "prefrl/HopperBackflip-v10": dict(touch_height=0.6),
}  # fmt: skip
"""Earlier designs of the backflip, no longer registered: `gym.make("prefrl/HopperBackflip-v9", **RETIRED[id])`
rebuilds one exactly, so the results published on it reproduce."""


def register() -> None:
    for env_id, entry_point in ENVS.items():
        if env_id not in gym.envs.registry:
            gym.register(env_id, entry_point=entry_point, max_episode_steps=EPISODE_STEPS.get(env_id, HORIZON))


register()
