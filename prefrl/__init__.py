"""prefrl: reinforcement learning from human preferences (Christiano et al., 2017), for MuJoCo and language models."""

__version__ = "0.1.0"

from prefrl import mujoco_warnings

mujoco_warnings.install()

import prefrl_envs  # noqa: E402, F401  (registers the prefrl/... environments with gymnasium)
