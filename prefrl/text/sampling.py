"""Sampling completions with the KV cache, and scoring them token by token.

Prompts are left-padded so that every completion starts at the same column: one forward pass over the prompts fills
the cache, then each new token costs one step. Positions come from the attention mask, so padding never shifts a
sequence. The same layout serves PPO, the reward model and the label store.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from prefrl.errors import PrefrlError


@dataclass
class Rollout:
    """Prompts and sampled completions, as one left-padded token matrix.

    `ids[:, :prompt_len]` are the prompts (left-padded), `ids[:, prompt_len:]` the completions (right-padded).
    `completion_mask` marks the sampled tokens, the end token included; `ended` says whether the end token came.
    """

    ids: torch.Tensor  # (B, T) long
    attention_mask: torch.Tensor  # (B, T) long
    prompt_len: int
    completion_mask: torch.Tensor  # (B, T - prompt_len) float
    ended: torch.Tensor  # (B,) bool

    @property
    def completion_ids(self) -> torch.Tensor:
        return self.ids[:, self.prompt_len :]

    def to(self, device: str | torch.device) -> Rollout:
        return Rollout(
            self.ids.to(device),
            self.attention_mask.to(device),
            self.prompt_len,
            self.completion_mask.to(device),
            self.ended.to(device),
        )


def positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on each row's first real token (so left padding changes nothing)."""
    return (attention_mask.cumsum(-1) - 1).clamp(min=0)


def encode_prompts(
    tokenizer, prompts: list[str], device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[no-untyped-def]
    """Left-padded token ids and their attention mask. Prompts are encoded with the tokenizer's own special tokens
    (our tokenizer adds its begin token), exactly as SFT encodes them."""
    rows = [tokenizer(p)["input_ids"] for p in prompts]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r)
        mask[i, width - len(r) :] = 1
    return ids.to(device), mask.to(device)


def join(
    tokenizer,  # type: ignore[no-untyped-def]
    prompts: list[str],
    completions: list[str],
    ended: list[bool],
    device: str | torch.device = "cpu",
    context: int | None = None,
) -> Rollout:
    """Rebuild a Rollout from text (for items read back from the store): the end token follows ended completions.
    With `context`, completions are cut to fit the model's context after the prompts (text does not always encode
    back to the tokens it was sampled as)."""
    ids, mask = encode_prompts(tokenizer, prompts, device)
    rows = [
        tokenizer.encode(c, add_special_tokens=False) + ([tokenizer.eos_token_id] if e else [])
        for c, e in zip(completions, ended)
    ]
    if context is not None:
        rows = [r[: max(0, context - ids.shape[1])] for r in rows]
    width = max(1, max(len(r) for r in rows))
    comp = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    cmask = torch.zeros((len(rows), width))
    for i, r in enumerate(rows):
        if r:
            comp[i, : len(r)] = torch.tensor(r)
            cmask[i, : len(r)] = 1
    comp, cmask = comp.to(device), cmask.to(device)
    return Rollout(
        torch.cat([ids, comp], 1),
        torch.cat([mask, cmask.long()], 1),
        ids.shape[1],
        cmask,
        torch.tensor(ended, dtype=torch.bool, device=device),
    )


@torch.no_grad()
def generate(
    model,  # type: ignore[no-untyped-def]
    tokenizer,  # type: ignore[no-untyped-def]
    prompts: list[str],
    max_new_tokens: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> Rollout:
    """Sample one completion per prompt, stopping each row at the end token, with the KV cache.

    Rows that have ended leave the batch (their cache rows too), so the remaining steps cost only what the rows
    still writing need: story lengths vary, and stepping finished rows until the longest ended wasted ~40%.
    """
    device = next(model.parameters()).device
    ids, mask = encode_prompts(tokenizer, prompts, device)
    context = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
    if context and ids.shape[1] + max_new_tokens > context:
        raise PrefrlError(
            f"a prompt of {ids.shape[1]} tokens plus {max_new_tokens} new tokens exceeds the model's context of "
            f"{context}: lower --max-new-tokens"
        )
    batch = ids.shape[0]
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    comp = torch.full((batch, max_new_tokens), pad, dtype=torch.long, device=device)
    cmask = torch.zeros((batch, max_new_tokens), device=device)
    ended = torch.zeros(batch, dtype=torch.bool, device=device)
    rows = torch.arange(batch, device=device)  # the original rows still writing, in cache order
    active_mask = mask
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions(mask), use_cache=True)
    pos = positions(mask)[:, -1:]
    width = 0
    for step in range(max_new_tokens):
        logits = out.logits[:, -1].float() / max(temperature, 1e-6)
        probs = F.softmax(logits, -1)
        nxt = torch.multinomial(probs.cpu() if generator is not None else probs, 1, generator=generator)[:, 0]
        nxt = nxt.to(device)
        comp[rows, step] = nxt
        cmask[rows, step] = 1.0
        width = step + 1
        finished = nxt == eos
        ended[rows[finished]] = True
        if bool(finished.all()):
            break
        if bool(finished.any()):
            keep = (~finished).nonzero()[:, 0]
            out.cache.batch_select_indices(keep)
            rows, nxt, pos, active_mask = rows[keep], nxt[keep], pos[keep], active_mask[keep]
        active_mask = torch.cat([active_mask, torch.ones_like(active_mask[:, :1])], 1)
        pos = pos + 1
        out = model(
            input_ids=nxt[:, None], attention_mask=active_mask, position_ids=pos, cache=out.cache, use_cache=True
        )
    comp, cmask = comp[:, :width], cmask[:, :width]
    full_mask = torch.cat([mask, cmask.long()], 1)
    return Rollout(torch.cat([ids, comp], 1), full_mask, ids.shape[1], cmask, ended)


def decode(tokenizer, rollout: Rollout) -> list[str]:  # type: ignore[no-untyped-def]
    """Completion texts, without the end token or padding."""
    texts = []
    for row, m in zip(rollout.completion_ids, rollout.completion_mask):
        toks = [t for t, v in zip(row.tolist(), m.tolist()) if v and t != tokenizer.eos_token_id]
        texts.append(tokenizer.decode(toks, skip_special_tokens=True))
    return texts


def forward(model, rollout: Rollout, temperature: float = 1.0):  # type: ignore[no-untyped-def]
    """Log-probabilities of the completion tokens (at the sampling temperature), entropy, and the last hidden states.

    Returns (logprobs, entropy, hidden), each aligned with the completion columns: (B, C), (B, C), (B, C, H).
    """
    out = model(
        input_ids=rollout.ids,
        attention_mask=rollout.attention_mask,
        position_ids=positions(rollout.attention_mask),
        output_hidden_states=True,
    )
    p = rollout.prompt_len
    logits = out.logits[:, p - 1 : -1].float() / max(temperature, 1e-6)
    logp_all = F.log_softmax(logits, -1)
    logprobs = logp_all.gather(-1, rollout.completion_ids[..., None])[..., 0]
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    hidden = out.hidden_states[-1][:, p - 1 : -1]
    return logprobs, entropy, hidden
