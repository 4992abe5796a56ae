"""Starting PPO afresh partway through a preference run.

A policy trained on the first, poorly informed reward models can stay on the behaviour they taught it after the
model has learned better: the primacy bias of deep RL (Nikishin et al., 2022). A reset gives the later model a
policy that has not been shaped by the earlier ones. By default it comes at a fifth of the run, when the label
schedule has asked most of the labels it asks early (prefrl/core/schedule.py), so the fresh policy learns from a
model that knows what they say and still has most of the run to learn in.

A fresh policy can fall into a trap the old one had escaped: `reset_check` can keep the old one aside and go back to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stable_baselines3 import PPO
    from stable_baselines3.common.policies import BasePolicy

DEFAULT_RESET_SHARE = 1 / 5


def default_reset(timesteps: int) -> int:
    """The step a preference run of `timesteps` steps starts PPO afresh from when none is given."""
    return int(timesteps * DEFAULT_RESET_SHARE)


def new_policy_net(model: PPO) -> BasePolicy:
    """A policy (and value) network built as SB3 builds `model`'s, with freshly drawn weights."""
    return model.policy_class(  # type: ignore[call-arg]
        model.observation_space, model.action_space, model.lr_schedule, use_sde=model.use_sde, **model.policy_kwargs
    )


def reset_policy(model: PPO, keep: float = 0.0) -> None:
    """New policy and value weights, drawn as SB3 draws them when it builds the PPO, and a new optimiser. The rollout
    state (the env's last observations, the step count, the normalisation statistics) is kept, so training goes on
    from where the env is.

    With `keep` > 0 the new weights are `keep` x the old plus (1 - `keep`) x the fresh draw (shrink and perturb, Ash &
    Adams 2020): the policy keeps part of what it knew and regains the plasticity of a new one."""
    fresh = new_policy_net(model)
    policy = model.policy
    weights = fresh.state_dict()
    if keep:
        old = policy.state_dict()
        weights = {k: keep * old[k] + (1 - keep) * w if w.is_floating_point() else w for k, w in weights.items()}
    policy.load_state_dict(weights)
    policy.optimizer = policy.optimizer_class(policy.parameters(), lr=model.lr_schedule(1), **policy.optimizer_kwargs)
