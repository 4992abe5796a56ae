r"""Gold score against KL for every optimiser on the same labels: best-of-N sampling, PPO, RLOO and DPO, started from
one text run's SFT model and judged by its task's hidden oracle (gold).

Best-of-N, PPO and RLOO optimise the same proxy (the run's final reward model); DPO learns from the run's labelled
comparisons themselves. Best-of-N draws N completions per prompt and keeps the one the reward model scores highest;
its KL to the reference is log N - (N-1)/N (Stiennon et al., 2020). Each other arm is METHOD:KEY=VALUE,... over
TextPPOConfig's fields (kl_coef is PPO's and RLOO's fixed beta, dpo_beta DPO's). Also measures CPU (or GPU)
throughput of sampling and of a PPO step. Arms already in --out's frontier.csv are kept, so an interrupted or
extended run does only what is missing.

    python benchmarks/text_frontier.py --run benchmarks/work/text/story --out benchmarks/results/text-frontier/story \
        --arms ppo:kl_coef=0.1 ppo:kl_coef=0.03 rloo:kl_coef=0.03 dpo:dpo_beta=0.1

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
from prefrl.core.store import LabelStore
from prefrl.errors import PrefrlError
from prefrl.overrides import override_type
from prefrl.text import model as lm
from prefrl.text.config import TextPPOConfig, TextTrainConfig
from prefrl.text.ppo import TextPPO
from prefrl.text.reward_model import TextRewardModel
from prefrl.text.sampling import Rollout, decode, forward, generate
from prefrl.text.task import TextTask, task_from_files
from prefrl.text.trainer import OPTIMISERS, labelled_groups, preferences
from prefrl.user_code import check_named_again

FIELDS = ["method", "setting", "iteration", "kl", "gold", "proxy", "wall_time"]


def evaluate(policy, reference, reward, tokenizer, task: TextTask, prompts, config: TextPPOConfig, seed: int) -> dict:  # type: ignore[no-untyped-def]
    """KL to the reference (nats per completion), mean gold and mean proxy of fresh samples on fixed prompts."""
    r = generate(policy, tokenizer, prompts, config.max_new_tokens, config.temperature,
                 torch.Generator().manual_seed(seed))  # fmt: skip
    with torch.no_grad():
        logp, _, _ = forward(policy, r, config.temperature)
        ref, _, _ = forward(reference, r, config.temperature)
    kl = float(((logp - ref) * r.completion_mask).sum(1).mean())
    texts = decode(tokenizer, r)
    gold = float(np.mean([task.gold(p, t) for p, t in zip(prompts, texts)]))
    proxy = float((reward.score(r) + config.no_eos_penalty * (~r.ended).float()).mean())
    return {"kl": kl, "gold": gold, "proxy": proxy}


def best_of_n(
    reference, reward, tokenizer, task: TextTask, prompts, ns: list[int], config: TextPPOConfig, seed: int
) -> list[dict]:  # type: ignore[no-untyped-def]
    """Gold and proxy of the proxy-best of the first N samples per prompt, for each N."""
    gen = torch.Generator().manual_seed(seed)
    proxy, gold = [], []
    for _ in range(max(ns)):
        r: Rollout = generate(reference, tokenizer, prompts, config.max_new_tokens, config.temperature, gen)
        proxy.append((reward.score(r) + config.no_eos_penalty * (~r.ended).float()).numpy())
        gold.append([task.gold(p, t) for p, t in zip(prompts, decode(tokenizer, r))])
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


def parse_arm(spec: str) -> tuple[str, dict]:
    """METHOD[:KEY=VALUE,...] -> (method, TextPPOConfig overrides), refusing unknown methods and keys in one line."""
    method, _, rest = spec.partition(":")
    if method not in OPTIMISERS:
        raise SystemExit(f"error: arm {spec!r}: the method must be one of {', '.join(OPTIMISERS)}")
    parse = override_type(TextPPOConfig)
    try:
        overrides = dict(parse(kv) for kv in rest.split(",") if kv)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        raise SystemExit(f"error: arm {spec!r}: {exc}") from None
    return method, overrides


def read_done(csv_path: Path, iterations: int) -> list[dict]:
    """Rows of the arms that ran to `iterations` (and best-of-N's), from an earlier run of this script."""
    if not csv_path.exists():
        return []
    with csv_path.open() as f:
        rows = [{**r, "kl": float(r["kl"]), "gold": float(r["gold"]), "proxy": float(r["proxy"])}
                for r in csv.DictReader(f)]  # fmt: skip
    finished = {(r["method"], r["setting"]) for r in rows if int(r["iteration"]) == iterations}
    return [r for r in rows if r["method"] == "best-of-N" or (r["method"], r["setting"]) in finished]


STYLE = {"ppo": "-o", "rloo": "-.s", "dpo": ":^"}


def plot(rows: list[dict], path: Path) -> None:
    """Gold and proxy against KL, and gold against proxy: Gao et al. (2022) found KL a poor common axis for BoN and
    RL (RL spends more KL for the same gain) but the proxy-to-gold relation similar for both, so the third panel is
    the like-for-like comparison of how much of the proxy gain is real."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    bon = [r for r in rows if r["method"] == "best-of-N"]
    arms = list(dict.fromkeys((r["method"], r["setting"]) for r in rows if r["method"] != "best-of-N"))
    panels = (("kl", "gold"), ("kl", "proxy"), ("proxy", "gold"))
    shades = {"ppo": "Blues", "rloo": "Reds", "dpo": "Purples"}  # one colour family per method, a shade per arm
    colour = {}
    for method in dict.fromkeys(m for m, _ in arms):
        mine = [a for a in arms if a[0] == method]
        cmap = plt.get_cmap(shades.get(method, "Greys"))
        colour.update({a: cmap(0.45 + 0.5 * i / max(len(mine) - 1, 1)) for i, a in enumerate(mine)})
    for ax, (x, y) in zip(axes, panels):
        ax.plot([r[x] for r in bon], [r[y] for r in bon], "k--o", lw=2, label="best-of-N (N = 1, 2, 4, ...)")
        for method, setting in arms:
            run = [r for r in rows if (r["method"], r["setting"]) == (method, setting)]
            label = f"{method.upper()} {setting.replace('kl_coef=', 'beta=')}".strip()
            ax.plot([r[x] for r in run], [r[y] for r in run], STYLE.get(method, "-o"), ms=3, label=label,
                    color=colour[(method, setting)])  # fmt: skip
        if x == "kl":
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_xlabel("KL to the SFT policy (nats per completion)")
        else:
            ax.set_xlabel("proxy score (reward model)")
        ax.set_ylabel(f"{y} score")
    axes[0].set_title("gold (hidden oracle) against KL")
    axes[1].set_title("proxy (what is optimised) against KL")
    axes[2].set_title("gold against proxy")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="a finished `prefrl text train` run folder")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/text-frontier/story"))
    parser.add_argument("--arms", nargs="+", metavar="METHOD[:KEY=VALUE,...]",
                        default=["ppo:kl_coef=0.1", "ppo:kl_coef=0.03", "rloo:kl_coef=0.03", "dpo:dpo_beta=0.1"],
                        help="optimiser runs, each METHOD (ppo, rloo, dpo) with TextPPOConfig overrides")  # fmt: skip
    parser.add_argument("--iterations", type=int, default=30, help="iterations per arm")
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--bon", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    parser.add_argument("--prompts", type=int, default=64, help="evaluation prompts")
    parser.add_argument(
        "--oracle",
        help="the run's oracle, named again when it is module:callable (a run folder "
        "alone never makes prefrl import code)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--no-throughput", action="store_true", help="skip the throughput timing (on a busy machine)")
    parser.add_argument("--fresh", action="store_true", help="discard --out's frontier.csv instead of extending it")
    parser.add_argument("--plot-only", action="store_true", help="redraw frontier.png from --out's frontier.csv")
    args = parser.parse_args()
    csv_path = args.out / "frontier.csv"
    if args.plot_only:
        plot(read_done(csv_path, args.iterations), args.out / "frontier.png")
        return
    if args.run is None:
        parser.error("--run is required: a finished `prefrl text train` run folder")
    arms = [(spec, *parse_arm(spec)) for spec in args.arms]
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TextTrainConfig.from_dict(read_json(args.run / "config.json"))
    try:
        check_named_again(config.oracle, args.oracle, args.run, "--oracle")
    except PrefrlError as exc:
        parser.error(str(exc))
    task = task_from_files(config.oracle, config.prompts_file, config.demos_file)
    reference, tokenizer = lm.load(args.run / "sft", args.device)
    reward = TextRewardModel.load(args.run / "reward_model", args.device)
    prompts = task.sample_prompts(args.prompts, seed=4242)
    widest = max([config.ppo.batch_size, *(o.get("batch_size", config.ppo.batch_size) for _, _, o in arms)])
    pool = task.sample_prompts(widest * args.iterations, seed=4243)  # enough for the arm with the largest batches
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [] if args.fresh else read_done(csv_path, args.iterations)
    csv_path.unlink(missing_ok=True)
    for r in rows:
        append_row(csv_path, FIELDS, r)
    started = time.time()

    if not args.no_throughput:
        speed = throughput(reference, reference, reward, tokenizer, pool[: config.ppo.batch_size], config.ppo)
        (args.out / "throughput.json").write_text(json.dumps(speed, indent=2))
        print(json.dumps(speed, indent=2))

    have = {int(r["setting"]) for r in rows if r["method"] == "best-of-N"}
    if not set(args.bon) <= have:
        rows = [r for r in rows if r["method"] != "best-of-N"]
        for r in best_of_n(reference, reward, tokenizer, task, prompts, args.bon, config.ppo, seed=1):
            rows.append({**r, "wall_time": time.time() - started})
            append_row(csv_path, FIELDS, rows[-1])
            print(f"best-of-{r['setting']}: KL {r['kl']:.2f}  gold {r['gold']:+.3f}  proxy {r['proxy']:+.3f}")
    pairs = preferences(labelled_groups(LabelStore(args.run / "labels.sqlite"))[0])
    for spec, method, overrides in arms:
        setting = spec.partition(":")[2]
        if any((r["method"], r["setting"]) == (method, setting) for r in rows):
            print(f"{spec}: already in {csv_path}")
            continue
        arm_config = replace(config.ppo, **{"adaptive_kl": False, **overrides})
        optimiser = OPTIMISERS[method](copy.deepcopy(reference), reference, tokenizer, arm_config, seed=0)
        if method == "dpo":
            optimiser.set_preferences(pairs)
        for it in range(args.iterations + 1):
            if it % args.eval_every == 0 or it == args.iterations:
                e = evaluate(optimiser.policy, reference, reward, tokenizer, task, prompts, arm_config, seed=7)
                row = {"method": method, "setting": setting, "iteration": it, **e, "wall_time": time.time() - started}
                rows.append(row)
                append_row(csv_path, FIELDS, row)
                print(f"{spec} it {it}: KL {e['kl']:.2f}  gold {e['gold']:+.3f}  proxy {e['proxy']:+.3f}", flush=True)
            if it < args.iterations:
                batch = pool[it * arm_config.batch_size : (it + 1) * arm_config.batch_size]
                optimiser.step(batch, reward.score)
    plot(rows, args.out / "frontier.png")
    print(f"wrote {csv_path}, {args.out / 'frontier.png'}, {args.out / 'throughput.json'}")


if __name__ == "__main__":
    main()
