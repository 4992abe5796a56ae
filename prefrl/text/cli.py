"""`prefrl text ...`: the language-model side of the command line (pretrain, train in cycles, sample)."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefrl.errors import PrefrlError

if TYPE_CHECKING:
    from prefrl.text.config import TextTrainConfig


def add_text_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "text",
        help="the same preference loop for a small language model: pretrain, SFT, rank, reward model, PPO with KL",
        description=(
            "RLHF on a small GPT that runs on a laptop CPU: supervised fine-tuning on demonstrations, a reward model "
            "from K ranked completions per prompt, token-level PPO with a KL penalty toward the initial model, in "
            "cycles. Synthetic oracles with a hidden score stand in for people so it runs headless. Nothing is "
            "downloaded: the model and its tokenizer are built here from generated stories, or loaded from a local "
            "Hugging Face folder."
        ),
    )
    text = p.add_subparsers(dest="text_command", required=True, metavar="TEXT_COMMAND")
    _pretrain_parser(text)
    _train_parser(text)
    _demo_parser(text)
    _sample_parser(text)


def _pretrain_parser(sub: argparse._SubParsersAction) -> None:
    from prefrl.text.config import ModelConfig, PretrainConfig

    d, m = PretrainConfig(), ModelConfig()
    p = sub.add_parser(
        "pretrain",
        help="build a small GPT and its tokenizer from generated stories and train it (a few minutes on CPU)",
        description="Generate a story corpus, train a byte-level BPE tokenizer on it, build a GPT-2-shaped model from "
        "a config and train it; writes the model (safetensors), tokenizer, metrics.csv and a loss curve to --out.",
        epilog="example:\n  prefrl text pretrain --out runs/base --minutes 4",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, required=True, help="model folder to write")
    p.add_argument("--minutes", type=float, default=d.minutes, help="time budget (default: %(default)s)")
    p.add_argument("--max-steps", type=int, default=d.max_steps, help="step budget (default: %(default)s)")
    p.add_argument("--documents", type=int, default=d.documents, help="generated stories (default: %(default)s)")
    p.add_argument("--layers", type=int, default=m.layers, help="(default: %(default)s)")
    p.add_argument("--width", type=int, default=m.width, help="(default: %(default)s)")
    p.add_argument("--heads", type=int, default=m.heads, help="(default: %(default)s)")
    p.add_argument("--context", type=int, default=m.context, help="tokens (default: %(default)s)")
    p.add_argument("--vocab", type=int, default=m.vocab_size, help="BPE vocabulary size (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    p.set_defaults(func=_pretrain)


def _pretrain(args: argparse.Namespace) -> int:
    from prefrl.text.config import ModelConfig, PretrainConfig
    from prefrl.text.lm_training import pretrain
    from prefrl.text.model import resolve_device

    resolve_device(args.device)
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "pretrain_config.json").exists())):
        raise PrefrlError(f"--out {out} holds other files; the model replaces the whole folder, so choose a new one")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = ModelConfig(layers=args.layers, width=args.width, heads=args.heads, context=args.context,
                        vocab_size=args.vocab)  # fmt: skip
    config = PretrainConfig(documents=args.documents, minutes=args.minutes, max_steps=args.max_steps,
                            device=args.device, seed=args.seed, model=model)  # fmt: skip
    result = pretrain(config, args.out)
    print(f"held-out loss {result.get('held_out_loss', float('nan')):.3f}; model in {args.out}")
    return 0


TEXT_OPTIONS = {
    "model", "oracle", "prompts_file", "demos_file", "teacher", "instruction", "beta", "epsilon", "eps_skip",
    "eps_equal", "cycles", "prompts_per_cycle", "k", "optimizer", "ppo_iterations", "device", "seed", "threads",
    "pretrain", "sft", "reward", "ppo",
}  # fmt: skip
"""TextTrainConfig fields that are options of `prefrl text train`: all but out (a path) and the evaluation sizes;
the nested settings as --ppo KEY=VALUE and the like."""


def _train_parser(sub: argparse._SubParsersAction) -> None:
    from prefrl.text.config import TextTrainConfig

    d = TextTrainConfig()
    p = sub.add_parser(
        "train",
        help="SFT -> sample K completions -> rank -> reward model -> PPO with KL, for N cycles",
        description=(
            "Run the RLHF recipe in cycles. Each cycle samples K completions for new prompts (from the second cycle "
            "on, mixed with the initial policy's), has the teacher rank them (C(K,2) comparisons per prompt, stored "
            "in labels.sqlite), refits the reward model, and runs PPO against it with a KL penalty. Every report "
            "shows the proxy (reward model) next to the gold (hidden oracle) score. Rerun the same command to "
            "resume at the cycle it stopped in; raise --cycles to continue a finished run."
        ),
        epilog=(
            "examples:\n"
            "  prefrl text train --out runs/text                         # pretrains a base model first\n"
            "  prefrl text train --out runs/text2 --model runs/text/base --oracle positive --teacher mistake\n"
            "  prefrl text train --out runs/text --cycles 5              # continue for two more cycles"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from prefrl.options import add_options

    p.add_argument("--out", type=Path, required=True, help="run folder")
    add_options(p, TextTrainConfig, only=TEXT_OPTIONS)
    p.add_argument(
        "--kl-coef", type=float, help=f"initial KL penalty beta, as --ppo kl_coef (default: {d.ppo.kl_coef})"
    )
    p.add_argument(
        "--kl-target", type=float, help=f"nats per completion, as --ppo kl_target (default: {d.ppo.kl_target})"
    )
    p.add_argument("--fixed-kl", action="store_true", help="keep beta fixed, as --ppo adaptive_kl=false")
    p.add_argument("--max-new-tokens", type=int, help=f"as --ppo max_new_tokens (default: {d.ppo.max_new_tokens})")
    p.add_argument("--pretrain-minutes", type=float,
                   help=f"when no --model, as --pretrain minutes (default: {d.pretrain.minutes})")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_train, parser=p)


def _config_from_args(args: argparse.Namespace) -> TextTrainConfig:
    """The TextTrainConfig a `prefrl text train` command line asks for."""
    from prefrl.options import values_from
    from prefrl.text.config import TextTrainConfig

    d = TextTrainConfig()
    values = values_from(args, TextTrainConfig, only=TEXT_OPTIONS)
    nested = {name: values.pop(name) for name in ("pretrain", "sft", "reward", "ppo")}
    named = {"kl_coef": args.kl_coef, "kl_target": args.kl_target, "max_new_tokens": args.max_new_tokens}
    ppo = {**nested["ppo"], **{k: v for k, v in named.items() if v is not None}}
    if args.fixed_kl:
        ppo["adaptive_kl"] = False
    pretrain = {**nested["pretrain"], "device": args.device, "seed": args.seed, "threads": args.threads}
    if args.pretrain_minutes is not None:
        pretrain["minutes"] = args.pretrain_minutes
    return TextTrainConfig(
        out=str(args.out),
        **{**values, "model": str(args.model) if args.model else None},
        pretrain=replace(d.pretrain, **pretrain),
        sft=replace(d.sft, **nested["sft"]),
        reward=replace(d.reward, **nested["reward"]),
        ppo=replace(d.ppo, **ppo),
    )


TEXT_FIELD_OF = {"kl_coef": "ppo.kl_coef", "kl_target": "ppo.kl_target",
                 "fixed_kl": "ppo.adaptive_kl", "max_new_tokens": "ppo.max_new_tokens",
                 "pretrain_minutes": "pretrain.minutes"}  # fmt: skip
"""TextTrainConfig fields of options whose names differ from them."""
TEXT_MAY_CHANGE = {"out", "cycles", "threads", "quiet"}
"""Options a resumed text run takes from the command line: more cycles, and how many threads compute them."""
NOT_STARTED = {"config.json", "labels.sqlite", "labels.sqlite-wal", "labels.sqlite-shm"}
"""What a text run folder holds when its start failed before any model was built (a bad --model, say)."""


def _train(args: argparse.Namespace) -> int:
    from prefrl.core.records import read_json
    from prefrl.options import given_options, option_flags
    from prefrl.overrides import refuse_other_settings
    from prefrl.text.config import TextTrainConfig
    from prefrl.text.trainer import TextTrainer
    from prefrl.user_code import check_named_again

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    asked = _config_from_args(args)
    saved = args.out / "config.json"
    started = saved.exists() and any(p.name not in NOT_STARTED for p in args.out.iterdir())
    if started:  # resume: keep the run's settings; only the number of cycles (and threads) may change
        config = TextTrainConfig.from_dict(read_json(saved))
        given = given_options(args.parser, args.tokens[args.tokens.index(args.text_command) + 1 :])
        check_named_again(config.oracle, args.oracle if "oracle" in given else None, args.out, "--oracle")
        check_named_again(config.teacher, args.teacher if "teacher" in given else None, args.out, "--teacher")
        flags = option_flags(args.parser, given - TEXT_MAY_CHANGE, TEXT_FIELD_OF, args)
        refuse_other_settings(args.out, config, asked, flags, may_change="--cycles and --threads")
        config = replace(
            config,
            out=str(args.out),  # the folder given, wherever it was when the run started
            cycles=args.cycles if "cycles" in given else config.cycles,
            threads=args.threads if "threads" in given else config.threads,
        )
    else:  # a new run, or one whose start failed before any model was built: the command line decides
        saved.unlink(missing_ok=True)  # the failed start's settings, which nothing was built with
        config = asked
    rows = TextTrainer(config, progress=not args.quiet).run()
    _print_cycles(rows, Path(config.out))
    return 0


def _print_cycles(rows: list[dict[str, Any]], out: Path) -> None:
    print("cycle  labels  RM acc (held out)  Elo~RM  gold before -> after  proxy before -> after  KL")
    for r in rows:
        print(
            f"{int(r['cycle']) + 1:>5}  {int(r['labels']):>6}  {r['rm_val_accuracy']:>17.2f}  {r['elo_rm_spearman']:>6.2f}"
            f"  {r['gold_before']:>+11.3f} -> {r['gold_after']:+.3f}  {r['proxy_before']:>+12.3f} -> "
            f"{r['proxy_after']:+.3f}  {r['kl_after']:.2f}"
        )
    print(f"run folder: {out} (metrics.csv, cycles.csv, gold_vs_proxy.png)")


DEMO = {"cycles": 2, "prompts_per_cycle": 128, "ppo_iterations": 12, "eval_prompts": 48, "normalise_samples": 64}
DEMO_PRETRAIN_MINUTES = 2.5
DEMO_DEMONSTRATIONS = 1000


def _demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="the whole text pipeline with a synthetic oracle in under 10 minutes on CPU, before/after samples",
        description=(
            "Pretrain a small GPT (2.5 minutes), fine-tune it on 1,000 demonstrations, then two cycles of ranking "
            "128 prompts x 4 completions by the positive oracle, fitting the reward model and running PPO. Prints the "
            "oracle (gold) and reward-model (proxy) scores before and after, and a few completions of the same "
            "prompts from the SFT model and from the final policy."
        ),
    )
    p.add_argument("--out", type=Path, default=Path("runs/text-demo"), help="run folder (default: %(default)s)")
    p.add_argument("--oracle", default="positive", help="hidden gold score (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: %(default)s)")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: one per core)")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    import time

    from prefrl.core.records import read_json
    from prefrl.text.config import TextTrainConfig
    from prefrl.text.trainer import TextTrainer
    from prefrl.user_code import check_named_again

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    start = time.time()
    saved = args.out / "config.json"
    if saved.exists():
        config = TextTrainConfig.from_dict(read_json(saved))
        check_named_again(config.oracle, args.oracle, args.out, "--oracle")
    else:
        d = TextTrainConfig()
        config = TextTrainConfig(
            out=str(args.out), oracle=args.oracle, device=args.device, threads=args.threads,
            pretrain=replace(d.pretrain, minutes=DEMO_PRETRAIN_MINUTES, device=args.device, threads=args.threads),
            sft=replace(d.sft, demonstrations=DEMO_DEMONSTRATIONS),
            **DEMO,
        )  # fmt: skip
    rows = TextTrainer(config).run()
    _print_cycles(rows, args.out)
    first, last = rows[0], rows[-1]
    print(
        f"\n{config.oracle} oracle (gold), SFT policy -> after {len(rows)} cycles: "
        f"{first['gold_before']:+.3f} -> {last['gold_after']:+.3f}   "
        f"(reward model, proxy: {first['proxy_before']:+.3f} -> {last['proxy_after']:+.3f})\n"
    )
    for name in ("sft", "policy"):
        print(f"--- {name} ---")
        _sample(argparse.Namespace(model=args.out / name, prompts=3, oracle=config.oracle, max_new_tokens=96,
                                   temperature=1.0, seed=123, device=args.device))  # fmt: skip
    print(f"demo took {(time.time() - start) / 60:.1f} minutes")
    return 0


def _sample_parser(sub: argparse._SubParsersAction) -> None:
    from prefrl.text.tasks import ORACLES

    p = sub.add_parser(
        "sample",
        help="print completions of a model (a run's policy, sft or base folder) with their gold scores",
        description="Sample completions for generated prompts and print them with the oracle's score.",
    )
    p.add_argument("model", type=Path, help="model folder (e.g. runs/text/policy)")
    p.add_argument("--prompts", type=int, default=4, help="(default: %(default)s)")
    p.add_argument("--oracle", choices=sorted(ORACLES), default="positive", help="(default: %(default)s)")
    p.add_argument("--max-new-tokens", type=int, default=96, help="(default: %(default)s)")
    p.add_argument("--temperature", type=float, default=1.0, help="(default: %(default)s)")
    p.add_argument("--seed", type=int, default=123, help="prompt and sampling seed (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="(default: %(default)s)")
    p.set_defaults(func=_sample)


def _sample(args: argparse.Namespace) -> int:
    import torch

    from prefrl.text import model as lm
    from prefrl.text import tasks
    from prefrl.text.sampling import decode, generate
    from prefrl.text.task import oracle_from

    lm.resolve_device(args.device)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model, tokenizer = lm.load(args.model, args.device)
    oracle = oracle_from(args.oracle)  # the demo passes its own, which may be module:callable
    prompts = tasks.prompts(args.prompts, seed=args.seed)
    r = generate(model, tokenizer, prompts, args.max_new_tokens, args.temperature,
                 torch.Generator().manual_seed(args.seed))  # fmt: skip
    for prompt, text, ended in zip(prompts, decode(tokenizer, r), r.ended.tolist()):
        print(f"{prompt.strip()}\n  -> {text.strip()}{'' if ended else ' [cut: no end token]'}")
        print(f"  {args.oracle} score {oracle.score(prompt, text):+.3f}\n")
    return 0
