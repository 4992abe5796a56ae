"""A reward model for text: the language model's trunk with scalar heads on the last real token.

Trained with the control side's Bradley-Terry loss (`prefrl.core.reward.bradley_terry_loss`, random-response floor
included). Each ranking of K completions of one prompt becomes C(K,2) comparisons that stay together as one batch
element, as InstructGPT does: every completion is scored once per step and the group's comparisons are averaged,
which does not overfit the way shuffling the pairs apart does. Several heads on the shared trunk form the ensemble;
each head sees its own bootstrap weighting of the groups, and each is normalised to mean 0 / std 1 on samples from
the reference policy before the heads are averaged.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from prefrl.core import ensemble
from prefrl.core import reward as core_reward
from prefrl.core.records import write_folder_atomic
from prefrl.errors import PrefrlError
from prefrl.text.config import TextRewardConfig
from prefrl.text.model import context_length
from prefrl.text.sampling import Rollout, positions


@dataclass
class Group:
    """One prompt, its ranked completions, and the comparisons among them (indices into `completions`)."""

    group_id: int
    prompt: str
    completions: list[str]
    ended: list[bool]
    comparisons: list[tuple[int, int, float]] = field(default_factory=list)  # (i, j, P(i better than j))
    item_ids: list[int] = field(default_factory=list)


class TextRewardModel(nn.Module):
    """Trunk (a causal LM) + `heads` linear heads read at each sequence's last real token."""

    def __init__(self, lm: nn.Module, config: TextRewardConfig | None = None) -> None:
        super().__init__()
        self.config = config or TextRewardConfig()
        self.trunk = lm
        width = lm.get_output_embeddings().weight.shape[1]
        gen = torch.Generator().manual_seed(self.config.seed)
        self.head = nn.Linear(width, self.config.heads)
        with torch.no_grad():
            self.head.weight.copy_(torch.randn(self.head.weight.shape, generator=gen) / math.sqrt(width))
            self.head.bias.zero_()
        self.register_buffer("out_mean", torch.zeros(self.config.heads))
        self.register_buffer("out_std", torch.ones(self.config.heads))

    @classmethod
    def from_policy(cls, lm: nn.Module, config: TextRewardConfig | None = None) -> TextRewardModel:
        """A reward model initialised from (a copy of) the policy's weights, as InstructGPT initialises from SFT."""
        return cls(copy.deepcopy(lm).requires_grad_(True), config)

    def raw(self, rollout: Rollout) -> torch.Tensor:
        """Unnormalised score of each sequence for each head: (B, heads)."""
        mask = rollout.attention_mask
        out = self.trunk(
            input_ids=rollout.ids, attention_mask=mask, position_ids=positions(mask), output_hidden_states=True
        )
        hidden = out.hidden_states[-1]  # (B, T, H)
        last = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(1)  # last real token (right padding)
        return self.head(hidden[torch.arange(len(last), device=mask.device), last].float())

    @torch.no_grad()
    def score(self, rollout: Rollout) -> torch.Tensor:
        """The reward PPO sees: each head normalised on reference samples, then averaged. (B,)."""
        return ((self.raw(rollout) - self.out_mean) / self.out_std).mean(-1)

    @torch.no_grad()
    def head_scores(self, rollout: Rollout) -> torch.Tensor:
        """Each head's normalised score, (B, heads): their spread is the ensemble's disagreement."""
        return (self.raw(rollout) - self.out_mean) / self.out_std

    @torch.no_grad()
    def normalise(self, rollouts: list[Rollout]) -> None:
        """Set each head to mean 0 / std 1 over these sequences (samples from the reference policy)."""
        mean, std = ensemble.output_stats(torch.cat([self.raw(r) for r in rollouts]).T)
        self.out_mean.copy_(mean)
        self.out_std.copy_(std)

    # persistence --------------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Trunk with save_pretrained, heads and normalisation in safetensors, config in JSON: no pickle."""

        def write(folder: Path) -> None:
            self.trunk.save_pretrained(folder / "trunk")
            save_file({k: v.contiguous() for k, v in self.head_state().items()}, str(folder / "heads.safetensors"))
            (folder / "reward_config.json").write_text(json.dumps(asdict(self.config), indent=2))

        write_folder_atomic(Path(path), write)  # replaced as a whole: a kill leaves the old model or the new one

    def head_state(self) -> dict[str, torch.Tensor]:
        return {
            "weight": self.head.weight.detach().cpu(),
            "bias": self.head.bias.detach().cpu(),
            "out_mean": self.out_mean.cpu(),
            "out_std": self.out_std.cpu(),
        }

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> TextRewardModel:
        from transformers import AutoModelForCausalLM

        path = Path(path)
        if not (path / "heads.safetensors").exists():
            raise PrefrlError(f"no reward model at {path}: train one with `prefrl text train`")
        config = TextRewardConfig(**json.loads((path / "reward_config.json").read_text()))
        lm = AutoModelForCausalLM.from_pretrained(path / "trunk", local_files_only=True)
        model = cls(lm, config)
        state = load_file(str(path / "heads.safetensors"))
        with torch.no_grad():
            model.head.weight.copy_(state["weight"])
            model.head.bias.copy_(state["bias"])
            model.out_mean.copy_(state["out_mean"])
            model.out_std.copy_(state["out_std"])
        return model.to(device)


def group_loss(raw: torch.Tensor, groups: list[Group], random_response: float) -> torch.Tensor:
    """Bradley-Terry loss per (group, head): the mean over each group's comparisons. raw (sum K, heads) -> (G, heads).

    `raw` holds the groups' completions in order, group after group.
    """
    losses, start = [], 0
    for g in groups:
        pairs = torch.tensor([(i, j) for i, j, _ in g.comparisons], device=raw.device).reshape(-1, 2) + start
        targets = torch.tensor([t for _, _, t in g.comparisons], device=raw.device, dtype=raw.dtype)
        ret_a, ret_b = raw[pairs[:, 0]], raw[pairs[:, 1]]  # (P, heads)
        losses.append(core_reward.bradley_terry_loss(ret_a, ret_b, targets[:, None], random_response).mean(0))
        start += len(g.completions)
    return torch.stack(losses)


def is_held_out(group_id: int, config: TextRewardConfig) -> bool:
    """Whether a ranking is held out for validation (all heads alike): fixed per (seed, group id)."""
    return bool(ensemble.held_out(config.seed, group_id, 1, config.val_fraction)[0])


def bootstrap_weights(train: list[Group], config: TextRewardConfig, rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Each training ranking's weight for each head: how often it came up in that head's bootstrap resample (the
    resample that makes the heads an ensemble, as the control domain's members)."""
    rows = np.arange(len(train))
    counts = np.stack([np.bincount(ensemble.bootstrap(rows, rng), minlength=len(train)) for _ in range(config.heads)])
    return {g.group_id: counts[:, i].astype(np.float32) for i, g in enumerate(train)}


def _accuracy(model: TextRewardModel, groups: list[Group], rollout_of) -> float:  # type: ignore[no-untyped-def]
    right, total = 0, 0
    with torch.no_grad():
        for start in range(0, len(groups), model.config.groups_per_batch):
            batch = groups[start : start + model.config.groups_per_batch]
            scores = model.raw(rollout_of(batch)).mean(-1)
            offset = 0
            for g in batch:
                for i, j, t in g.comparisons:
                    if t in (0.0, 1.0):
                        total += 1
                        right += int((scores[offset + i] > scores[offset + j]).item() == (t == 1.0))
                offset += len(g.completions)
    return right / total if total else float("nan")


def fit(
    model: TextRewardModel,
    tokenizer,  # type: ignore[no-untyped-def]
    groups: list[Group],
    progress: bool = False,
) -> dict[str, float]:
    """Train on all labelled groups for `epochs` passes; returns losses and train / held-out accuracy."""
    from tqdm import tqdm

    from prefrl.text.sampling import join

    c = model.config
    device = next(model.parameters()).device
    groups = [g for g in groups if g.comparisons]
    train = [g for g in groups if not is_held_out(g.group_id, c)]
    val = [g for g in groups if is_held_out(g.group_id, c)]
    if not train:
        raise PrefrlError("no labelled rankings to train the reward model on: label some completions first")

    context = context_length(model.trunk)

    def rollout_of(batch: list[Group]) -> Rollout:
        prompts = [g.prompt for g in batch for _ in g.completions]
        texts = [t for g in batch for t in g.completions]
        ended = [e for g in batch for e in g.ended]
        return join(tokenizer, prompts, texts, ended, device, context=context)

    optimizer = getattr(model, "_optimizer", None)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=c.lr)
        model._optimizer = optimizer  # warm-started across cycles, like the weights
    rng = np.random.default_rng([c.seed, len(groups)])
    resample = bootstrap_weights(train, c, np.random.default_rng([c.seed, len(groups), 1]))
    weights = {g: torch.tensor(w, device=device) for g, w in resample.items()}
    steps = math.ceil(len(train) / c.groups_per_batch) * c.epochs
    losses: list[float] = []
    model.eval()  # dropout off while training too: the score must be a function of the text alone
    bar = tqdm(total=steps, desc="reward model", disable=not progress, leave=False)
    for _ in range(c.epochs):
        order = rng.permutation(len(train))
        for start in range(0, len(order), c.groups_per_batch):
            batch = [train[i] for i in order[start : start + c.groups_per_batch]]
            per_group = group_loss(model.raw(rollout_of(batch)), batch, c.random_response)  # (G, heads)
            w = torch.stack([weights[g.group_id] for g in batch])
            loss = (per_group * w).sum() / w.sum().clamp_min(1.0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            bar.update()
    bar.close()
    return {
        "rm_loss": float(np.mean(losses[-max(1, len(losses) // c.epochs) :])),
        "rm_train_accuracy": _accuracy(model, train, rollout_of),
        "rm_val_accuracy": _accuracy(model, val, rollout_of),
        "rm_groups": len(groups),
        "rm_comparisons": sum(len(g.comparisons) for g in groups),
    }
