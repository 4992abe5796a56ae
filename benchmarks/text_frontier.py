"""Gold score against KL: PPO at several fixed KL penalties, next to best-of-N sampling, on one text run's models.

Both methods optimise the same proxy (the run's reward model) starting from the same reference policy (its SFT
model), and both are judged by the hidden oracle (gold). Best-of-N draws N completions per prompt and keeps the one
the reward model scores highest; its KL to the reference is log N - (N-1)/N (Stiennon et al., 2020). Also measures
CPU (or GPU) throughput of sampling and of a PPO step.

    python benchmarks/text_frontier.py --run benchmarks/work/text/default --out benchmarks/results/text

Writes frontier.csv, frontier.png and throughput.json under --out.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import os
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch

from prefrl.core.records import append_row, read_json
from prefrl.overrides import override_type
from prefrl.text import model as lm
from prefrl.text import tasks
from prefrl.text.config import TextPPOConfig, TextTrainConfig
from prefrl.text.ppo import TextPPO
from prefrl.text.reward_model import TextRewardModel
from prefrl.text.sampling import Rollout, decode, forward, generate

FIELDS = ["method", "setting", "iteration", "kl", "gold", "proxy", "wall_time"]


def evaluate(policy, reference, reward, tokenizer, oracle, prompts, config: TextPPOConfig, seed: int) -> dict:  # type: ignore[no-untyped-def]
    """KL to the reference (nats per completion), mean gold and mean proxy of fresh samples on fixed prompts."""
    r = generate(policy, tokenizer, prompts, config.max_new_tokens, config.temperature,
                 torch.Generator().manual_seed(seed))  # fmt: skip
    with torch.no_grad():
        logp, _, _ = forward(policy, r, config.temperature)
        ref, _, _ = forward(reference, r, config.temperature)
    kl = float(((logp - ref) * r.completion_mask).sum(1).mean())
    texts = decode(tokenizer, r)
    gold = float(np.mean([oracle.score(p, t) for p, t in zip(prompts, texts)]))
    proxy = float((reward.score(r) + config.no_eos_penalty * (~r.ended).float()).mean())
    return {"kl": kl, "gold": gold, "proxy": proxy}


def best_of_n(
    reference, reward, tokenizer, oracle, prompts, ns: list[int], config: TextPPOConfig, seed: int
) -> list[dict]:  # type: ignore[no-untyped-def]
    """Gold and proxy of the proxy-best of the first N samples per prompt, for each N."""
    gen = torch.Generator().manual_seed(seed)
    proxy, gold = [], []
    for _ in range(max(ns)):
        r: Rollout = generate(reference, tokenizer, prompts, config.max_new_tokens, config.temperature, gen)
        proxy.append((reward.score(r) + config.no_eos_penalty * (~r.ended).float()).numpy())
        gold.append([oracle.score(p, t) for p, t in zip(prompts, decode(tokenizer, r))])
    proxy_a, gold_a = np.array(proxy), np.array(gold)  # (Nmax, prompts)
    rows = []
    for n in ns:
        best = proxy_a[:n].argmax(0)
        cols = np.arange(len(prompts))
        rows.append({
            "method": "best-of-N", "setting": n, "iteration": 0, "kl": math.log(n) - (n - 1) / n,
            "gold": float(gold_a[best, cols].mean()), "proxy": float(proxy_a[best, cols].mean()),
        })  # fmt: skip
    return rows


def throughput(policy, reference, reward, tokenizer, prompts, config: TextPPOConfig) -> dict:  # type: ignore[no-untyped-def]
    """Generated tokens per second, and seconds and tokens per second of one PPO iteration (sampling included).
    Each is timed after a warm-up call, so a GPU's start-up (kernels, cuBLAS handles) is not counted."""
    device = next(policy.parameters()).device

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    generate(policy, tokenizer, prompts[:4], 8, config.temperature, torch.Generator().manual_seed(1))  # warm-up
    gen = torch.Generator().manual_seed(0)
    sync()
    start = time.perf_counter()
    r = generate(policy, tokenizer, prompts, config.max_new_tokens, config.temperature, gen)
    sync()
    sample_s = time.perf_counter() - start
    tokens = int(r.completion_mask.sum())
    ppo = TextPPO(copy.deepcopy(policy), reference, tokenizer, config, seed=0)
    ppo.step(prompts, reward.score)  # warm-up
    sync()
    start = time.perf_counter()
    stats = ppo.step(prompts, reward.score)
    sync()
    step_s = time.perf_counter() - start
    return {
        "batch": len(prompts),
        "max_new_tokens": config.max_new_tokens,
        "sampling_tokens_per_s": tokens / sample_s,
        "ppo_step_s": step_s,
        "ppo_tokens_per_s": stats["length"] * len(prompts) / step_s,
        "ppo_epochs": config.epochs,
        "threads": torch.get_num_threads(),
        "device": str(next(policy.parameters()).device),
    }


def plot(rows: list[dict], path: Path) -> None:
    """Gold and proxy against KL, and gold against proxy: Gao et al. (2022) found KL a poor common axis for BoN and
    RL (RL spends more KL for the same gain) but the proxy-to-gold relation similar for both, so the third panel is
    the like-for-like comparison of how much of the proxy gain is real."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.5))
    bon = [r for r in rows if r["method"] == "best-of-N"]
    betas = sorted({float(r["setting"]) for r in rows if r["method"] == "ppo"}, reverse=True)
    panels = (("kl", "gold"), ("kl", "proxy"), ("proxy", "gold"))
    for ax, (x, y) in zip(axes, panels):
        ax.plot([r[x] for r in bon], [r[y] for r in bon], "k--o", label="best-of-N (N = 1, 2, 4, ...)")
        for beta in betas:
            run = [r for r in rows if r["method"] == "ppo" and float(r["setting"]) == beta]
            ax.plot([r[x] for r in run], [r[y] for r in run], "-o", ms=3, label=f"PPO, beta = {beta:g}")
        if x == "kl":
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_xlabel("KL to the SFT policy (nats per completion)")
        else:
            ax.set_xlabel("proxy score (reward model)")
        ax.set_ylabel(f"{y} score")
    axes[0].set_title("gold (hidden oracle) against KL")
    axes[1].set_title("proxy (what is optimised) against KL")
    axes[2].set_title("gold against proxy")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="a finished `prefrl text train` run folder")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/text"))
    parser.add_argument("--betas", type=float, nargs="+", default=[0.3, 0.1, 0.03, 0.01])
    parser.add_argument("--iterations", type=int, default=30, help="PPO iterations per beta")
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--bon", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--prompts", type=int, default=64, help="evaluation prompts")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--ppo", type=override_type(TextPPOConfig), action="append", default=[], metavar="KEY=VALUE",
                        help="PPO setting for every beta, e.g. --ppo lr=5e-5 --ppo lam=1 (repeatable)")  # fmt: skip
    parser.add_argument("--plot-only", action="store_true", help="redraw frontier.png from --out's frontier.csv")
    args = parser.parse_args()
    if args.plot_only:
        with (args.out / "frontier.csv").open() as f:
            rows = [{**r, "kl": float(r["kl"]), "gold": float(r["gold"]), "proxy": float(r["proxy"])}
                    for r in csv.DictReader(f)]  # fmt: skip
        plot(rows, args.out / "frontier.png")
        return
    if args.run is None:
        parser.error("--run is required: a finished `prefrl text train` run folder")
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TextTrainConfig.from_dict(read_json(args.run / "config.json"))
    oracle = tasks.make_oracle(config.oracle)
    reference, tokenizer = lm.load(args.run / "sft", args.device)
    reward = TextRewardModel.load(args.run / "reward_model", args.device)
    prompts = tasks.prompts(args.prompts, seed=4242)
    pool = tasks.prompts(config.ppo.batch_size * args.iterations, seed=4243)
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / "frontier.csv"
    csv_path.unlink(missing_ok=True)
    started = time.time()

    speed = throughput(reference, reference, reward, tokenizer, pool[: config.ppo.batch_size], config.ppo)
    (args.out / "throughput.json").write_text(json.dumps(speed, indent=2))
    print(json.dumps(speed, indent=2))

    rows = best_of_n(reference, reward, tokenizer, oracle, prompts, args.bon, config.ppo, seed=1)
    for r in rows:
        append_row(csv_path, FIELDS, {**r, "wall_time": time.time() - started})
        print(f"best-of-{r['setting']}: KL {r['kl']:.2f}  gold {r['gold']:+.3f}  proxy {r['proxy']:+.3f}")
    for beta in args.betas:
        ppo_config = replace(config.ppo, **dict(args.ppo), kl_coef=beta, adaptive_kl=False)
        ppo = TextPPO(copy.deepcopy(reference), reference, tokenizer, ppo_config, seed=0)
        for it in range(args.iterations + 1):
            if it % args.eval_every == 0:
                e = evaluate(ppo.policy, reference, reward, tokenizer, oracle, prompts, ppo_config, seed=7)
                row = {"method": "ppo", "setting": beta, "iteration": it, **e, "wall_time": time.time() - started}
                rows.append(row)
                append_row(csv_path, FIELDS, row)
                print(f"PPO beta {beta:g} it {it}: KL {e['kl']:.2f}  gold {e['gold']:+.3f}  proxy {e['proxy']:+.3f}")
            if it < args.iterations:
                batch = pool[it * ppo_config.batch_size : (it + 1) * ppo_config.batch_size]
                ppo.step(batch, reward.score)
    plot(rows, args.out / "frontier.png")
    print(f"wrote {csv_path}, {args.out / 'frontier.png'}, {args.out / 'throughput.json'}")


if __name__ == "__main__":
    main()
