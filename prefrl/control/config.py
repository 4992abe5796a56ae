"""A run's settings: `TrainConfig`, recorded as config.json in the run folder, resolved (env presets and derived
defaults filled in) so that a config compares and a run repeats; and the checks that refuse bad settings in one line
before anything is written."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from prefrl.control.policy_reset import default_reset
from prefrl.control.ppo_config import PPOConfig, ppo_config_for, ppo_problems
from prefrl.control.random_behaviour import INITIAL_BEHAVIOURS
from prefrl.control.segments import segment_length
from prefrl.core.records import format_version
from prefrl.core.reward_config import RewardConfig, reward_config_problems
from prefrl.core.schedule import PAPER_HALVING, LabelSchedule, default_halving
from prefrl.core.selection import STRATEGIES
from prefrl.core.teachers import PRESETS as TEACHERS
from prefrl.core.teachers import Teacher, as_teacher, make_teacher
from prefrl.errors import PrefrlError
from prefrl.media.clips import ClipConfig
from prefrl.overrides import check_types
from prefrl.user_code import is_code_spec, load, spec_of

HUMAN = "human"
CUSTOM = "custom"
"""The recorded teacher of a run labelled by a teacher object handed to `Trainer` or `train` from Python."""
CONFIG_VERSION = 3
"""The format of config.json: 1 before the version was recorded, 2 from then on, 3 once a preference run's policy
reset had a default (an unset reset in an older file meant none). A newer one is refused."""
REWARD_LEVELS = {"auto": None, "keep": True, "zero": False}
"""TrainConfig.reward_level -> RewardEnsemble.predict's keep_level."""
REWARD_INPUTS = ("state-action", "transition")
"""What the reward model may see per step (TrainConfig.reward_input)."""


@dataclass
class TrainConfig:
    """Everything a run needs; saved as config.json in the run folder so `--resume` rebuilds the same run."""

    env: str = "HalfCheetah-v5"
    """A gymnasium id, or module:EnvClass for an env of your own, with Box observations and Box actions (from Python,
    the class or a module-level function making the env; it is recorded as module:name)."""
    reward: str = field(default="learned", metadata={"choices": ["learned", "true"]})
    """learned: PPO optimises the reward ensemble; true: the env's reward (the baseline)."""
    teacher: str = "perfect"
    """Who labels: a synthetic preset (perfect; noisy: Boltzmann beta=1 on per-step means; mistake: 10% flipped;
    skip: skips clips below 10% of the mean return; equal: ties within 10%; myopic: gamma 0.9); human: a person, in
    `prefrl label RUN` windows while the run trains; or module:name, a teacher of your own (an object with label(a, b)
    and observe(returns), its class, or a function label(a, b) of two clips with .obs, .actions and .true_rewards,
    returning left, right, equal or incomparable)."""
    beta: float | None = None
    """Teacher's Boltzmann rationality (default: the preset's; inf = exact)."""
    epsilon: float | None = None
    """Teacher's mistake probability (default: the preset's)."""
    teacher_gamma: float | None = None
    """Myopic teacher: weight of step t of an H-step clip is gamma^(H-1-t) (default: the preset's)."""
    eps_skip: float | None = None
    """Teacher skips a query when both returns are below eps_skip x the mean clip return (default: the preset's)."""
    eps_equal: float | None = None
    """Teacher answers equal when returns differ by less than eps_equal x the mean clip return (default: the
    preset's)."""
    skip_costs_budget: bool = field(default=True, metadata={"flag": "--free-skips", "invert": True})
    """A skipped query uses up a label, as a person's time would (--free-skips: it does not, and is asked again)."""
    labels: int = 700
    """Label budget."""
    timesteps: int = 1_000_000
    """PPO environment steps (the random policy's steps before PPO starts come on top, and are logged)."""
    seed: int = 0
    """Random seed: a run repeats exactly on one machine."""
    selection: str = "disagreement"
    """How queries are chosen: disagreement (highest variance of P(a>b) across the ensemble among candidate pairs),
    entropy (highest mean member entropy), recent (random pairs from the last episodes), top (random pairs among the
    clips the ensemble rates best), upper-disagreement (disagreement among the better-rated half), random; or
    module:name, a strategy of your own: a function (clips, member_returns, n, rng) -> n pairs of clip indices,
    given the recent clips (with .obs, .actions, .true_rewards) and each ensemble member's predicted return of each
    clip (M x N)."""
    candidate_factor: int = 10
    """Disagreement, entropy and upper-disagreement draw this many times more candidate pairs than they ask."""
    recent_episodes: int = 10
    """The recent strategy pairs clips of the policy's last this-many episodes."""
    top_share: float = 0.1
    """The top strategy pairs clips among this share of the query pool that the ensemble rates best (at least twice
    as many clips as pairs asked)."""
    initial_fraction: float = 0.25
    """Share of the budget labelled from the random policy before PPO starts."""
    initial_behaviour: str = field(default="uniform", metadata={"choices": list(INITIAL_BEHAVIOURS)})
    """How the random policy before PPO acts: uniform (i.i.d. uniform actions, the paper's) or varied (each clip's
    stretch draws its own action scale and smoothness, so the up-front clips differ in more than noise)."""
    label_halving: float | None = field(default=None, metadata={"metavar": "STEPS"})
    """Steps T after which the label rate, proportional to h / (T + h), has halved (default: a sixteenth of
    --timesteps, which asks about half the labels after the up-front share in the first fifth of training; the
    paper's 2e6 barely decays over runs much shorter than that: docs/notes/label-schedule.md)."""
    clip_seconds: float = 1.5
    """Length of a clip in simulated seconds, the paper's 1-2 s that a person can judge; converted to steps with the
    env's timestep and capped at its episode length (a whole Reacher episode is 1 s)."""
    segment_length: int | None = None
    """Steps per clip, instead of --clip-seconds."""
    query_batch: int | None = None
    """Ask (and refit) once at least this many labels are due (default: 2% of the budget, at least 1)."""
    refit_lag: int = field(default=0, metadata={"metavar": "ROLLOUTS"})
    """Rollouts PPO goes on with the old reward model after an ask. Refits run in a worker process; with 0 the new
    model rewards the very next rollout, as a refit in the training process would, and the fit overlaps PPO's update
    and that rollout; more overlaps more rollouts, in the spirit of the paper's asynchronous trainer (see
    docs/notes/wall-clock.md for what it costs). The switch is fixed by the step count, never by the worker's speed."""
    max_lag: int | None = field(default=None, metadata={"metavar": "LABELS"})
    """Human teacher: PPO waits at the end of a rollout while more than this many asked-for labels are unanswered,
    so a person's labels shape the run they were asked for (default: 5% of the budget, at least 1)."""
    no_wait: bool = False
    """Human teacher: never wait for labels after the up-front ones (the paper's fully asynchronous mode)."""
    overlap: float = 0.0
    """Human teacher: this share of queries goes to a second annotator too, to measure agreement (`prefrl label RUN
    --stats`); the second label costs no budget and trains like any other."""
    buffer_size: int = 2000
    """Queries are drawn from this many most recent clips."""
    exploration: float = 0.0
    """Optimism where the reward model is unsure: the reward PPO sees gains this times the spread (std) of the
    ensemble members' normalised predictions of each step, fading to 0 by the end of the run (RUNE, Liang et al.
    2022); 0 turns it off."""
    policy_reset: int | None = field(default=None, metadata={"metavar": "STEPS"})
    """Preference runs: at the first rollout from this step PPO starts afresh, once (new policy and value weights, new
    optimiser), on the reward model as it is then, and labels go on being asked of the new policy (default: a fifth
    of --timesteps, by when most early labels are in; 0: never). A policy fitted to the early, poor reward models
    can stay on what they taught it (docs/notes/per-task.md)."""
    policy_reset_keep: float = 0.0
    """Preference runs: the share of the old policy's weights kept at the policy reset; the rest is a fresh draw
    (shrink and perturb). 0 starts PPO wholly afresh."""
    policy_reset_check: float = field(default=0.0, metadata={"metavar": "SHARE"})
    """Preference runs: at this share of --timesteps the policy from before the policy reset (kept aside at it) and
    the fresh one each run a few episodes, and the one the reward model of that moment rates higher trains on; 0: no
    check. A fresh policy can fall into a trap the old one had escaped (docs/notes/per-task.md)."""
    fresh_model_at_reset: bool = False
    """Preference runs: at the policy reset the reward model starts afresh too (new weights, fitted with the first
    fit's passes on every label so far) instead of going on from its warm-started refits. Off by default: it did not
    gain across tasks (docs/notes/per-task.md)."""
    reward_level: str = field(default="auto", metadata={"choices": list(REWARD_LEVELS)})
    """The learned reward's level against the 0 after an episode ends: auto keeps it where labelled clips were cut
    short by the end of an episode (the comparisons fix it); where none was, it is mean 0 (the paper's) until an
    episode is seen to end by itself, and from then on floored at 0 over recent steps, so ending an episode never
    pays more than the worst step seen; zero (the paper's) or keep always."""
    reward_input: str = field(default="state-action", metadata={"choices": list(REWARD_INPUTS)})
    """What the reward model sees per step: state-action (the observation and the action, the paper's) or transition
    (the observation each step led to as well, so that a reward of where a step led, such as Reacher-v5's distance
    after the step, is a function of what the model sees; docs/notes/per-task.md)."""
    clips_dir: str = field(default="clips", metadata={"flag": "--clips", "metavar": "DIR"})
    """Where clips for a person are rendered, as <clips>/<run name>/<clip id>.mp4."""
    instruction: str | None = None
    """The question a labelling window shows above the clips (default: "Which one moves forward faster?")."""
    clip_size: int = 384
    """Clip width and height in pixels (human teacher): the size a labelling window shows them at."""
    clip_fps: float | None = None
    """Clip frame rate (default: real time, at most 60 frames/s)."""
    camera: str | None = None
    """MuJoCo camera to film clips with (default: 'track', which follows the agent)."""
    render_workers: int = 2
    """Processes rendering clips for a human teacher, each with one long-lived renderer."""
    eval_freq: int | None = None
    """Evaluate every this many steps (default: 20 evaluations per run, at least 4 PPO rollouts apart)."""
    eval_episodes: int = 5
    """Episodes of the deterministic policy, on the true reward, per evaluation."""
    device: str = "cpu"
    """cpu or cuda."""
    threads: int = 1
    """torch threads of PPO and the reward model's predictions; 1 is fastest for these small networks."""
    fit_threads: int = 1
    """torch threads of the worker process that fits the reward model beside PPO's updates; more than the cores PPO
    leaves free slow both (docs/notes/wall-clock.md). Fixed for a run: a fit's weights can depend on its threads."""
    progress: bool = field(default=True, metadata={"flag": "--quiet", "invert": True})
    """Show a progress bar (--quiet: none)."""
    ppo: PPOConfig = field(default=None, metadata={"settings": PPOConfig})  # type: ignore[assignment]
    """PPO settings, shared by both arms: the env's preset (prefrl/control/ppo_config.py) with these changed
    (from Python, a dict of them, or a whole PPOConfig)."""
    reward_model: RewardConfig = field(default_factory=RewardConfig)
    """Reward-model settings (from Python, a dict of them, or a whole RewardConfig)."""

    def __post_init__(self) -> None:
        if callable(self.env):  # an env class or factory of the user's own, recorded as module:name
            self.env = spec_of(self.env, "env")
        if callable(self.selection):  # a strategy of the user's own, likewise
            self.selection = spec_of(self.selection, "selection")
        if self.ppo is None or isinstance(self.ppo, dict):
            self.ppo = ppo_config_for(self.env, **(self.ppo or {}))
        if isinstance(self.reward_model, dict):
            self.reward_model = RewardConfig(**self.reward_model)

    @property
    def sees_transitions(self) -> bool:
        """The reward model sees each step's next observation too (`reward_input` transition)."""
        return self.reward_input == "transition"

    def to_dict(self) -> dict[str, Any]:
        """What config.json holds: every setting, and the version of its format."""
        return {"version": CONFIG_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A config read back from config.json; a value of the wrong type is refused (ValueError) rather than
        failing later, deep inside a run, and one from a newer prefrl is refused (PrefrlError) rather than guessed."""
        data = dict(data)
        version = format_version(data, CONFIG_VERSION)
        if version == 1:  # before versions were recorded; the oldest folders predate these settings
            data.setdefault("label_halving", PAPER_HALVING)  # they ran the paper's h
            data.setdefault("refit_lag", 0)  # and their refits were in use from the next rollout
        if version <= 2 and data.get("policy_reset") is None:
            data["policy_reset"] = 0  # no reset was the default then
        ppo, rm = data.pop("ppo", {}), data.pop("reward_model", {})
        for kind, values, where in ((cls, data, ""), (PPOConfig, ppo, "ppo."), (RewardConfig, rm, "reward_model.")):
            if not isinstance(values, dict):
                raise ValueError(f"{where.rstrip('.')} is {values!r}, not an object")
            try:
                check_types(kind, values)
            except ValueError as exc:
                raise ValueError(f"{where}{exc}") from None
        ppo = PPOConfig(**{k: v for k, v in ppo.items() if k in {f.name for f in fields(PPOConfig)}})
        rm = {k: v for k, v in rm.items() if k in {f.name for f in fields(RewardConfig)}}
        if "l2_band" in rm:
            rm["l2_band"] = tuple(rm["l2_band"])
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known}, ppo=ppo, reward_model=RewardConfig(**rm))

    def resolved(self) -> TrainConfig:
        """Defaults that depend on other settings or on the env filled in, as config.json records them, so configs
        compare."""
        n = self.ppo.n_steps
        eval_freq = self.eval_freq or max(4 * n, (self.timesteps // 20) // n * n)
        if self.reward != "learned":  # no labels, no schedule, no clips, no reset
            return replace(
                self, eval_freq=eval_freq, label_halving=None, segment_length=None, refit_lag=0, policy_reset=None
            )
        halving = default_halving(self.timesteps) if self.label_halving is None else self.label_halving
        reset = default_reset(self.timesteps) if self.policy_reset is None else self.policy_reset
        steps = self.segment_length
        if steps is None:
            from prefrl.control.envs import env_facts

            facts = env_facts(self.env)
            steps = segment_length(facts.dt, self.clip_seconds, facts.horizon)
        return replace(self, eval_freq=eval_freq, label_halving=halving, segment_length=steps, policy_reset=reset)


def read_config(folder: Path) -> TrainConfig:
    """A run folder's config.json; a damaged one, or a value of the wrong type, is named in one line."""
    from prefrl.control import run_folder as rf

    path = folder / rf.CONFIG
    try:
        return TrainConfig.from_dict(rf.read_json(path))
    except PrefrlError as exc:
        raise PrefrlError(f"{path} holds {exc}") from None
    except (ValueError, TypeError) as exc:
        raise PrefrlError(f"{path} is not readable ({exc}); restore it from a copy, or start a new run") from None


def clip_config(config: TrainConfig) -> ClipConfig:
    """How the run's clips are rendered (the trainer ahead of a person, a window re-rendering a lost clip)."""
    return ClipConfig(width=config.clip_size, height=config.clip_size, fps=config.clip_fps, camera=config.camera,
                      steps=config.segment_length)  # fmt: skip


def check_segment_length(steps: int) -> None:
    if steps < 1:
        raise PrefrlError(f"--segment-length counts steps per clip and must be at least 1, not {steps}")


def check_buffer_size(clips: int) -> None:
    if clips < 2:
        raise PrefrlError(f"--buffer-size counts the clips queries are drawn from: at least 2, not {clips}")


def check_device(device: str) -> None:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise PrefrlError("--device cuda was asked for but this machine has no usable CUDA GPU; use --device cpu")
    if not (device == "cpu" or device.startswith("cuda")):
        raise PrefrlError(f"unknown device {device!r}; use cpu or cuda")


def load_teacher(spec: str) -> Teacher:
    """The teacher `--teacher module:name` names, or a one-line error."""
    try:
        return as_teacher(load(spec, "--teacher"))
    except TypeError as exc:
        raise PrefrlError(f"--teacher {spec}: {exc}") from None


def validate(config: TrainConfig, teacher: object | None = None) -> None:
    """Reject bad settings with one-line, fixable messages before anything is written. `teacher`: the teacher object
    the run will be handed, if any."""
    import gymnasium as gym

    from prefrl.control.envs import check_env_id, check_filming, env_facts

    check_env_id(config.env)
    facts = env_facts(config.env)  # makes the env once: a missing extra or unusable spaces fail here
    check_device(config.device)
    if config.reward not in ("learned", "true"):
        raise PrefrlError(f"--reward must be 'learned' or 'true', not {config.reward!r}")
    if config.timesteps <= 0:
        raise PrefrlError("--timesteps must be positive")
    if not 0 <= config.seed < 2**32:
        raise PrefrlError(f"--seed must be between 0 and 2**32 - 1, not {config.seed}")
    if config.eval_episodes < 1:
        raise PrefrlError(f"--eval-episodes must be at least 1, not {config.eval_episodes}")
    if config.eval_freq is not None and config.eval_freq < 1:
        raise PrefrlError(
            f"--eval-freq counts steps between evaluations and must be at least 1, not {config.eval_freq}"
        )
    if problems := ppo_problems(config.ppo):
        raise PrefrlError(f"--ppo {problems[0]}")
    if config.timesteps < config.ppo.n_steps:
        raise PrefrlError(
            f"--timesteps {config.timesteps} is less than one PPO rollout ({config.ppo.n_steps} steps); ask for more"
        )
    if config.reward == "learned":
        if config.labels <= 0:
            raise PrefrlError("--labels must be positive")
        if teacher is not None:
            try:
                as_teacher(teacher)
            except TypeError as exc:
                raise PrefrlError(str(exc)) from None
        elif config.teacher == CUSTOM:
            raise PrefrlError(f"teacher={CUSTOM!r} is a teacher object: hand it over as Trainer(..., teacher=...)")
        elif is_code_spec(config.teacher):
            load_teacher(config.teacher)
        elif config.teacher not in TEACHERS and config.teacher != HUMAN:
            raise PrefrlError(
                f"unknown --teacher {config.teacher!r}; choose one of {', '.join([*TEACHERS, HUMAN])}, "
                "or name your own as module:name"
            )
        if config.teacher in TEACHERS:
            try:
                make_teacher(config.teacher, beta=config.beta, epsilon=config.epsilon, gamma=config.teacher_gamma,
                             eps_skip=config.eps_skip, eps_equal=config.eps_equal)  # fmt: skip
            except ValueError as exc:
                raise PrefrlError(f"teacher settings: {exc}") from None
        if is_code_spec(config.selection):
            load(config.selection, "--selection")
        elif config.selection not in STRATEGIES:
            raise PrefrlError(
                f"unknown --selection {config.selection!r}; choose one of {', '.join(STRATEGIES)}, or name your own "
                "as module:name"
            )
        if not 0 < config.top_share <= 1:
            raise PrefrlError(f"--top-share must be above 0 and at most 1, not {config.top_share}")
        if config.reward_input not in REWARD_INPUTS:
            raise PrefrlError(f"--reward-input must be one of {', '.join(REWARD_INPUTS)}, not {config.reward_input!r}")
        if config.reward_level not in REWARD_LEVELS:
            raise PrefrlError(f"--reward-level must be one of {', '.join(REWARD_LEVELS)}, not {config.reward_level!r}")
        if not 0 <= config.policy_reset_keep < 1:
            raise PrefrlError(f"--policy-reset-keep must be at least 0 and below 1, not {config.policy_reset_keep}")
        reset = default_reset(config.timesteps) if config.policy_reset is None else config.policy_reset
        if not 0 <= config.policy_reset_check < 1:
            raise PrefrlError(f"--policy-reset-check must be at least 0 and below 1, not {config.policy_reset_check}")
        if config.policy_reset_check and not (reset > 0 and reset < config.policy_reset_check * config.timesteps):
            raise PrefrlError(
                f"--policy-reset-check {config.policy_reset_check}: the check must come after the policy reset "
                f"(step {reset} of {config.timesteps}) and before the end, as a share of --timesteps; 0 turns it off"
            )
        if config.policy_reset is not None and not 0 <= config.policy_reset < config.timesteps:
            raise PrefrlError(
                f"--policy-reset {config.policy_reset}: a reset must come before --timesteps ({config.timesteps}); "
                "0 turns it off"
            )
        if not (math.isfinite(config.exploration) and config.exploration >= 0):
            raise PrefrlError(f"--exploration must be 0 or more, not {config.exploration}")
        if not (math.isfinite(config.clip_seconds) and config.clip_seconds > 0):
            raise PrefrlError(f"--clip-seconds must be a positive number of seconds, not {config.clip_seconds}")
        if config.teacher == HUMAN and not facts.mujoco:
            if config.camera is not None:
                raise PrefrlError(f"--camera chooses a MuJoCo camera; {config.env} is filmed with its env.render()")
            check_filming(config.env)  # its clips are filmed as it runs, not re-rendered later
        if not (math.isfinite(config.overlap) and 0 <= config.overlap <= 1):
            raise PrefrlError(f"--overlap is a share of the queries, in [0, 1], not {config.overlap}")
        if config.max_lag is not None and config.max_lag < 0:
            raise PrefrlError(f"--max-lag counts labels a person may fall behind by: 0 or more, not {config.max_lag}")
        if config.teacher == HUMAN and facts.mujoco and config.camera is not None:
            env = gym.make(config.env)
            model = env.unwrapped.model  # type: ignore[attr-defined]
            names = [model.camera(i).name for i in range(model.ncam)]
            env.close()
            if config.camera not in names:
                raise PrefrlError(f"{config.env} has no camera {config.camera!r}; choose one of {names}")
        if problems := reward_config_problems(config.reward_model):
            key, _, rest = problems[0].partition("=")  # --members has a flag of its own
            raise PrefrlError(f"--members {rest}" if key == "members" else f"--reward-model {problems[0]}")
        if not 16 <= config.clip_size <= 4096:
            raise PrefrlError(
                f"--clip-size is the clips' width and height in pixels, 16 to 4096, not {config.clip_size}"
            )
        if config.clip_fps is not None and not (math.isfinite(config.clip_fps) and config.clip_fps > 0):
            raise PrefrlError(f"--clip-fps must be a positive frame rate, not {config.clip_fps}")
        check_buffer_size(config.buffer_size)
        if config.candidate_factor < 1 or (config.query_batch or 1) < 1:
            raise PrefrlError("--candidate-factor and --query-batch must be at least 1")
        if config.refit_lag < 0:
            raise PrefrlError(f"--refit-lag counts rollouts and must be 0 or more, not {config.refit_lag}")
        if config.fit_threads < 1:
            raise PrefrlError(f"--fit-threads must be at least 1, not {config.fit_threads}")
        if config.segment_length is not None:
            check_segment_length(config.segment_length)
        try:
            schedule = LabelSchedule(config.labels, config.timesteps, config.initial_fraction, config.label_halving)
        except ValueError as exc:
            raise PrefrlError(f"label schedule: {exc}") from None
        steps = config.segment_length or segment_length(facts.dt, config.clip_seconds, facts.horizon)
        up_front = random_segments_needed(schedule.initial) * steps
        if up_front > UP_FRONT_LIMIT * config.timesteps:
            raise PrefrlError(
                f"--labels {config.labels} asks {schedule.initial} labels before PPO starts, from about {up_front} "
                f"steps of random behaviour, more than {UP_FRONT_LIMIT}x the run's {config.timesteps} steps; lower "
                "--labels (or --initial-fraction) or raise --timesteps"
            )


UP_FRONT_LIMIT = 10
"""The random policy's steps before PPO starts may be at most this many times the run's PPO steps: beyond that the
label budget cannot be the point of the run."""


def random_segments_needed(initial_labels: int) -> int:
    """Clips the random policy records before PPO starts: twice the up-front labels, plus some to choose from."""
    return max(2 * initial_labels + 10, 20)
