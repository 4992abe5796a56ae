"""Sampling and PPO throughput of the text module for a few model sizes, on CPU or a CUDA GPU.

Speed does not depend on what the weights have learned, only on shapes, so the models here are freshly initialised
(no pretraining needed): every completion runs to max_new_tokens, the worst case. The tokenizer is trained on a
small generated corpus, as `prefrl text pretrain` does.

    python benchmarks/text_throughput.py --device cpu --sizes small
    python benchmarks/text_throughput.py --device cuda --sizes small medium large --tf32 --out results.json

Prints one JSON object per (size, precision) and writes them all to --out.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from text_frontier import throughput

from prefrl.errors import PrefrlError
from prefrl.text import model as lm
from prefrl.text import tasks
from prefrl.text.config import ModelConfig, TextPPOConfig
from prefrl.text.reward_model import TextRewardModel

SIZES = {
    "small": ModelConfig(),  # the default: 4 layers, 128 wide, 128 context (~0.8M parameters + embeddings)
    "medium": ModelConfig(layers=8, width=512, heads=8, context=256),
    "large": ModelConfig(layers=12, width=768, heads=12, context=256),  # GPT-2 small's shape
}


def measure(size: str, device: torch.device, batch: int, max_new_tokens: int, tokenizer) -> dict:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    policy = lm.build_model(SIZES[size], tokenizer).to(device).eval()
    reference = copy.deepcopy(policy).requires_grad_(False)
    reward = TextRewardModel.from_policy(policy).to(device).eval()
    config = replace(TextPPOConfig(), batch_size=batch, minibatch_size=min(16, batch), max_new_tokens=max_new_tokens)
    prompts = tasks.prompts(batch, seed=0)
    start = time.perf_counter()
    out = throughput(policy, reference, reward, tokenizer, prompts, config)
    params = sum(p.numel() for p in policy.parameters())
    return {"size": size, "parameters": params, **out, "seconds_total": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: %(default)s)")
    parser.add_argument("--sizes", nargs="+", default=["small"], choices=sorted(SIZES))
    parser.add_argument("--batch", type=int, default=64, help="prompts per batch (default: %(default)s)")
    parser.add_argument("--max-new-tokens", type=int, default=96, help="(default: %(default)s)")
    parser.add_argument("--tf32", action="store_true", help="also measure with TF32 matmuls (CUDA)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")
    parser.add_argument("--out", type=Path, help="write the results here as a JSON list")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        device = lm.resolve_device(args.device)
    except PrefrlError as e:
        raise SystemExit(f"text_throughput: {e}") from None
    tokenizer = lm.train_tokenizer(tasks.corpus(2000, seed=0), ModelConfig().vocab_size)
    precisions = ["fp32", "tf32"] if args.tf32 and device.type == "cuda" else ["fp32"]
    results = []
    for size in args.sizes:
        for precision in precisions:
            torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
            torch.backends.cudnn.allow_tf32 = precision == "tf32"
            row = {"precision": precision, **measure(size, device, args.batch, args.max_new_tokens, tokenizer)}
            if device.type == "cuda":
                row["gpu"] = torch.cuda.get_device_name(device)
                row["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
                torch.cuda.reset_peak_memory_stats(device)
            print(json.dumps(row), flush=True)
            results.append(row)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
