"""PPO settings per environment family: SB3's defaults, or RL Zoo's tuned ones where they beat the defaults.

These are the RL side of a run, not the preference side: preference runs and true-reward baselines use the same
settings, so comparisons are like for like. An env without a preset gets SB3's defaults.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

ACTIVATIONS = ("relu", "tanh")
"""Names of the torch activations a policy network may use (nn.ReLU, nn.Tanh)."""


@dataclass
class PPOConfig:
    """stable-baselines3 PPO arguments plus the VecNormalize switch. Defaults are SB3's own."""

    n_steps: int = 2048
    batch_size: int = 64
    gamma: float = 0.99
    learning_rate: float = 3e-4
    ent_coef: float = 0.0
    clip_range: float = 0.2
    n_epochs: int = 10
    gae_lambda: float = 0.95
    max_grad_norm: float = 0.5
    vf_coef: float = 0.5
    normalize: bool = True
    """Wrap the env in VecNormalize (observations and rewards)."""
    log_std_init: float = 0.0
    ortho_init: bool = True
    net_arch: list[int] = field(default_factory=lambda: [64, 64])
    activation: str = "tanh"

    def ppo_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for stable_baselines3.PPO."""
        kw = asdict(self)
        for key in ("normalize", "log_std_init", "ortho_init", "net_arch", "activation"):
            kw.pop(key)
        from torch import nn

        kw["policy_kwargs"] = dict(
            log_std_init=self.log_std_init,
            ortho_init=self.ortho_init,
            activation_fn={"relu": nn.ReLU, "tanh": nn.Tanh}[self.activation],
            net_arch=dict(pi=list(self.net_arch), vf=list(self.net_arch)),
        )
        return kw


_ZOO_COMMON = dict(n_steps=512, log_std_init=-2.0, ortho_init=False, net_arch=[256, 256], activation="relu")

_ZOO_HALFCHEETAH = dict(
    _ZOO_COMMON,
    batch_size=64,
    gamma=0.98,
    learning_rate=2.0633e-5,
    ent_coef=4.01762e-4,
    clip_range=0.1,
    n_epochs=20,
    gae_lambda=0.92,
    max_grad_norm=0.8,
    vf_coef=0.58096,
)
"""RL Zoo's tuned PPO for HalfCheetah-v3."""

PRESETS: dict[str, dict[str, Any]] = {
    "HalfCheetah": _ZOO_HALFCHEETAH,
    # RL Zoo's Ant row is SB3's defaults, which never passed the untrained policy on Ant-v5 (its observation adds
    # contact forces); RL Zoo's tuned HalfCheetah preset walks it (docs/notes/per-task.md).
    "Ant": _ZOO_HALFCHEETAH,
    # SB3's defaults (CleanRL's too): with the true reward, RL Zoo's Hopper preset stood still for all of 500k steps
    # on Hopper-v5 (docs/notes/hopper.md).
    "Hopper": {},
    # SB3's defaults: RL Zoo's Walker2d preset ran 2.6-2.8x slower here and learned less in both arms at 500k steps
    # (docs/notes/walker2d.md).
    "Walker2d": {},
    # RL Zoo's Reacher preset: a 1-s episode wants a short horizon (gamma 0.9) and no GAE discounting.
    "Reacher": dict(
        n_steps=512,
        batch_size=32,
        gamma=0.9,
        learning_rate=1.04019e-4,
        ent_coef=7.52585e-8,
        clip_range=0.3,
        n_epochs=5,
        gae_lambda=1.0,
        max_grad_norm=0.9,
        vf_coef=0.950368,
    ),
    # RL Zoo's tuned Swimmer preset (ppo.yml, Swimmer-v4): gamma 0.9999, as swimming forward pays off over a long
    # horizon, and 4 envs x 1,024 steps a rollout, run here as one env x 4,096 (the same steps of one policy per
    # update). Its true-reward arm finds the fast gait, where SB3's defaults with gamma 0.9999 (the zoo's older
    # Swimmer-v3 row) mostly settled in the slow one (docs/notes/per-task.md).
    "Swimmer": dict(gamma=0.9999, n_steps=4096, batch_size=256, learning_rate=6e-4, gae_lambda=0.98),
}


def env_family(env_id: str) -> str:
    """'Hopper' for 'Hopper-v5'; 'HopperBackflip' for 'prefrl/HopperBackflip-v9': presets are per family."""
    return env_id.split("/")[-1].split("-")[0]


def ppo_config_for(env_id: str, **overrides: Any) -> PPOConfig:
    """The tuned preset for an env id such as 'Hopper-v5' (SB3 defaults for others), with overrides applied."""
    return replace(PPOConfig(**PRESETS.get(env_family(env_id), {})), **overrides)


def ppo_problems(ppo: PPOConfig) -> list[str]:
    """What is out of range in these settings, as "key=value: must be ...", so that a run refuses them before its
    first label instead of failing inside SB3's first rollout or update (or training on a negative step size)."""

    def finite(x: float) -> bool:
        return isinstance(x, (int, float)) and math.isfinite(x)

    rules: list[tuple[str, bool, str]] = [
        ("n_steps", ppo.n_steps >= 2, "at least 2"),
        ("batch_size", 1 <= ppo.batch_size <= ppo.n_steps, f"between 1 and n_steps ({ppo.n_steps}), one rollout"),
        ("n_epochs", ppo.n_epochs >= 1, "at least 1"),
        ("learning_rate", finite(ppo.learning_rate) and ppo.learning_rate > 0, "a positive number"),
        ("gamma", finite(ppo.gamma) and 0 < ppo.gamma <= 1, "in (0, 1]"),
        ("gae_lambda", finite(ppo.gae_lambda) and 0 <= ppo.gae_lambda <= 1, "in [0, 1]"),
        ("clip_range", finite(ppo.clip_range) and ppo.clip_range > 0, "a positive number"),
        ("max_grad_norm", finite(ppo.max_grad_norm) and ppo.max_grad_norm > 0, "a positive number"),
        ("vf_coef", finite(ppo.vf_coef) and ppo.vf_coef >= 0, "0 or more"),
        ("ent_coef", finite(ppo.ent_coef) and ppo.ent_coef >= 0, "0 or more"),
        ("log_std_init", finite(ppo.log_std_init), "a finite number"),
        ("net_arch", len(ppo.net_arch) > 0 and all(n >= 1 for n in ppo.net_arch), "positive layer widths, e.g. 64,64"),
        ("activation", ppo.activation in ACTIVATIONS, f"one of {', '.join(ACTIVATIONS)}"),
    ]
    return [f"{key}={getattr(ppo, key)}: must be {rule}" for key, ok, rule in rules if not ok]


def new_ppo(
    ppo: PPOConfig,
    venv: Any,
    seed: int | None = None,
    device: str = "cpu",
    tensorboard_log: str | None = None,
    rollout_buffer_class: type | None = None,
):  # type: ignore[no-untyped-def]
    """The stable-baselines3 PPO these settings describe, on venv: what training builds, and what resume and
    `watch` rebuild before they load a checkpoint's weights into it. `rollout_buffer_class`: SB3's hook for the
    buffer a preference run rewards its rollouts in."""
    from stable_baselines3 import PPO

    return PPO("MlpPolicy", venv, seed=seed, device=device, verbose=0, tensorboard_log=tensorboard_log,
               rollout_buffer_class=rollout_buffer_class, **ppo.ppo_kwargs())  # fmt: skip
