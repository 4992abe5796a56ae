"""prefrl: reinforcement learning from human preferences (Christiano et al., 2017), for MuJoCo and language models."""

__version__ = "0.1.0"

_EXPORTS = {
    "train": "prefrl.control.trainer",
    "TrainConfig": "prefrl.control.config",
    "Trainer": "prefrl.control.trainer",
    "PPOConfig": "prefrl.control.ppo_config",
    "ppo_config_for": "prefrl.control.ppo_config",
    "RewardConfig": "prefrl.core.reward_config",
    "RewardEnsemble": "prefrl.core.reward",
    "Teacher": "prefrl.core.teachers",
    "SyntheticOracle": "prefrl.core.teachers",
    "make_teacher": "prefrl.core.teachers",
    "LabelStore": "prefrl.core.store",
    "fit_reward_model": "prefrl.control.labels",
}
"""The public API, imported on first use (it pulls in torch and stable-baselines3, which `prefrl --help` need not
wait for)."""
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    import importlib

    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name == "teachers":  # the synthetic teachers, ready-made
        return importlib.import_module("prefrl.teachers")
    raise AttributeError(f"module 'prefrl' has no attribute {name!r}")


from prefrl import mujoco_warnings  # noqa: E402  (after the API table, which needs no import)

mujoco_warnings.install()

import prefrl_envs  # noqa: E402, F401  (registers the prefrl/... environments with gymnasium)
