"""Every setting of the text module, as dataclasses with defaults that work.

Kept apart from the code that uses them, and free of torch and transformers imports, so that `prefrl --help` and
reading a run's config.json stay instant.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any

from prefrl.core.records import format_version

TEXT_CONFIG_VERSION = 1
"""The format of a text run's config.json (files from before it was recorded read as 1). A newer one is refused."""


@dataclass
class ModelConfig:
    """A GPT-2 shape. The default (4 layers, 128 wide) writes fluent story text after ~2 minutes on 2 CPU cores."""

    layers: int = 4
    width: int = 128
    heads: int = 4
    context: int = 128
    """Longest sequence in tokens (prompt + completion)."""
    vocab_size: int = 2048
    """Target size of the BPE vocabulary train_tokenizer builds; the model takes len(tokenizer)."""
    dropout: float = 0.0
    """Off by default: these runs are far too short to overfit, and it costs ~25% of throughput."""


@dataclass
class PretrainConfig:
    """Pretraining a small GPT from scratch on generated stories. Training stops at whichever of minutes and
    max_steps runs out first, and the cosine schedule follows that same budget."""

    documents: int = 20000
    """Corpus size: 20k documents are ~1.2M tokens, so a 4-minute run sees each a few times at most."""
    minutes: float = 4.0
    max_steps: int = 5000
    batch_size: int = 16
    """Small batches, many steps: at a fixed 90 s, batch 16 at lr 3e-3 reached held-out 2.33 against 3.73 for
    batch 32 at 1e-3 (warmup 100)."""
    lr: float = 3e-3
    min_lr_fraction: float = 0.1
    warmup_steps: int = 30
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_blocks: int = 64
    """Held-out blocks scored at each evaluation (a fixed subset, so the curve is comparable across evaluations)."""
    held_out_fraction: float = 0.05
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    """CPU threads for torch; None keeps torch's default. Pass 1 when other jobs hold the cores: two threads
    contending with a busy 2-core machine ran 5x slower than one."""
    model: ModelConfig = field(default_factory=ModelConfig)


@dataclass
class SFTConfig:
    """Fine-tuning on (prompt, completion) demonstrations; the loss is on the completion and its eos only."""

    demonstrations: int = 2000
    """How many demonstrations a caller should generate (sft() trains on the pairs it is given)."""
    epochs: float = 1.0
    max_steps: int | None = None
    """A cap on steps, whatever epochs says."""
    batch_size: int = 16
    lr: float = 3e-4
    min_lr_fraction: float = 0.1
    warmup_steps: int = 10
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    held_out_fraction: float = 0.1
    seed: int = 0
    context: int | None = None
    """Longest sequence in tokens; None takes the model's own context length."""


@dataclass
class TextRewardConfig:
    """Reward-model settings; the defaults fit a 4-layer, 128-wide model in well under a minute per cycle."""

    heads: int = 3
    """Scalar heads on the shared trunk (the ensemble)."""
    random_response: float = 0.1
    """As on the control side: P(a>b) = r/2 + (1-r) sigmoid(Ra - Rb)."""
    lr: float = 1e-3
    """Adam learning rate for trunk and heads. On 256 rankings by the positive oracle, 1e-3 for 5 passes reached
    0.72 held-out accuracy where 1e-4 for 3 stayed at chance (0.47)."""
    epochs: int = 5
    """Passes over all labelled groups at each refit (the model is warm-started from the previous cycle)."""
    groups_per_batch: int = 8
    """Rankings (prompts) per gradient step; each brings its K completions and C(K,2) comparisons."""
    val_fraction: float = 0.2
    """Share of rankings held out to measure accuracy (fixed per group id, so it survives refits)."""
    seed: int = 0


@dataclass
class TextPPOConfig:
    """PPO settings; the defaults suit a 4-layer, 128-wide GPT on CPU (about 1-2 s per iteration)."""

    batch_size: int = 64
    """Prompts (one completion each) per iteration."""
    minibatch_size: int = 16
    epochs: int = 4
    """Optimisation passes over each batch."""
    lr: float = 2e-5
    max_new_tokens: int = 96
    """With 96, 97% of the SFT model's stories end by themselves; prompts are at most ~21 tokens of a 128 context."""
    temperature: float = 1.0
    """Sampling temperature; log-probabilities are recomputed at the same temperature."""
    clip: float = 0.2
    """Policy ratio clip."""
    value_clip: float = 0.2
    vf_coef: float = 0.1
    gamma: float = 1.0
    lam: float = 0.95
    kl_coef: float = 0.15
    """Initial beta of the per-token KL penalty (Ziegler et al.: 0.15)."""
    adaptive_kl: bool = True
    """Adapt beta toward kl_target (the controller of Ziegler et al.); False keeps beta fixed."""
    kl_target: float = 6.0
    """Target KL per completion, in nats."""
    kl_horizon: int = 10_000
    """Completions over which the controller closes the gap."""
    no_eos_penalty: float = -1.0
    """Added to the score of a completion that reached max_new_tokens without its end token."""
    max_grad_norm: float = 1.0
    rloo_k: int = 4
    """RLOO: completions sampled per prompt, each baselined by the mean reward of the others."""
    dpo_beta: float = 0.1
    """DPO: how far from the reference the implicit reward lets the policy go (the paper's 0.1)."""


@dataclass
class TextTrainConfig:
    """One RLHF run on text; the defaults run three cycles in a few minutes on 2 CPU cores."""

    out: str = "runs/text"
    model: str | None = None
    """A local Hugging Face causal LM folder (with its tokenizer) to start from (default: pretrain a small GPT on the
    story corpus into OUT/base first)."""
    oracle: str = "positive"
    """The hidden gold score the synthetic teacher ranks by: a built-in oracle (positive, entity, length, norepeat,
    combo; prefrl.text.tasks) or module:callable, a function (prompt, completion) -> float or an object with score()."""
    prompts_file: str | None = None
    """A JSONL file of your own prompts, one {"prompt": ...} a line (default: the built-in story task's)."""
    demos_file: str | None = None
    """A JSONL file of SFT demonstrations, one {"prompt": ..., "completion": ...} a line (default: the story task's)."""
    teacher: str = "perfect"
    """Who ranks: a noise preset applied to the oracle's comparisons (perfect, noisy, mistake, skip, equal, myopic);
    human: a person ranks in `prefrl label OUT` and each cycle waits for their labels (the oracle is then only a gold
    measurement); or module:callable, a teacher of your own: a function label(a, b) of two completions (each with
    .prompt, .completion and .gold) returning left, right, equal or incomparable, or an object with label and
    observe."""
    instruction: str = "Which completion is better?"
    """Shown above the completions in the labelling window."""
    beta: float | None = None
    """Boltzmann rationality of the teacher (default: the preset's)."""
    epsilon: float | None = None
    """Teacher's mistake probability (default: the preset's)."""
    eps_skip: float | None = None
    """Teacher's skip threshold (default: the preset's)."""
    eps_equal: float | None = None
    """Teacher's equal threshold (default: the preset's)."""
    cycles: int = 3
    """Cycles of sample -> rank -> reward model -> PPO; raise it to continue a finished run."""
    prompts_per_cycle: int = field(default=128, metadata={"flag": "--prompts"})
    """Prompts ranked per cycle; each brings K completions and C(K,2) comparisons."""
    k: int = 4
    """Completions per prompt."""
    from_reference: int = 1
    """From the second cycle on, how many of the K completions come from the initial (SFT) policy."""
    optimizer: str = field(default="ppo", metadata={"choices": ["ppo", "rloo", "dpo"]})
    """How the policy learns from the labels: ppo (token-level PPO on the reward model, with a value head), rloo
    (REINFORCE with a leave-one-out baseline over K samples a prompt, no value head), or dpo (straight from the
    store's comparisons against the SFT reference, no reward model in the update). The same sampling, KL and
    metrics for all three."""
    ppo_iterations: int = 25
    """Policy updates per cycle (PPO, RLOO or DPO iterations)."""
    eval_prompts: int = 64
    """Held-out prompts on which gold and proxy are measured before and after each cycle's PPO."""
    normalise_samples: int = 128
    """Reference-policy samples the reward model is normalised on."""
    seed: int = 0
    """Random seed."""
    device: str = "cpu"
    """cpu or cuda."""
    threads: int | None = None
    """CPU threads for torch (default: torch's, one per core; 1 is far faster when other jobs share the cores)."""
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    """Pretraining the base model when no --model is given (PretrainConfig)."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    """Supervised fine-tuning on the demonstrations (SFTConfig)."""
    reward: TextRewardConfig = field(default_factory=TextRewardConfig, metadata={"flag": "--reward-model"})
    """The reward model and its refits (TextRewardConfig)."""
    ppo: TextPPOConfig = field(default_factory=TextPPOConfig)
    """The policy's optimiser, PPO, RLOO or DPO, and its sampling (TextPPOConfig)."""

    def to_dict(self) -> dict[str, Any]:
        """What a text run's config.json holds: every setting, and the version of its format."""
        return {"version": TEXT_CONFIG_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextTrainConfig:
        """A text run's settings read back from config.json; one written by a newer prefrl is refused in one line
        rather than read with its new settings silently dropped."""
        data = dict(data)
        format_version(data, TEXT_CONFIG_VERSION, "text run settings")
        return _from_dict(cls, data)


def _from_dict(cls, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Rebuild a (nested) dataclass config from its asdict() form; unknown keys are ignored."""
    kwargs = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        factory = f.default_factory  # type: ignore[misc]
        if factory is not MISSING and is_dataclass(factory) and isinstance(value, dict):
            value = _from_dict(factory, value)
        elif isinstance(f.default, tuple) and isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)
