"""Language-model training: pretraining on the story corpus from scratch, and supervised fine-tuning (SFT) on
demonstrations. Both are the same short loop: AdamW, linear warmup then cosine decay, a held-out loss before and
after."""

from __future__ import annotations

import csv
import json
import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from prefrl.errors import PrefrlError
from prefrl.text import tasks
from prefrl.text.config import PretrainConfig, SFTConfig
from prefrl.text.model import (
    build_model,
    context_length,
    encode_documents,
    resolve_device,
    save,
    train_tokenizer,
)


def lr_at(step: int, progress: float, lr: float, warmup_steps: int, min_lr_fraction: float) -> float:
    """Linear warmup over warmup_steps, then cosine from lr down to min_lr_fraction * lr as progress goes 0 -> 1."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    cosine = 0.5 * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
    return lr * (min_lr_fraction + (1 - min_lr_fraction) * cosine)


def _optimizer(model: PreTrainedModel, lr: float, weight_decay: float) -> torch.optim.AdamW:
    # decay matrices only: decaying biases, layer norms and the embedding scale adds nothing but noise
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    rest = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


# ---------------------------------------------------------------------------------------------------------------------
# Pretraining


@torch.no_grad()
def block_loss(model: PreTrainedModel, blocks: torch.Tensor, batch_size: int = 32) -> float:
    """Mean next-token cross-entropy (nats) over packed blocks."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(blocks), batch_size):
        batch = blocks[i : i + batch_size].to(device)
        logits = model(input_ids=batch).logits[:, :-1]
        total += F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1), reduction="sum").item()
        count += batch[:, 1:].numel()
    model.train(was_training)
    return total / max(count, 1)


def plot_losses(rows: list[dict[str, float]], path: Path, title: str) -> None:
    """Train and held-out loss against step."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    steps = [r["step"] for r in rows]
    ax.plot(steps, [r["train_loss"] for r in rows], marker="o", ms=3, label="train")
    ax.plot(steps, [r["held_out_loss"] for r in rows], marker="o", ms=3, label="held-out")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def pretrain(config: PretrainConfig, out: str | Path, progress: bool = True) -> dict[str, float]:
    """Generate a corpus, train a tokenizer and a GPT on it, and write to out: the model and tokenizer (load() reads
    them), pretrain_config.json, metrics.csv (one row per evaluation) and loss_curve.png. Returns the final metrics.
    (pretrain_config.json, not config.json: that name is the model's.)"""
    if not 0 < config.held_out_fraction < 1:
        raise PrefrlError(f"held_out_fraction {config.held_out_fraction} is not in (0, 1): pass e.g. 0.05")
    device = resolve_device(config.device)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    docs = tasks.corpus(config.documents, seed=config.seed)
    n_held = max(1, round(config.held_out_fraction * len(docs)))
    train_docs, held_docs = docs[:-n_held], docs[-n_held:]
    tokenizer = train_tokenizer(train_docs, config.model.vocab_size)
    context = config.model.context
    train_blocks = encode_documents(tokenizer, train_docs, context)
    held_blocks = encode_documents(tokenizer, held_docs, context)[: config.eval_blocks]
    model = build_model(config.model, tokenizer).to(device)
    model.train()
    optimizer = _optimizer(model, config.lr, config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)

    rows: list[dict[str, float]] = []
    budget_s = config.minutes * 60
    start = time.perf_counter()
    step, tokens, recent = 0, 0, []
    # the bar counts percent of the budget: time or steps, whichever runs out first
    bar = tqdm(total=100, desc="pretrain", disable=not progress, unit="%")

    def evaluate() -> None:
        held = block_loss(model, held_blocks)
        train = sum(recent) / len(recent) if recent else float("nan")
        rows.append(
            {
                "step": step,
                "tokens": tokens,
                "train_loss": train,
                "held_out_loss": held,
                "lr": optimizer.param_groups[0]["lr"],
                "wall_time": time.perf_counter() - start,
            }
        )
        recent.clear()
        bar.set_postfix(step=step, train=f"{train:.3f}", held_out=f"{held:.3f}")

    evaluate()
    while True:
        progress_frac = max(step / config.max_steps, (time.perf_counter() - start) / budget_s)
        if progress_frac >= 1:
            break
        _set_lr(optimizer, lr_at(step, progress_frac, config.lr, config.warmup_steps, config.min_lr_fraction))
        idx = torch.randint(len(train_blocks), (config.batch_size,), generator=generator)
        batch = train_blocks[idx].to(device)
        logits = model(input_ids=batch).logits[:, :-1]
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        step += 1
        tokens += batch.numel()
        recent.append(loss.item())
        bar.update(min(100, int(100 * progress_frac)) - bar.n)
        if step % config.eval_every == 0:
            evaluate()
    if rows[-1]["step"] != step:
        evaluate()
    bar.update(100 - bar.n)
    bar.close()
    model.eval()
    settings = json.dumps(asdict(config), indent=2)
    save(model, tokenizer, out, also=lambda folder: (folder / "pretrain_config.json").write_text(settings))
    _write_csv(rows, out / "metrics.csv")
    plot_losses(rows, out / "loss_curve.png", f"pretraining ({config.model.layers}x{config.model.width})")
    final = rows[-1]
    return {
        "steps": step,
        "tokens": tokens,
        "train_loss": final["train_loss"],
        "held_out_loss_before": rows[0]["held_out_loss"],
        "held_out_loss": final["held_out_loss"],
        "wall_time": final["wall_time"],
        "tokens_per_s": tokens / max(final["wall_time"], 1e-9),
    }


def _write_csv(rows: list[dict[str, float]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# ---------------------------------------------------------------------------------------------------------------------
# Supervised fine-tuning


def sft_batch(
    tokenizer: PreTrainedTokenizerBase, pairs: list[tuple[str, str]], context: int
) -> dict[str, torch.Tensor]:
    """Right-padded input_ids, attention_mask and labels for (prompt, completion) pairs. Each row is the prompt
    encoded with the tokenizer's special tokens (as at sampling time), then the completion and eos; labels are -100
    on the prompt and the padding, so only the completion and its eos are learned. Rows are cut at context tokens."""
    rows, labels = [], []
    for prompt, completion in pairs:
        p = tokenizer(prompt)["input_ids"]
        c = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.append((p + c)[:context])
        labels.append(([-100] * len(p) + c)[:context])
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    label_ids = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (r, lab) in enumerate(zip(rows, labels)):
        input_ids[i, : len(r)] = torch.tensor(r)
        label_ids[i, : len(lab)] = torch.tensor(lab)
        mask[i, : len(r)] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": label_ids}


def _completion_loss(model: PreTrainedModel, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed next-token cross-entropy over the labelled positions, and how many there are."""
    device = next(model.parameters()).device
    labels = batch["labels"][:, 1:].to(device)
    logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)).logits
    logits = logits[:, :-1]
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=-100, reduction="sum")
    return loss, int((labels != -100).sum())


@torch.no_grad()
def completion_loss(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    pairs: list[tuple[str, str]],
    context: int,
    batch_size: int = 32,
) -> float:
    """Mean cross-entropy (nats/token) of the completions (and their eos) given their prompts."""
    if not pairs:
        return float("nan")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(pairs), batch_size):
        loss, n = _completion_loss(model, sft_batch(tokenizer, pairs[i : i + batch_size], context))
        total, count = total + loss.item(), count + n
    model.train(was_training)
    return total / max(count, 1)


def sft(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    pairs: list[tuple[str, str]],
    config: SFTConfig,
    progress: bool = True,
) -> dict[str, float]:
    """Fine-tune model in place on demonstrations, scoring a held-out split before and after. Returns train_loss
    (mean over the last 20 steps), held_out_loss_before, held_out_loss, steps and wall_time. Leaves the model in
    eval mode."""
    if len(pairs) < 2:
        raise PrefrlError(f"SFT needs at least 2 demonstrations, got {len(pairs)}: generate more")
    if not 0 <= config.held_out_fraction < 1:
        raise PrefrlError(f"held_out_fraction {config.held_out_fraction} is not in [0, 1): pass e.g. 0.1")
    context = config.context or context_length(model)
    shuffled = list(pairs)
    random.Random(config.seed).shuffle(shuffled)
    n_held = round(config.held_out_fraction * len(shuffled))
    n_held = min(max(n_held, 1 if config.held_out_fraction > 0 else 0), len(shuffled) - 1)
    held, train = shuffled[:n_held], shuffled[n_held:]
    steps = max(1, math.ceil(config.epochs * len(train) / config.batch_size))
    if config.max_steps is not None:
        steps = min(steps, config.max_steps)

    start = time.perf_counter()
    before = completion_loss(model, tokenizer, held, context)
    torch.manual_seed(config.seed)
    model.train()
    optimizer = _optimizer(model, config.lr, config.weight_decay)
    order_rng = random.Random(config.seed + 1)
    order: list[tuple[str, str]] = []
    losses: list[float] = []
    for step in tqdm(range(steps), desc="sft", disable=not progress, unit="step"):
        if len(order) < config.batch_size:  # a fresh shuffled pass whenever the current one runs out
            order += order_rng.sample(train, len(train))
        chunk, order = order[: config.batch_size], order[config.batch_size :]
        _set_lr(optimizer, lr_at(step, step / steps, config.lr, config.warmup_steps, config.min_lr_fraction))
        loss_sum, n = _completion_loss(model, sft_batch(tokenizer, chunk, context))
        loss = loss_sum / max(n, 1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    after = completion_loss(model, tokenizer, held, context)
    tail = losses[-20:]
    return {
        "steps": steps,
        "train_loss": sum(tail) / len(tail),
        "held_out_loss_before": before,
        "held_out_loss": after,
        "wall_time": time.perf_counter() - start,
    }
