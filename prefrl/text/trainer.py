"""The RLHF loop for text, in cycles: SFT -> sample K completions -> rank -> reward model -> PPO -> sample again.

Everything lands in one run folder, as on the control side:

    config.json        the TextTrainConfig
    labels.sqlite      completions (items), the C(K,2) queries of each ranking, labels, trainer state
    base/ sft/         the pretrained and the fine-tuned model (save_pretrained, safetensors)
    policy/            the PPO policy after the latest finished cycle, with value_head.safetensors
    reward_model/      trunk + heads + normalisation
    metrics.csv        one row per PPO iteration: KL, beta, proxy score, score - beta KL, gold, entropy, ...
    cycles.csv         one row per cycle: labels, reward-model accuracy, Elo agreement, gold and proxy before/after
    gold_vs_proxy.png  the oracle (gold) against the reward model (proxy) as KL grows

From the second cycle on, each prompt's K completions mix the current policy with the initial (SFT) one, so the
teacher keeps ranking new outputs against the agent's earlier behaviour. A run resumes at the cycle it stopped in:
completions already in the store are reused, so no label is ever asked twice.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from prefrl.core.comparisons import Comparison
from prefrl.core.elo import elo_ratings, pairwise_agreement, spearman
from prefrl.core.records import append_row, read_rows, recover_folder, write_json
from prefrl.core.store import LabelStore
from prefrl.core.teachers import PRESETS, Teacher, as_teacher, make_teacher, preset_settings
from prefrl.errors import PrefrlError
from prefrl.text import model as lm
from prefrl.text import reward_model as rm
from prefrl.text.config import TextTrainConfig
from prefrl.text.dpo import Preference, TextDPO
from prefrl.text.lm_training import pretrain, sft
from prefrl.text.ppo import TextPPO
from prefrl.text.rloo import TextRLOO
from prefrl.text.sampling import Rollout, decode, generate, join
from prefrl.text.task import TextItem, TextTask, oracle_record, task_from_files
from prefrl.user_code import is_code_spec, load

ITEM_KIND = "text"
HUMAN = "human"
CUSTOM = "custom"
"""The recorded teacher of a run ranked by a teacher object handed over in its `TextTask`."""
METRIC_FIELDS = [
    "cycle", "iteration", "labels", "kl", "beta", "score", "score_minus_kl", "gold", "entropy", "clip_fraction",
    "approx_kl", "explained_variance", "ended", "length", "policy_loss", "value_loss", "wall_time", "dpo_margin",
]  # fmt: skip
CYCLE_FIELDS = [
    "cycle", "labels", "groups", "rm_loss", "rm_train_accuracy", "rm_val_accuracy", "elo_label_agreement",
    "rm_label_agreement", "elo_rm_spearman", "elo_gold_spearman", "rm_gold_spearman", "gold_before", "proxy_before",
    "gold_after", "proxy_after", "kl_after", "wall_time",
]  # fmt: skip


OPTIMISERS = {"ppo": TextPPO, "rloo": TextRLOO, "dpo": TextDPO}
"""How the policy learns: each with `step(prompts, score, gold) -> metrics`, `policy`, `kl` and `generator`."""


def preferences(groups: list[rm.Group]) -> list[Preference]:
    """The decided comparisons of the labelled rankings, as (prompt, preferred, other) for DPO; ties left out."""
    out = []
    for g in groups:
        for i, j, target in g.comparisons:
            if target in (0.0, 1.0):
                w, lo = (i, j) if target == 1.0 else (j, i)
                out.append(Preference(g.prompt, g.completions[w], g.completions[lo], g.ended[w], g.ended[lo]))
    return out


def labelled_groups(store: LabelStore) -> tuple[list[rm.Group], list[Comparison], dict[int, dict]]:
    """The store's labelled rankings as reward-model groups (each prompt's completions and decided comparisons),
    with the comparisons and the completions' payloads by item id."""
    comparisons = store.comparisons()
    ids = sorted({i for cmp in comparisons for i in (cmp.a, cmp.b)})
    payloads = {i: json.loads(b) for i, b in store.items(ids).items()}
    groups: dict[int, rm.Group] = {}
    index: dict[int, int] = {}
    for i in ids:
        p = payloads[i]
        g = groups.setdefault(p["group"], rm.Group(p["group"], p["prompt"], [], []))
        index[i] = len(g.completions)
        g.completions.append(p["completion"])
        g.ended.append(bool(p["ended"]))
        g.item_ids.append(i)
    for cmp in comparisons:
        if cmp.target is not None:
            groups[payloads[cmp.a]["group"]].comparisons.append((index[cmp.a], index[cmp.b], float(cmp.target)))
    return list(groups.values()), comparisons, payloads


MODEL_FOLDERS = ("base", "sft", "policy", "reward_model")
"""The run folder's model folders, each replaced atomically as a whole."""


def check_text_settings(config: TextTrainConfig) -> None:
    """Refuse numbers a text run cannot use, in one line (named by their `prefrl text train` flags), before any
    model is built."""
    rules = [
        ("--cycles", config.cycles, config.cycles >= 1, "at least 1"),
        ("--prompts", config.prompts_per_cycle, config.prompts_per_cycle >= 1, "at least 1 prompt ranked per cycle"),
        ("--k", config.k, config.k >= 2, "at least 2: a ranking needs two completions"),
        ("--ppo-iterations", config.ppo_iterations, config.ppo_iterations >= 1, "at least 1"),
        ("--optimizer", config.optimizer, config.optimizer in OPTIMISERS, f"one of {', '.join(OPTIMISERS)}"),
        ("rloo_k", config.ppo.rloo_k, config.ppo.rloo_k >= 2, "at least 2: the baseline is the other samples"),
        ("dpo_beta", config.ppo.dpo_beta, config.ppo.dpo_beta > 0, "a positive number"),
        ("--max-new-tokens", config.ppo.max_new_tokens, config.ppo.max_new_tokens >= 1, "at least 1"),
        ("--threads", config.threads, config.threads is None or config.threads >= 1, "at least 1"),
        ("--seed", config.seed, 0 <= config.seed < 2**32, "between 0 and 2**32 - 1"),
        ("--pretrain-minutes", config.pretrain.minutes, config.pretrain.minutes > 0, "a positive number of minutes"),
    ]
    for flag, value, ok, rule in rules:
        if not ok:
            raise PrefrlError(f"{flag} must be {rule}, not {value}")


def _teacher_of(config: TextTrainConfig, task: TextTask | None) -> tuple[TextTrainConfig, Teacher | None]:
    """The settings to record and the teacher object to rank with (None: the config's preset or a person). A
    ready-made synthetic teacher is recorded by name and settings; any other object as 'custom'."""
    handed = task.teacher if task is not None else None
    if handed is not None:
        settings = preset_settings(handed)
        if settings is not None and "gamma" not in settings:  # text runs have no myopia setting
            return replace(config, **settings), None
        return replace(config, teacher=CUSTOM), as_teacher(handed)
    if config.teacher == CUSTOM:
        raise PrefrlError(f"{config.out} was ranked by a teacher object; hand it over again: TextTask(teacher=...)")
    if is_code_spec(config.teacher):
        try:
            return config, as_teacher(load(config.teacher, "--teacher"))
        except TypeError as exc:
            raise PrefrlError(f"--teacher {config.teacher}: {exc}") from None
    if config.teacher not in (*PRESETS, HUMAN):
        raise PrefrlError(
            f"unknown teacher {config.teacher!r}: choose one of {', '.join(PRESETS)}, {HUMAN}, or module:callable"
        )
    return config, None


class TextTrainer:
    """Runs (or resumes) the cycles of one run folder."""

    def __init__(self, config: TextTrainConfig, progress: bool = True, task: TextTask | None = None) -> None:
        """`task`: prompts, demonstrations and an oracle of your own (default: those the config names, or the
        story task's)."""
        lm.resolve_device(config.device)  # a one-line error before any work when CUDA is asked for and absent
        config, self.teacher = _teacher_of(config, task)
        check_text_settings(config)
        self.config = config
        self.progress = progress
        self.out = Path(config.out)
        self.out.mkdir(parents=True, exist_ok=True)
        for name in MODEL_FOLDERS:  # a kill in the middle of replacing one leaves its previous version aside
            recover_folder(self.out / name)
        if task is not None:  # the config records the task's oracle, not the default it was built with
            config = replace(config, oracle=oracle_record(task.oracle))
            self.config = config
        self.task = task or task_from_files(config.oracle, config.prompts_file, config.demos_file)
        self.started = time.time()
        saved = self.out / "config.json"
        if saved.exists():
            previous = json.loads(saved.read_text())
            if previous.get("oracle") != config.oracle or previous.get("k") != config.k:
                raise PrefrlError(
                    f"{self.out} holds a run with another oracle or K: pick a new --out, or resume with the same settings"
                )
            if previous.get("teacher", "perfect") != config.teacher:
                again = (
                    "TextTask(teacher=...)" if previous.get("teacher") == CUSTOM else f"teacher={previous['teacher']!r}"
                )
                raise PrefrlError(f"{self.out} was ranked by another teacher; hand it over again: {again}")
        write_json(saved, config.to_dict())  # before the store: a window that sees the store must find the config
        self.store = LabelStore(self.out / "labels.sqlite")
        self.store.set_state("run_name", self.out.resolve().name)
        self.store.set_state("instruction", config.instruction)
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)

    # models ---------------------------------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        if self.progress:
            tqdm.write(text)

    def _base(self) -> Path:
        if self.config.model is not None:
            return Path(self.config.model)
        base = self.out / "base"
        if not (base / "config.json").exists():
            self._say(f"pretraining the base model into {base}")
            pretrain(self.config.pretrain, base, progress=self.progress)
        return base

    def _sft(self) -> Path:
        path = self.out / "sft"
        if not (path / "config.json").exists():
            model, tokenizer = lm.load(self._base(), self.config.device)
            pairs = self.task.sample_demonstrations(self.config.sft.demonstrations, seed=self.config.seed)
            self._say(f"supervised fine-tuning on {len(pairs)} demonstrations")
            report = sft(model, tokenizer, pairs, self.config.sft, progress=self.progress)
            self._say(f"SFT held-out loss {report['held_out_loss_before']:.3f} -> {report['held_out_loss']:.3f}")
            lm.save(model, tokenizer, path)
            write_json(path / "sft_report.json", report)
        return path

    def _load_models(self) -> None:
        sft_path = self._sft()
        self.reference, self.tokenizer = lm.load(sft_path, self.config.device)
        self._fit_new_tokens()
        c = self.config
        policy_path = self.out / "policy"
        policy, _ = lm.load(policy_path if (policy_path / "config.json").exists() else sft_path, c.device)
        self.optimiser = OPTIMISERS[c.optimizer](policy, self.reference, self.tokenizer, c.ppo, seed=c.seed)
        if isinstance(self.optimiser, TextPPO) and (policy_path / "value_head.safetensors").exists():
            state = load_file(str(policy_path / "value_head.safetensors"))
            with torch.no_grad():
                self.optimiser.value_head.linear.weight.copy_(state["weight"])
                self.optimiser.value_head.linear.bias.copy_(state["bias"])
        self.optimiser.kl.beta = float(self.store.get_state("kl_beta", str(c.ppo.kl_coef)))  # type: ignore[arg-type]
        rm_path = self.out / "reward_model"
        if (rm_path / "heads.safetensors").exists():
            self.reward = rm.TextRewardModel.load(rm_path, c.device)
        else:
            self.reward = rm.TextRewardModel.from_policy(self.reference, c.reward).to(c.device)

    def _fit_new_tokens(self) -> None:
        """Completions as long as the model's context leaves after the task's longest prompt, at most --max-new-tokens
        (a model and task of your own may have less room than the story task's 96)."""
        context = lm.context_length(self.reference)
        c = self.config
        prompts = self.task.prompts or self.task.sample_prompts(256, seed=c.seed)
        longest = max(len(self.tokenizer(p)["input_ids"]) for p in prompts)
        room = context - longest
        if room < 1:
            raise PrefrlError(
                f"a prompt of {longest} tokens fills the model's context of {context}: shorten the prompts"
            )
        if c.ppo.max_new_tokens > room:
            self._say(f"completions of at most {room} new tokens: the model's context of {context} after prompts of "
                      f"up to {longest}")  # fmt: skip
            self.config = replace(c, ppo=replace(c.ppo, max_new_tokens=room))

    def _save_policy(self) -> None:
        if not isinstance(self.optimiser, TextPPO):  # RLOO and DPO have no value head
            lm.save(self.optimiser.policy, self.tokenizer, self.out / "policy")
            return
        head = self.optimiser.value_head.linear
        state = {"weight": head.weight.detach().cpu().contiguous(), "bias": head.bias.detach().cpu().contiguous()}
        lm.save(  # the policy and its value head in one atomic folder
            self.optimiser.policy, self.tokenizer, self.out / "policy",
            also=lambda folder: save_file(state, str(folder / "value_head.safetensors")),
        )  # fmt: skip

    # one cycle --------------------------------------------------------------------------------------------------
    def _gold(self, prompts: list[str], completions: list[str]) -> list[float]:
        return [self.task.gold(p, t) for p, t in zip(prompts, completions)]

    def _rollouts(self, model, prompts: list[str]) -> list[Rollout]:  # type: ignore[no-untyped-def]
        """Sampled completions of the prompts, one rollout per PPO-sized batch."""
        bs, ppo = self.config.ppo.batch_size, self.config.ppo
        return [
            generate(
                model,
                self.tokenizer,
                prompts[i : i + bs],
                ppo.max_new_tokens,
                ppo.temperature,
                self.optimiser.generator,
            )
            for i in range(0, len(prompts), bs)
        ]

    def _sample(self, model, prompts: list[str]) -> tuple[list[str], list[bool]]:  # type: ignore[no-untyped-def]
        texts, ended = [], []
        for r in self._rollouts(model, prompts):
            texts += decode(self.tokenizer, r)
            ended += r.ended.tolist()
        return texts, ended

    def _collect(self, cycle: int) -> None:
        """Sample K completions for this cycle's prompts and ask about every pair (once: reused on resume)."""
        c = self.config
        if self.store.get_state(f"collected_{cycle}") is not None:
            return
        prompts = self.task.sample_prompts(c.prompts_per_cycle, seed=c.seed * 1000 + cycle + 1)
        n_ref = 0 if cycle == 0 else min(c.from_reference, c.k)
        self.optimiser.policy.eval()
        cols: list[tuple[list[str], list[bool], str]] = []
        for j in range(c.k):
            model, source = (self.reference, "reference") if j < n_ref else (self.optimiser.policy, f"policy-{cycle}")
            texts, ended = self._sample(model, prompts)
            cols.append((texts, ended, source))
        payloads, groups = [], []
        for i, p in enumerate(prompts):
            group = cycle * 100_000 + i
            for texts, ended, source in cols:
                payloads.append(
                    json.dumps({
                        "prompt": p, "completion": texts[i], "ended": bool(ended[i]), "group": group, "cycle": cycle,
                        "source": source, "gold": self.task.gold(p, texts[i]),
                    }).encode()
                )  # fmt: skip
            groups.append(group)
        ids = self.store.add_items(ITEM_KIND, payloads)
        pairs, of = [], []
        for g, group in enumerate(groups):  # each prompt's C(K,2) comparisons: one ranking a person answers at once
            members = ids[g * c.k : (g + 1) * c.k]
            ranked = list(itertools.combinations(members, 2))
            pairs, of = pairs + ranked, of + [group] * len(ranked)
        self.store.add_queries(pairs, groups=of)
        self.store.set_state(f"collected_{cycle}", str(len(pairs)))

    def _label(self) -> None:
        """The synthetic teacher answers every pending query from the items' hidden gold scores; with a person as
        the teacher, wait until they have answered them all in the labelling window."""
        c = self.config
        pending = self.store.pending_queries()
        if not pending:
            return
        if c.teacher == HUMAN:
            self._wait_for_person(len(pending))
            return
        teacher = self.teacher or make_teacher(
            c.teacher, seed=c.seed + len(self.store.comparisons()),
            beta=c.beta, epsilon=c.epsilon, eps_skip=c.eps_skip, eps_equal=c.eps_equal,
        )  # fmt: skip
        payloads = {i: json.loads(b) for i, b in self.store.items([i for _, a, b in pending for i in (a, b)]).items()}
        teacher.observe(np.array([p["gold"] for p in payloads.values()]))
        items = {i: TextItem(p["prompt"], p["completion"], p["gold"]) for i, p in payloads.items()}
        answers = [(qid, teacher.label(items[a], items[b])) for qid, a, b in pending]
        self.store.answer_many(answers, f"oracle:{c.oracle}:{c.teacher}")

    def _wait_for_person(self, wanted: int) -> None:
        self.store.set_state("trainer", "waiting for labels")
        desc = f"rankings to label (prefrl label {self.out})"
        with tqdm(total=wanted, unit="label", desc=desc, disable=not self.progress) as bar:
            while (left := self.store.count_queries("pending")) > 0:
                bar.n = wanted - left
                bar.refresh()
                time.sleep(0.5)
        self.store.set_state("trainer", "training")

    def _groups(self) -> tuple[list[rm.Group], list[Comparison], dict[int, dict]]:
        return labelled_groups(self.store)

    def _agreement(self, groups: list[rm.Group], comparisons: list[Comparison], payloads: dict) -> dict[str, float]:
        """Elo from the same labels, and how Elo, the reward model and the gold scores agree."""
        elo = elo_ratings(comparisons, seed=self.config.seed)
        scores: dict[int, float] = {}
        for start in range(0, len(groups), 16):
            batch = groups[start : start + 16]
            r = join(
                self.tokenizer, [g.prompt for g in batch for _ in g.completions],
                [t for g in batch for t in g.completions], [e for g in batch for e in g.ended], self.config.device,
                context=lm.context_length(self.reference),
            )  # fmt: skip
            s = self.reward.score(r).tolist()
            scores.update(zip([i for g in batch for i in g.item_ids], s))
        ids = sorted(set(elo) & set(scores))
        e, s, gold = (np.array([d[i] for i in ids]) for d in (elo, scores, {i: payloads[i]["gold"] for i in ids}))
        return {
            "elo_label_agreement": pairwise_agreement(comparisons, elo),
            "rm_label_agreement": pairwise_agreement(comparisons, scores),
            "elo_rm_spearman": spearman(e, s),
            "elo_gold_spearman": spearman(e, gold),
            "rm_gold_spearman": spearman(s, gold),
        }

    def _evaluate(self, prompts: list[str]) -> dict[str, float]:
        """Mean gold and proxy score of the current policy on held-out prompts, and its KL to the reference."""
        from prefrl.text.sampling import forward

        self.optimiser.policy.eval()
        gen = torch.Generator().manual_seed(12345)
        r = generate(self.optimiser.policy, self.tokenizer, prompts, self.config.ppo.max_new_tokens,
                     self.config.ppo.temperature, gen)  # fmt: skip
        with torch.no_grad():
            logp, _, _ = forward(self.optimiser.policy, r, self.config.ppo.temperature)
            ref, _, _ = forward(self.reference, r, self.config.ppo.temperature)
            kl = float(((logp - ref) * r.completion_mask).sum(1).mean())
            proxy = self.reward.score(r) + self.config.ppo.no_eos_penalty * (~r.ended).float()
        return {"gold": float(np.mean(self._gold(prompts, decode(self.tokenizer, r)))), "proxy": float(proxy.mean()),
                "kl": kl}  # fmt: skip

    def _normalise(self, cycle: int) -> None:
        prompts = self.task.sample_prompts(self.config.normalise_samples, seed=self.config.seed * 1000 + 500 + cycle)
        self.reward.normalise(self._rollouts(self.reference, prompts))

    def run(self) -> list[dict[str, float]]:
        """Run the remaining cycles; returns the cycles.csv rows."""
        c = self.config
        self._load_models()
        eval_prompts = self.task.sample_prompts(c.eval_prompts, seed=c.seed * 1000 + 999)
        pool = self.task.sample_prompts(max(c.ppo.batch_size * c.ppo_iterations, 256), seed=c.seed * 1000 + 777)
        first = int(self.store.get_state("cycles_done", "0"))  # type: ignore[arg-type]
        for cycle in range(first, c.cycles):
            self._collect(cycle)
            self._label()
            groups, comparisons, payloads = self._groups()
            row: dict[str, Any] = {"cycle": cycle, "labels": self.store.count_labels(), "groups": len(groups)}
            self._say(
                f"cycle {cycle + 1}/{c.cycles}: reward model on {row['labels']} labels from {len(groups)} rankings"
            )
            row.update(rm.fit(self.reward, self.tokenizer, groups, progress=self.progress))
            self._normalise(cycle)
            row.update(self._agreement(groups, comparisons, payloads))
            before = self._evaluate(eval_prompts)
            row.update(gold_before=before["gold"], proxy_before=before["proxy"])
            if isinstance(self.optimiser, TextDPO):  # DPO learns from the labels themselves
                self.optimiser.set_preferences(preferences(groups))
            self._ppo(cycle, pool, row["labels"])
            after = self._evaluate(eval_prompts)
            row.update(gold_after=after["gold"], proxy_after=after["proxy"], kl_after=after["kl"],
                       wall_time=time.time() - self.started)  # fmt: skip
            self._save_policy()
            self.reward.save(self.out / "reward_model")
            append_row(self.out / "cycles.csv", CYCLE_FIELDS, row)
            self.store.set_state("kl_beta", str(self.optimiser.kl.beta))
            self.store.set_state("cycles_done", str(cycle + 1))
            self._say(
                f"cycle {cycle + 1}: reward model held-out accuracy {row['rm_val_accuracy']:.2f}; "
                f"gold {before['gold']:+.3f} -> {after['gold']:+.3f}, proxy {before['proxy']:+.3f} -> "
                f"{after['proxy']:+.3f}, KL {after['kl']:.2f} nats"
            )
            plot(self.out)
        self.store.set_state("trainer", "finished")
        return read_rows(self.out / "cycles.csv")

    def _ppo(self, cycle: int, pool: list[str], labels: int) -> None:
        c = self.config
        metrics = self.out / "metrics.csv"
        done = [r for r in read_rows(metrics) if int(r["cycle"]) == cycle]
        bar = tqdm(range(c.ppo_iterations), desc=f"PPO cycle {cycle + 1}", disable=not self.progress, leave=False)
        for it in bar:
            if it < len(done):
                continue
            start = ((cycle * c.ppo_iterations + it) * c.ppo.batch_size) % len(pool)
            prompts = (pool + pool)[start : start + c.ppo.batch_size]
            stats = self.optimiser.step(prompts, lambda r: self.reward.score(r.to(self.config.device)), self._gold)
            stats.update(cycle=cycle, iteration=cycle * c.ppo_iterations + it, labels=labels,
                         wall_time=time.time() - self.started)  # fmt: skip
            append_row(metrics, METRIC_FIELDS, stats)
            bar.set_postfix(kl=f"{stats['kl']:.2f}", score=f"{stats['score']:+.2f}", gold=f"{stats['gold']:+.2f}")


def plot(out: Path) -> Path | None:
    """gold_vs_proxy.png: proxy (reward model) and gold (oracle) scores per PPO iteration, against KL."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_rows(out / "metrics.csv")
    if not rows:
        return None
    kl = np.array([r["kl"] for r in rows])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    it = np.array([r["iteration"] for r in rows])
    for key, label in (("score", "proxy (reward model)"), ("gold", "gold (oracle)")):
        axes[0].plot(it, [r[key] for r in rows], label=label)
        axes[1].scatter(kl, [r[key] for r in rows], s=10, label=label)
    for r in read_rows(out / "cycles.csv"):
        axes[0].axvline((r["cycle"] + 1) * (len(rows) / max(1, len({int(x["cycle"]) for x in rows}))), color="grey",
                        lw=0.5)  # fmt: skip
    axes[0].set_xlabel("PPO iteration (grey: end of a cycle; the proxy is refitted each cycle)")
    axes[0].set_ylabel("mean score of a batch")
    axes[1].set_xlabel("KL to the initial policy (nats per completion)")
    axes[1].set_ylabel("mean score")
    axes[0].legend()
    axes[1].set_title("over-optimisation: gold against proxy as KL grows")
    fig.tight_layout()
    path = out / "gold_vs_proxy.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
