"""Token-level PPO for a language model, with a per-token KL penalty toward the frozen initial model.

Each completion is an episode; each token an action. The reward of token t is -beta * (log pi - log pi_ref), and the
reward model's score of the whole completion is added at its last token, less a penalty when no end token came
(a cut-off completion is never scored as if it were whole). GAE with gamma 1, lambda 0.95; whitened advantages;
clipping 0.2 for both policy and value; 4 epochs per batch (Ziegler et al. 2019; Stiennon et al. 2020). The value
head is a zero-initialised linear layer on the policy's own trunk.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from prefrl.text.config import TextPPOConfig
from prefrl.text.sampling import Rollout, decode, forward, generate


class KLController:
    """beta <- beta * (1 + clip(KL/target - 1, -0.2, 0.2) * n/horizon): proportional control of the KL."""

    def __init__(self, config: TextPPOConfig) -> None:
        self.config = config
        self.beta = config.kl_coef

    def update(self, kl: float, n: int) -> None:
        if self.config.adaptive_kl:
            error = float(np.clip(kl / self.config.kl_target - 1.0, -0.2, 0.2))
            self.beta *= 1.0 + error * n / self.config.kl_horizon


class ValueHead(nn.Module):
    """A scalar per position on the policy's last hidden state, zero-initialised (values start at 0)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.linear(hidden.float())[..., 0]


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """Generalised advantage estimates over completion columns; values past the last valid token count as 0."""
    advantages = torch.zeros_like(rewards)
    last = torch.zeros(rewards.shape[0], device=rewards.device)
    for t in range(rewards.shape[1] - 1, -1, -1):
        next_value = values[:, t + 1] * mask[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = (delta + gamma * lam * last) * mask[:, t]
        advantages[:, t] = last
    return advantages


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum() / mask.sum().clamp_min(1.0)


def whiten(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    return (x - mean) * torch.rsqrt(var + 1e-8) * mask


class PolicyOptimiser:
    """What PPO, RLOO and DPO share: a trainable policy, a frozen reference, Adam over the trained parameters, the KL
    measure and a seeded sampler."""

    def __init__(
        self,
        policy: nn.Module,
        reference: nn.Module,
        tokenizer,  # type: ignore[no-untyped-def]
        config: TextPPOConfig | None = None,
        seed: int = 0,
        extra: list[nn.Parameter] | None = None,
    ) -> None:
        """`extra`: parameters trained beside the policy's (PPO's value head)."""
        self.policy = policy.requires_grad_(True)  # a copy of a frozen reference would otherwise never learn
        self.reference = reference.eval()
        for p in self.reference.parameters():
            p.requires_grad_(False)
        self.tokenizer = tokenizer
        self.config = config or TextPPOConfig()
        self.optimizer = torch.optim.Adam(list(policy.parameters()) + (extra or []), lr=self.config.lr, eps=1e-5)
        self.kl = KLController(self.config)
        self.generator = torch.Generator().manual_seed(seed)
        self.iterations = 0

    def rollout(self, prompts: list[str]) -> Rollout:
        self.policy.eval()  # dropout off: sampling and scoring see the same function
        return generate(
            self.policy,
            self.tokenizer,
            prompts,
            self.config.max_new_tokens,
            self.config.temperature,
            self.generator,
        )


class TextPPO(PolicyOptimiser):
    """One policy (LM + value head), one frozen reference, one reward function of whole rollouts."""

    def __init__(
        self,
        policy: nn.Module,
        reference: nn.Module,
        tokenizer,  # type: ignore[no-untyped-def]
        config: TextPPOConfig | None = None,
        seed: int = 0,
    ) -> None:
        width = policy.get_output_embeddings().weight.shape[1]
        self.value_head = ValueHead(width).to(next(policy.parameters()).device)
        super().__init__(policy, reference, tokenizer, config, seed, extra=list(self.value_head.parameters()))

    def step(
        self,
        prompts: list[str],
        score: Callable[[Rollout], torch.Tensor],
        gold: Callable[[list[str], list[str]], list[float]] | None = None,
    ) -> dict[str, float]:
        """Sample a batch, score it, and update the policy; `gold` (the hidden oracle) is only logged."""
        c = self.config
        rollout = self.rollout(prompts)
        mask = rollout.completion_mask
        with torch.no_grad():
            old_logp, _, hidden = forward(self.policy, rollout, c.temperature)
            old_values = self.value_head(hidden) * mask
            ref_logp, _, _ = forward(self.reference, rollout, c.temperature)
            scores = score(rollout).float()
            kl_tokens = (old_logp - ref_logp) * mask
            rewards = -self.kl.beta * kl_tokens
            last = (mask.sum(1) - 1).clamp(min=0).long()
            final = scores + c.no_eos_penalty * (~rollout.ended).float()
            rewards[torch.arange(len(last)), last] += final
            advantages = gae(rewards, old_values, mask, c.gamma, c.lam)
            returns = advantages + old_values
            advantages = whiten(advantages, mask)

        stats: dict[str, list[float]] = {"clip_fraction": [], "approx_kl": [], "entropy": [], "policy_loss": [],
                                         "value_loss": []}  # fmt: skip
        n = len(prompts)
        for _ in range(c.epochs):
            for idx in torch.randperm(n, generator=self.generator).split(c.minibatch_size):
                sub = Rollout(
                    rollout.ids[idx], rollout.attention_mask[idx], rollout.prompt_len, mask[idx], rollout.ended[idx]
                )
                m = mask[idx]
                logp, entropy, hidden = forward(self.policy, sub, c.temperature)
                values = self.value_head(hidden)
                log_ratio = (logp - old_logp[idx]) * m
                ratio = log_ratio.exp()
                adv = advantages[idx]
                pg = torch.max(-adv * ratio, -adv * ratio.clamp(1 - c.clip, 1 + c.clip))
                policy_loss = masked_mean(pg, m)
                v_clipped = old_values[idx] + (values - old_values[idx]).clamp(-c.value_clip, c.value_clip)
                vf = torch.max((values - returns[idx]) ** 2, (v_clipped - returns[idx]) ** 2)
                value_loss = 0.5 * masked_mean(vf, m)
                loss = policy_loss + c.vf_coef * value_loss
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(
                    list(self.policy.parameters()) + list(self.value_head.parameters()), c.max_grad_norm
                )
                self.optimizer.step()
                with torch.no_grad():
                    stats["clip_fraction"].append(float(masked_mean(((ratio - 1).abs() > c.clip).float(), m)))
                    stats["approx_kl"].append(float(masked_mean((ratio - 1) - log_ratio, m)))
                    stats["entropy"].append(float(masked_mean(entropy, m)))
                    stats["policy_loss"].append(float(policy_loss))
                    stats["value_loss"].append(float(value_loss))

        kl_per_seq = float(kl_tokens.sum(1).mean())
        beta = self.kl.beta
        self.kl.update(kl_per_seq, n)
        self.iterations += 1
        valid = mask.bool()
        explained = 1.0 - float((returns - old_values)[valid].var() / returns[valid].var().clamp_min(1e-8))
        out = {
            "kl": kl_per_seq,
            "beta": beta,
            "score": float(scores.mean()),
            "score_minus_kl": float(scores.mean()) - beta * kl_per_seq,
            "explained_variance": explained,
            "ended": float(rollout.ended.float().mean()),
            "length": float(mask.sum(1).mean()),
            **{k: float(np.mean(v)) for k, v in stats.items()},
        }
        if gold is not None:
            out["gold"] = float(np.mean(gold(prompts, decode(self.tokenizer, rollout))))
        return out
