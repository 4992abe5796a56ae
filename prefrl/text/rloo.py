"""RLOO (Ahmadian et al., 2024): REINFORCE with a leave-one-out baseline, no value head.

Each prompt is sampled K times. A completion's reward is the reward model's score (less the no-end penalty) minus
beta times its KL to the frozen reference, summed over its tokens, the same penalty PPO pays per token; its advantage
is that reward minus the mean of the other K-1 completions' rewards, the same for each of its tokens. The update is
PPO's clipped surrogate on those advantages, for the same epochs, so the two differ only in the baseline.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from prefrl.text.ppo import PolicyOptimiser, masked_mean
from prefrl.text.sampling import Rollout, decode, forward


def leave_one_out(rewards: torch.Tensor) -> torch.Tensor:
    """Each sample's reward less the mean of its prompt's other samples: (P, K) -> (P, K)."""
    k = rewards.shape[1]
    others = (rewards.sum(1, keepdim=True) - rewards) / (k - 1)
    return rewards - others


class TextRLOO(PolicyOptimiser):
    """One policy, one frozen reference, one reward function of whole rollouts; `step` as TextPPO's."""

    def step(
        self,
        prompts: list[str],
        score: Callable[[Rollout], torch.Tensor],
        gold: Callable[[list[str], list[str]], list[float]] | None = None,
    ) -> dict[str, float]:
        """Sample K completions of each of the batch's first batch_size / K prompts, and update the policy."""
        c = self.config
        k = c.rloo_k
        per = max(1, c.batch_size // k)
        asked = [p for p in prompts[:per] for _ in range(k)]
        rollout = self.rollout(asked)
        mask = rollout.completion_mask
        with torch.no_grad():
            old_logp, _, _ = forward(self.policy, rollout, c.temperature)
            ref_logp, _, _ = forward(self.reference, rollout, c.temperature)
            scores = score(rollout).float()
            kl = ((old_logp - ref_logp) * mask).sum(1)
            reward = scores + c.no_eos_penalty * (~rollout.ended).float() - self.kl.beta * kl
            advantage = leave_one_out(reward.view(per, k)).view(-1)
            advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
        stats: dict[str, list[float]] = {"clip_fraction": [], "approx_kl": [], "entropy": [], "policy_loss": []}
        n = len(asked)
        for _ in range(c.epochs):
            for idx in torch.randperm(n, generator=self.generator).split(c.minibatch_size):
                sub = Rollout(rollout.ids[idx], rollout.attention_mask[idx], rollout.prompt_len, mask[idx],
                              rollout.ended[idx])  # fmt: skip
                m = mask[idx]
                logp, entropy, _ = forward(self.policy, sub, c.temperature)
                log_ratio = (logp - old_logp[idx]) * m
                ratio = log_ratio.exp()
                adv = advantage[idx][:, None]
                loss = masked_mean(torch.max(-adv * ratio, -adv * ratio.clamp(1 - c.clip, 1 + c.clip)), m)
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.policy.parameters(), c.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    stats["clip_fraction"].append(float(masked_mean(((ratio - 1).abs() > c.clip).float(), m)))
                    stats["approx_kl"].append(float(masked_mean((ratio - 1) - log_ratio, m)))
                    stats["entropy"].append(float(masked_mean(entropy, m)))
                    stats["policy_loss"].append(float(loss))
        beta = self.kl.beta
        self.kl.update(float(kl.mean()), n)
        self.iterations += 1
        out = {
            "kl": float(kl.mean()),
            "beta": beta,
            "score": float(scores.mean()),
            "score_minus_kl": float(scores.mean()) - beta * float(kl.mean()),
            "ended": float(rollout.ended.float().mean()),
            "length": float(mask.sum(1).mean()),
            **{key: float(np.mean(v)) for key, v in stats.items()},
        }
        if gold is not None:
            out["gold"] = float(np.mean(gold(asked, decode(self.tokenizer, rollout))))
        return out
