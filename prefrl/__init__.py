"""prefrl: reinforcement learning from human preferences (Christiano et al., 2017), for MuJoCo and language models."""

__version__ = "0.1.0"

import prefrl_envs  # noqa: F401  (registers the prefrl/... environments with gymnasium)
