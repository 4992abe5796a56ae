"""DPO (Rafailov et al., 2023): the policy trained straight from the label store's comparisons against the frozen
SFT reference, with no reward model and no sampling in the update:

    loss = -log sigmoid(beta * ((log pi(w) - log ref(w)) - (log pi(l) - log ref(l))))

for each labelled pair of completions of one prompt, w preferred over l (ties are left out). The offline baseline
beside PPO and RLOO on the same labels: each `step` makes one pass over a minibatch of them, and samples the policy
only to report the same metrics (KL to the reference, the reward model's score, gold).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from prefrl.text.config import TextPPOConfig
from prefrl.text.ppo import PolicyOptimiser
from prefrl.text.sampling import Rollout, decode, forward, join


def dpo_loss(
    policy_w: torch.Tensor, policy_l: torch.Tensor, ref_w: torch.Tensor, ref_l: torch.Tensor, beta: float
) -> torch.Tensor:
    """Per-pair DPO loss from sequence log-probabilities of the preferred (w) and the other (l) completion."""
    return -F.logsigmoid(beta * ((policy_w - ref_w) - (policy_l - ref_l)))


@dataclass
class Preference:
    prompt: str
    chosen: str
    rejected: str
    chosen_ended: bool = True
    rejected_ended: bool = True


class TextDPO(PolicyOptimiser):
    """One policy, one frozen reference, the store's comparisons; `step` as TextPPO's (its KL controller is never
    updated: DPO's beta is fixed)."""

    def __init__(
        self,
        policy: nn.Module,
        reference: nn.Module,
        tokenizer,  # type: ignore[no-untyped-def]
        config: TextPPOConfig | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(policy, reference, tokenizer, config, seed)
        self.rng = np.random.default_rng(seed)
        self.pairs: list[Preference] = []

    def set_preferences(self, pairs: list[Preference]) -> None:
        """The labelled pairs to learn from (all the store's decided comparisons so far)."""
        self.pairs = pairs

    def _logp(self, model: nn.Module, batch: list[Preference], chosen: bool) -> torch.Tensor:
        device = next(model.parameters()).device
        texts = [p.chosen if chosen else p.rejected for p in batch]
        ended = [p.chosen_ended if chosen else p.rejected_ended for p in batch]
        r = join(self.tokenizer, [p.prompt for p in batch], texts, ended, device)
        logp, _, _ = forward(model, r, self.config.temperature)
        return (logp * r.completion_mask).sum(1)

    def step(
        self,
        prompts: list[str],
        score: Callable[[Rollout], torch.Tensor],
        gold: Callable[[list[str], list[str]], list[float]] | None = None,
    ) -> dict[str, float]:
        """One pass over a minibatch of the labelled pairs for each `epochs`, then a sample for the metrics."""
        c = self.config
        losses, margins = [], []
        if self.pairs:
            self.policy.train()
            for _ in range(c.epochs):
                chosen = self.rng.choice(len(self.pairs), size=min(c.batch_size, len(self.pairs)), replace=False)
                for start in range(0, len(chosen), c.minibatch_size):
                    batch = [self.pairs[i] for i in chosen[start : start + c.minibatch_size]]
                    with torch.no_grad():
                        ref_w, ref_l = self._logp(self.reference, batch, True), self._logp(self.reference, batch, False)
                    pol_w, pol_l = self._logp(self.policy, batch, True), self._logp(self.policy, batch, False)
                    loss = dpo_loss(pol_w, pol_l, ref_w, ref_l, c.dpo_beta).mean()
                    self.optimizer.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(self.policy.parameters(), c.max_grad_norm)
                    self.optimizer.step()
                    losses.append(float(loss.detach()))
                    margins.append(float(((pol_w - ref_w) - (pol_l - ref_l)).mean().detach()))
        rollout = self.rollout(prompts)
        mask = rollout.completion_mask
        with torch.no_grad():
            logp, entropy, _ = forward(self.policy, rollout, c.temperature)
            ref_logp, _, _ = forward(self.reference, rollout, c.temperature)
            kl = float(((logp - ref_logp) * mask).sum(1).mean())
            scores = score(rollout).float()
        self.iterations += 1
        out = {
            "kl": kl,
            "beta": c.dpo_beta,
            "score": float(scores.mean()),
            "score_minus_kl": float(scores.mean()) - c.dpo_beta * kl,
            "ended": float(rollout.ended.float().mean()),
            "length": float(mask.sum(1).mean()),
            "entropy": float((entropy * mask).sum() / mask.sum().clamp_min(1.0)),
            "policy_loss": float(np.mean(losses)) if losses else float("nan"),
            "dpo_margin": float(np.mean(margins)) if margins else float("nan"),
        }
        if gold is not None:
            out["gold"] = float(np.mean(gold(prompts, decode(self.tokenizer, rollout))))
        return out
