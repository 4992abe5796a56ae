"""The paper's loop: PPO rollouts -> segments -> queries -> labels -> reward-model fit -> PPO, with a true-reward twin.

One `Trainer` drives stable-baselines3 through its public API and a callback; PPO itself is never forked.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize
from tqdm import tqdm

from prefrl.control import run_folder as rf
from prefrl.control.envs import check_env_id, check_filming, env_facts, make_env
from prefrl.control.ppo_config import PPOConfig, new_ppo, ppo_config_for, ppo_problems
from prefrl.control.segments import Segment, SegmentBuffer, SegmentCutter, batch_features, segment_length
from prefrl.control.wrappers import LearnedRewardVecEnv, RolloutRewardNormalize, fill_rollout_rewards
from prefrl.core.background_fit import BackgroundFitter
from prefrl.core.comparisons import PreferenceDataset
from prefrl.core.reward import RewardConfig, RewardEnsemble, reward_config_problems
from prefrl.core.schedule import PAPER_HALVING, LabelSchedule, default_halving
from prefrl.core.selection import STRATEGIES, select_pairs
from prefrl.core.store import LabelStore
from prefrl.core.teachers import PRESETS as TEACHERS
from prefrl.core.teachers import Teacher, as_teacher, make_teacher
from prefrl.errors import PrefrlError
from prefrl.media.clips import ClipConfig, RenderPool
from prefrl.overrides import check_types
from prefrl.plots import plot_learning_curve
from prefrl.user_code import is_code_spec, load

HUMAN = "human"
CUSTOM = "custom"
"""The recorded teacher of a run labelled by a teacher object handed to `Trainer` or `train` from Python."""
REWARD_LEVELS = {"auto": None, "keep": True, "zero": False}
"""TrainConfig.reward_level -> RewardEnsemble.predict's keep_level."""


@dataclass
class TrainConfig:
    """Everything a run needs; saved as config.json in the run folder so `--resume` rebuilds the same run."""

    env: str = "HalfCheetah-v5"
    """Gymnasium id, or module:EnvClass, of an env with Box observations and Box actions."""
    reward: str = "learned"
    """'learned': PPO optimises the reward ensemble; 'true': the env's reward (the baseline)."""
    teacher: str = "perfect"
    """Synthetic teacher preset; 'human' (queries wait in the store for `prefrl label` windows); `module:name`, a
    teacher of your own (an object with label(a, b), its class, or a function labelling a pair); or 'custom', the
    teacher object handed to `Trainer`/`train`."""
    beta: float | None = None
    """Teacher's Boltzmann rationality (None: the preset's, inf = deterministic)."""
    epsilon: float | None = None
    """Teacher's mistake probability (None: the preset's)."""
    teacher_gamma: float | None = None
    """Myopic teacher: weight of step t of an H-step clip is gamma^(H-1-t) (None: the preset's)."""
    eps_skip: float | None = None
    """Teacher skips a query when both returns are below eps_skip x the mean clip return (None: the preset's)."""
    eps_equal: float | None = None
    """Teacher answers 'equal' when returns differ by less than eps_equal x the mean clip return (None: preset's)."""
    skip_costs_budget: bool = True
    """A skipped query uses up a label, as a person's time would; False asks again instead."""
    labels: int = 700
    """Label budget."""
    timesteps: int = 1_000_000
    """PPO environment steps (the initial random-policy steps come on top and are logged)."""
    seed: int = 0
    selection: str = "disagreement"
    """How queries are chosen: disagreement, entropy, recent or random (prefrl/core/selection.py)."""
    candidate_factor: int = 10
    """Disagreement and entropy draw this many times more candidate pairs than they ask."""
    recent_episodes: int = 10
    """The 'recent' strategy pairs segments of the policy's last this-many episodes."""
    initial_fraction: float = 0.25
    """Share of the budget labelled from the random policy before PPO starts."""
    label_halving: float | None = None
    """Steps T after which the label rate, proportional to h / (T + h), has halved (None: a sixteenth of
    `timesteps`, resolved into config.json). The paper's h = 2e6 barely lowers the rate over a run much shorter than
    2M steps (docs/notes/label-schedule.md)."""
    clip_seconds: float = 1.5
    """Length of a clip in simulated seconds, the paper's 1-2 s that a person can judge; converted to steps with the
    env's timestep and capped at its episode length (a whole Reacher episode is 1 s)."""
    segment_length: int | None = None
    """Steps per clip (None: `clip_seconds` converted; resolved into config.json)."""
    query_batch: int | None = None
    """Ask once at least this many labels are due (None: 2% of the budget, at least 1); each ask refits."""
    refit_lag: int = 0
    """Rollouts PPO goes on with the old reward model after an ask. Every refit runs in a worker process; with 0 the
    new model rewards the very next rollout, as a refit in the training process would, and the worker overlaps
    PPO's update of the rollout just collected and the next rollout itself (whose reward is predicted when it
    ends). A lag of k overlaps k rollouts more, in the spirit of the paper's asynchronous trainer, but on Hopper-v5
    a lag of 2 cost return (docs/notes/wall-clock.md).
    The new model is put in use at a point fixed by the step count (the next ask, if sooner), so a run's course
    depends on this lag and never on how fast the worker was."""
    max_lag: int | None = None
    """Human teacher: at the end of a rollout PPO waits while more than this many asked-for labels are unanswered,
    so a person's labels shape the run they were asked for (None: 5% of the budget, at least 1)."""
    no_wait: bool = False
    """Human teacher: never wait for labels after the up-front ones (the paper's fully asynchronous mode)."""
    buffer_size: int = 2000
    """Recent segments that queries are drawn from."""
    reward_level: str = "auto"
    """The learned reward's level: 'auto' keeps it where labelled clips ended early (a fall fixes what ending an
    episode is worth) and zeroes it elsewhere; 'keep' or 'zero' (the paper's normalisation) always."""
    clips_dir: str = "clips"
    """Where clips of queried segments are rendered, as <clips_dir>/<run name>/<segment id>.mp4 (human teacher)."""
    instruction: str | None = None
    """The question a labelling window shows above the clips (None: "Which one moves forward faster?")."""
    clip_size: int = 256
    """Clip width and height in pixels (human teacher)."""
    clip_fps: float | None = None
    """Clip frame rate (None: real time, at most 60 frames/s)."""
    camera: str | None = None
    """Camera of the model to film with (None: 'track', which follows the agent)."""
    render_workers: int = 2
    """Processes rendering clips for a human teacher, each with one long-lived renderer."""
    eval_freq: int | None = None
    """Evaluate every this many steps (None: 20 evaluations per run, at least 4 PPO rollouts apart)."""
    eval_episodes: int = 5
    device: str = "cpu"
    threads: int = 1
    """torch threads of PPO and the reward model's predictions; 1 is fastest for these small networks."""
    fit_threads: int = 1
    """torch threads of the worker process that fits the reward model. PPO's update overlaps each fit, so one thread
    here and PPO's one fill two cores. More threads than cores spin against each other: beside a one-thread PPO
    update, a HalfCheetah-sized fit step took 23 ms with two threads against 10 ms with one, and the update took 1.4x
    as long (7 ms a step with two threads alone). Fixed for a run: a fit's weights can depend on its threads."""
    progress: bool = True
    ppo: PPOConfig = None  # type: ignore[assignment]  (filled in by __post_init__)
    """PPO settings, shared by both arms; None takes the env's preset (`ppo_config_for`), as `prefrl train` does."""
    reward_model: RewardConfig = field(default_factory=RewardConfig)

    def __post_init__(self) -> None:
        if self.ppo is None:
            self.ppo = ppo_config_for(self.env)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A config read back from config.json; a value of the wrong type is refused (ValueError) rather than
        failing later, deep inside a run."""
        data = dict(data)
        data.setdefault("label_halving", PAPER_HALVING)  # run folders from before the setting ran the paper's h
        data.setdefault("refit_lag", 0)  # and their refits were in use from the next rollout
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
        if self.reward != "learned":  # no labels, no schedule, no clips
            return replace(self, eval_freq=eval_freq, label_halving=None, segment_length=None, refit_lag=0)
        halving = default_halving(self.timesteps) if self.label_halving is None else self.label_halving
        steps = self.segment_length
        if steps is None:
            facts = env_facts(self.env)
            steps = segment_length(facts.dt, self.clip_seconds, facts.horizon)
        return replace(self, eval_freq=eval_freq, label_halving=halving, segment_length=steps)


def read_config(folder: Path) -> TrainConfig:
    """A run folder's config.json; a damaged one, or a value of the wrong type, is named in one line."""
    path = folder / rf.CONFIG
    try:
        return TrainConfig.from_dict(rf.read_json(path))
    except (ValueError, TypeError) as exc:
        raise PrefrlError(f"{path} is not readable ({exc}); restore it from a copy, or start a new run") from None


def clip_config(config: TrainConfig) -> ClipConfig:
    """How the run's clips are rendered (the trainer ahead of a person, a window re-rendering a lost clip)."""
    return ClipConfig(width=config.clip_size, height=config.clip_size, fps=config.clip_fps, camera=config.camera)


def check_segment_length(steps: int) -> None:
    if steps < 1:
        raise PrefrlError(f"--segment-length counts steps per clip and must be at least 1, not {steps}")


def check_buffer_size(clips: int) -> None:
    if clips < 2:
        raise PrefrlError(f"--buffer-size counts the clips queries are drawn from: at least 2, not {clips}")


def check_device(device: str) -> None:
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
        if config.selection not in STRATEGIES:
            raise PrefrlError(f"unknown --selection {config.selection!r}; choose one of {', '.join(STRATEGIES)}")
        if config.reward_level not in REWARD_LEVELS:
            raise PrefrlError(f"--reward-level must be one of {', '.join(REWARD_LEVELS)}, not {config.reward_level!r}")
        if not (math.isfinite(config.clip_seconds) and config.clip_seconds > 0):
            raise PrefrlError(f"--clip-seconds must be a positive number of seconds, not {config.clip_seconds}")
        if config.teacher == HUMAN and not facts.mujoco:
            if config.camera is not None:
                raise PrefrlError(f"--camera chooses a MuJoCo camera; {config.env} is filmed with its env.render()")
            check_filming(config.env)  # its clips are filmed as it runs, not re-rendered later
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


def train(
    config: TrainConfig, out: str | Path, resume: bool = False, teacher: object | None = None
) -> dict[str, float]:
    """What `prefrl train` runs: validate the settings, then train (or, with resume, continue) the run in `out`.
    `teacher`: a teacher of your own (see `prefrl.core.teachers.as_teacher`), recorded as 'custom'. Returns the last
    evaluation's metrics row."""
    if teacher is not None:
        config = replace(config, teacher=CUSTOM)
    validate(config, teacher)
    return Trainer(config, Path(out), resume=resume, teacher=teacher).run()


BARREN_EPISODES = 20
"""The random policy gives up after this many episodes in a row end with no clip cut from them."""


def no_clips_error(env_id: str, steps: int, longest: int) -> PrefrlError:
    """Episodes cut short by the env itself (not by a fall, not by a time limit) shorter than a clip yield none."""
    return PrefrlError(
        f"no {steps}-step clip fits in {env_id}'s episodes: {BARREN_EPISODES} in a row were cut short after at most "
        f"{longest} steps; pass --segment-length {max(longest, 1)} or less (or a smaller --clip-seconds)"
    )


def query_is_due(config: TrainConfig, owed: int, timesteps: int) -> bool:
    """Ask (and refit) once a batch of labels is owed, 2% of the budget unless `query_batch` says otherwise, and
    for whatever is still owed when training ends."""
    batch = config.query_batch or max(1, config.labels // 50)
    return owed >= batch or (owed > 0 and timesteps >= config.timesteps)


@dataclass
class _InFlight:
    """A refit running in the worker: what its reward change is measured on, and the rollout that installs it."""

    features: np.ndarray
    before: np.ndarray | None
    install_at: int


def reward_change(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """How a refit moved the reward the agent sees on the same recent steps: its correlation with the old reward,
    the slope of new on old, and the change of its mean per step (`level_shift`).

    PPO's value function was fitted to `before`; a slope or level far from (1, 0) is a reward it has to relearn,
    even when the correlation says the refit kept the reward's shape.
    """
    spread = float(before.std())
    corr = float(np.corrcoef(before, after)[0, 1]) if spread > 0 and after.std() > 0 else float("nan")
    slope = float(np.cov(before, after, bias=True)[0, 1] / spread**2) if spread > 0 else float("nan")
    return {"correlation": corr, "slope": slope, "level_shift": float(after.mean() - before.mean())}


class Trainer:
    """Runs (or resumes) one training run in one folder."""

    def __init__(self, config: TrainConfig, out: Path, resume: bool = False, teacher: object | None = None) -> None:
        if teacher is not None:
            config = replace(config, teacher=CUSTOM)
        elif config.teacher == CUSTOM and config.reward == "learned":
            raise PrefrlError(f"teacher={CUSTOM!r} is a teacher object: hand it over as Trainer(..., teacher=...)")
        self.config = c = config.resolved()  # recorded resolved, so a later change of a default leaves this run be
        self.out = Path(out)
        self.resume = resume
        facts = env_facts(c.env)
        self.seg_len: int = c.segment_length or 1  # type: ignore[assignment]  (resolved; unused without labels)
        self.keep_level = REWARD_LEVELS[c.reward_level]
        self.obs_dim, self.act_dim, self.mujoco = facts.obs_dim, facts.act_dim, facts.mujoco
        self.dt = facts.dt
        self.eval_freq: int = c.eval_freq  # type: ignore[assignment]  (resolved)
        self.learned = c.reward == "learned"
        self.rng = np.random.default_rng(c.seed)
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock = rf.RunLock(self.out)  # one trainer per run folder, held until close()
        if not resume:  # config before store: a window that sees the store must find the config beside it
            rf.write_json(self.out / rf.CONFIG, asdict(c))
        self.store = LabelStore(self.out / rf.STORE, create=not resume)
        self.buffer = SegmentBuffer(c.buffer_size)
        self.cutter = SegmentCutter(1, self.seg_len, seconds_per_step=facts.dt)
        self.segments: dict[int, Segment] = {}  # labelled items, by store id
        self._stored: dict[int, int] = {}  # id() of a segment object -> its store id, so a segment is stored once
        self.pretrain_steps = 0
        self.wall_offset = 0.0
        self.refit_seconds = 0.0  # choosing queries, labelling (synthetic teachers), refitting or waiting for one
        self.fit_seconds = 0.0  # fitting the reward model, in this process or the worker
        self.reward_step_seconds = 0.0  # predicting each rollout's reward and cutting segments at every step
        self.update_seconds = 0.0  # PPO's gradient updates (both arms): with the next two, where a run's time went
        self.eval_seconds = 0.0  # evaluations, plots and checkpoints
        self._in_refit_timer = False
        self.human = self.learned and c.teacher == HUMAN
        self.frame_size = c.clip_size if self.human and not self.mujoco else None
        """Human runs on an env without MuJoCo state film every step at this size (its clips cannot be re-rendered)."""
        self.render_pool: RenderPool | None = None
        self.fitted_on = -1  # labels the reward model was last fitted on (human runs refit when this changes)
        self.last_refit_change: dict[str, float] | None = None  # how the last refit moved the reward (TensorBoard)
        self.fitter: BackgroundFitter | None = None  # the process that fits the reward model, started at the first fit
        self._in_flight: _InFlight | None = None
        self.reward_env: LearnedRewardVecEnv | None = None  # the training env's learned-reward layer (learned runs)
        self.reward_norm: RolloutRewardNormalize | None = None  # and its reward normalisation, if PPO normalises
        self.rollouts = 0  # PPO rollouts finished in this process: refits in flight are installed by this count
        if self.learned:
            self.schedule = LabelSchedule(c.labels, c.timesteps, c.initial_fraction, c.label_halving)
            self.teacher: Teacher | None = (
                None if self.human
                else as_teacher(teacher) if teacher is not None
                else load_teacher(c.teacher) if is_code_spec(c.teacher)
                else make_teacher(
                    c.teacher, seed=c.seed, beta=c.beta, epsilon=c.epsilon, gamma=c.teacher_gamma,
                    eps_skip=c.eps_skip, eps_equal=c.eps_equal,
                )
            )  # fmt: skip
            self.ensemble = RewardEnsemble(self.obs_dim + self.act_dim, c.reward_model, seed=c.seed, device=c.device)
        if self.human:
            self.store.set_state("budget", str(c.labels))
            self.store.set_state("clips_dir", str(Path(c.clips_dir).resolve()))
            self.store.set_state("run_name", self.out.resolve().name)
            if c.instruction:
                self.store.set_state("instruction", c.instruction)

    # environments ---------------------------------------------------------------------------------------------
    def _train_env(self) -> VecNormalize | VecEnv:
        venv: VecEnv = DummyVecEnv([lambda: make_env(self.config.env, record_state=False, frame_size=self.frame_size)])
        venv.seed(self.config.seed)
        if not self.learned:
            return VecNormalize(venv, gamma=self.config.ppo.gamma) if self.config.ppo.normalize else venv
        # segments need the MuJoCo state to re-render; the wrapper records it. The reward of a rollout is predicted
        # in one batch once it ends (reward_rollout), after any refit due for it is put in use
        self.reward_env = LearnedRewardVecEnv(
            venv, self._predicted_reward, self._on_env_step, record_state=self.mujoco, defer=True
        )
        if self.config.ppo.normalize:
            self.reward_norm = RolloutRewardNormalize(self.reward_env, gamma=self.config.ppo.gamma)
            return self.reward_norm
        return self.reward_env

    def _eval_env(self) -> VecEnv:
        # one env per evaluation episode, stepped together, so the policy runs batched
        venv: VecEnv = DummyVecEnv([lambda: make_env(self.config.env, record_state=False)] * self.config.eval_episodes)
        venv.seed(self.config.seed + 10_000)
        if self.config.ppo.normalize:
            venv = VecNormalize(venv, training=False, norm_reward=False)
        return venv

    def _predicted_reward(self, features: np.ndarray) -> np.ndarray:
        return self.ensemble.predict(features, keep_level=self.keep_level)

    def reward_rollout(self, buffer: RolloutBuffer, last_values: torch.Tensor, dones: np.ndarray) -> None:
        """The rollout just collected gets its learned reward, predicted in one batch (see `fill_rollout_rewards`)."""
        start = time.perf_counter()
        assert self.reward_env is not None, "reward_rollout is for learned-reward runs"
        fill_rollout_rewards(buffer, self.reward_env, self.reward_norm, last_values, dones)
        self.reward_step_seconds += time.perf_counter() - start

    def _on_env_step(self, obs, actions, true_rewards, dones, infos) -> None:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        self.buffer.extend(self.cutter.add(obs, actions, true_rewards, dones, infos))
        self.reward_step_seconds += time.perf_counter() - start

    @contextmanager
    def _refit_timer(self) -> Iterator[None]:
        """Adds the block's wall time to `refit_seconds`, once when blocks nest (a query refits)."""
        if self._in_refit_timer:
            yield
            return
        self._in_refit_timer, start = True, time.perf_counter()
        try:
            yield
        finally:
            self._in_refit_timer = False
            self.refit_seconds += time.perf_counter() - start

    # labels and the reward model ------------------------------------------------------------------------------
    def _collect_random_segments(self, n_segments: int) -> None:
        """Roll out the random policy until the buffer holds n_segments (the paper's initial label source)."""
        env = make_env(self.config.env, frame_size=self.frame_size)
        cutter = SegmentCutter(1, self.seg_len, seconds_per_step=self.dt)
        obs, _ = env.reset(seed=self.config.seed + 20_000)
        env.action_space.seed(self.config.seed)
        collected = barren = steps = longest = cut = 0  # barren: episodes in a row that ended with no clip cut
        while collected < n_segments:  # count what was cut, not the buffer's length: the buffer may be smaller
            action = env.action_space.sample()
            next_obs, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            info["TimeLimit.truncated"] = truncated and not terminated
            segments = cutter.add(obs[None], action[None], np.array([reward]), np.array([done]), [info])
            self.buffer.extend(segments)
            collected += len(segments)
            self.pretrain_steps += 1
            steps, cut = steps + 1, cut + len(segments)
            if done:
                barren = 0 if cut else barren + 1
                longest, steps, cut = max(longest, steps), 0, 0
                if barren >= BARREN_EPISODES:
                    env.close()
                    raise no_clips_error(self.config.env, self.seg_len, longest)
            obs = env.reset()[0] if done else next_obs
        env.close()

    def query(self, n: int, lag: int | None = None) -> None:
        """Choose n pairs from recent segments, have the teacher label them, store everything, refit the model (in
        use after `lag` more rollouts; None: at once)."""
        with self._refit_timer():
            self.install_refit()  # pairs are chosen by the newest model
            self._query(n, lag)

    def _query(self, n: int, lag: int | None) -> None:
        candidates = self.buffer.recent()
        if len(candidates) < 2:
            return
        items, mask = batch_features(candidates, self.seg_len)
        fitted = self.ensemble.fits > 0
        returns = self.ensemble.member_returns(items, mask) if fitted else np.zeros((1, len(candidates)))
        strategy = self.config.selection if fitted else "random"
        rows = select_pairs(
            strategy, returns, n, self.rng, self.config.candidate_factor, recent=self._recent_mask(candidates, n)
        )
        new = [candidates[r] for r in np.unique(rows) if id(candidates[r]) not in self._stored]
        for seg, item_id in zip(new, self.store.add_items("segment", [s.to_bytes() for s in new])):
            self._stored[id(seg)] = item_id
            self.segments[item_id] = seg
        query_ids = self.store.add_queries(
            [(self._stored[id(candidates[a])], self._stored[id(candidates[b])]) for a, b in rows]
        )
        if self.human:  # a person answers through `prefrl label`; render the clips ahead of them
            pool = self._render_pool()
            for seg in {id(candidates[r]): candidates[r] for r in np.unique(rows)}.values():
                pool.submit(self._stored[id(seg)], seg.to_bytes())
            return
        assert self.teacher is not None
        self.teacher.observe(np.array([s.true_return for s in candidates]))
        label = self.teacher.label
        answers = [(q, label(candidates[a], candidates[b])) for q, (a, b) in zip(query_ids, rows)]
        self.store.answer_many(answers, annotator=f"oracle:{self.teacher.name}")
        self._refit(lag)

    def _recent_mask(self, candidates: list[Segment], n: int) -> np.ndarray:
        """Segments of the last `recent_episodes` episodes (at least 2n segments): the policy's current behaviour."""
        mask = np.zeros(len(candidates), dtype=bool)
        episodes: set[int] = set()
        for i in range(len(candidates) - 1, -1, -1):  # newest first
            episodes.add(candidates[i].episode)
            if len(episodes) > self.config.recent_episodes and mask.sum() >= 2 * n:
                break
            mask[i] = True
        return mask

    def _render_pool(self) -> RenderPool:
        if self.render_pool is None:
            c = self.config
            self.render_pool = RenderPool(
                c.env, Path(c.clips_dir).resolve(), self.out.resolve().name, clip_config(c), workers=c.render_workers,
                renders=self.mujoco,
            )  # fmt: skip
        return self.render_pool

    def wait_for_initial_labels(self) -> None:
        """Block (only here, before PPO starts) until a person has answered the up-front queries."""
        self.store.set_state("trainer", "waiting for labels")
        wanted = self.schedule.initial
        answered = self.store.count_queries() - self.store.count_queries("pending")
        with tqdm(
            total=wanted,
            initial=min(answered, wanted),
            unit="label",
            disable=not self.config.progress,
            desc="up-front labels (prefrl label " + str(self.out) + ")",
        ) as bar:
            while answered < wanted:
                time.sleep(0.5)
                answered = self.store.count_queries() - self.store.count_queries("pending")
                bar.n = min(answered, wanted)
                bar.refresh()
        self._refit()

    def labels_asked(self) -> int:
        """Queries that count against the budget (skipped ones only when skips cost budget)."""
        asked = self.store.count_queries()
        return asked if self.config.skip_costs_budget else asked - self.store.count_queries("skipped")

    def labels_given(self) -> int:
        """Synthetic runs: queries asked (a skip spends budget too); human runs: labels that stand."""
        if not self.learned:
            return 0
        return self.store.count_labels() if self.human else self.store.count_queries()

    def max_lag(self) -> int:
        """Unanswered labels a person may fall behind by before PPO waits for them."""
        c = self.config
        return c.max_lag if c.max_lag is not None else max(1, round(0.05 * c.labels))

    def wait_for_person(self) -> None:
        """Human runs: hold PPO while the person is more than `max_lag` labels behind the queries asked."""
        if self.config.no_wait or self.store.count_queries("pending") <= self.max_lag():
            return
        self.store.set_state("trainer", "waiting for labels")
        while self.store.count_queries("pending") > self.max_lag():
            time.sleep(0.5)
        self.store.set_state("trainer", "running")

    def refit_if_new_labels(self, last: bool = False) -> None:
        """Human runs: labels arrive whenever a person gives them; refit when there are new ones, never wait, except
        after the `last` rollout, where the final model takes in every label given."""
        if last:
            self.install_refit()
        if self._in_flight is None and self.store.count_labels() != self.fitted_on:
            self._refit(None if last else self.config.refit_lag)

    def _labelled_data(self) -> tuple[np.ndarray, np.ndarray, PreferenceDataset]:
        comparisons = self.store.comparisons()
        missing = sorted({i for c in comparisons for i in (c.a, c.b)} - set(self.segments))
        for item_id, payload in self.store.items(missing).items():
            self.segments[item_id] = Segment.from_bytes(payload)
        order = sorted(self.segments)
        row_of = {item_id: row for row, item_id in enumerate(order)}
        items, mask = batch_features([self.segments[i] for i in order], self.seg_len)
        return items, mask, PreferenceDataset.from_comparisons(comparisons, row_of)

    def _refit(self, lag: int | None = None) -> None:
        """Fit the reward model on every label so far, in the worker process. The new model is put in use before the
        rollout `lag` rollouts after the next one (0: the next one); None waits for it and puts it in use now."""
        with self._refit_timer():
            self.install_refit()  # one fit at a time, in order
            self.fitted_on = self.store.count_labels()
            items, mask, data = self._labelled_data()
            if len(data) == 0:
                return
            recent = self.buffer.recent(500) or [self.segments[i] for i in sorted(self.segments)]
            r_items, r_mask = batch_features(recent, self.seg_len)
            features = r_items[r_mask.astype(bool)]
            before = self.ensemble.predict(features, keep_level=self.keep_level) if self.ensemble.fits > 0 else None
            self._fitter().submit(items, mask, data, features)
            self._in_flight = _InFlight(features, before, install_at=self.rollouts + (lag or 0))
            if lag is None:
                self.install_refit()

    def install_refit(self, due_only: bool = False) -> None:
        """Put the fit in flight into the reward PPO sees, waiting for the worker if it is not done; with `due_only`,
        only once its lag is over (checked when each rollout ends, before it is rewarded, and before evaluations)."""
        job = self._in_flight
        if job is None or (due_only and self.rollouts < job.install_at):
            return
        with self._refit_timer():
            assert self.fitter is not None
            result = self.fitter.result()
            self._in_flight = None
            self.ensemble.load_state(result.state)
            self.fit_seconds += result.seconds
            self._installed(job.features, job.before)

    def _installed(self, features: np.ndarray, before: np.ndarray | None) -> None:
        if before is not None:
            self.last_refit_change = reward_change(before, self.ensemble.predict(features, keep_level=self.keep_level))
        self.ensemble.save(self.out / rf.REWARD)

    def _fitter(self) -> BackgroundFitter:
        if self.fitter is None:
            c = self.config
            self.fitter = BackgroundFitter(self.obs_dim + self.act_dim, c.reward_model, c.seed, c.device, c.fit_threads)
            if self.ensemble.fits > 0:  # a resumed run: the worker starts from its checkpoint
                self.fitter.load_state(self.ensemble.state())
        return self.fitter

    def close(self) -> None:
        """Stop the helper processes: clip renderers and the reward-model worker (a refit in flight is dropped; the
        labels it would have used are in the store, and a resumed run refits on them)."""
        self._lock.release()
        self._close_pool()
        if self.fitter is not None:
            self.fitter.close()
            self.fitter = None
            self._in_flight = None

    def reward_model_accuracy(self, n_pairs: int = 500) -> float:
        """How often the ensemble orders pairs of recent segments as their true returns do (ties left out)."""
        segs = self.buffer.recent(500)
        if len(segs) < 2:
            return float("nan")
        items, mask = batch_features(segs, self.seg_len)
        predicted = self.ensemble.member_returns(items, mask).mean(0)
        true = np.array([s.true_return for s in segs])
        rows = np.random.default_rng(0).integers(0, len(segs), size=(n_pairs, 2))
        dt, dp = true[rows[:, 0]] - true[rows[:, 1]], predicted[rows[:, 0]] - predicted[rows[:, 1]]
        decided = dt != 0
        return float(np.mean(np.sign(dt[decided]) == np.sign(dp[decided]))) if decided.any() else float("nan")

    # the run --------------------------------------------------------------------------------------------------
    def run(self) -> dict[str, float]:
        """Train to the configured number of timesteps; returns the last evaluation row."""
        c = self.config
        torch.set_num_threads(c.threads)
        torch.manual_seed(c.seed)
        start = time.time()
        venv = self._train_env()
        eval_env = self._eval_env()
        try:  # a failed first fit, or Ctrl-C while waiting for a person, must not leave the fit worker running
            model = self._start_policy(venv)
        except BaseException:
            self.close()
            raise
        if self.resume:  # once restored: continuing may have extended the run's length or label budget
            rf.write_json(self.out / rf.CONFIG, asdict(c))
        callback = _LoopCallback(self, eval_env, start)
        if self.learned:
            self.store.set_state("trainer", "running")
        try:
            if model.num_timesteps == 0:
                callback.evaluate(model, 0)
            remaining = c.timesteps - model.num_timesteps
            if remaining > 0:
                model.learn(remaining, callback=callback, reset_num_timesteps=False, tb_log_name="ppo")
            if callback.last_row is None:  # nothing left to train: report the run's last evaluation, or make one
                rows = rf.read_metrics(self.out)
                if rows and rows[-1]["timesteps"] >= model.num_timesteps:
                    callback.last_row = rows[-1]
                else:
                    callback.evaluate(model, model.num_timesteps)
        except KeyboardInterrupt:
            callback.checkpoint(model)
            raise
        finally:
            callback.close()
            self.close()
            if self.learned:
                self.store.set_state("trainer", "finished" if model.num_timesteps >= c.timesteps else "stopped")
        assert callback.last_row is not None
        return callback.last_row

    def _start_policy(self, venv: VecEnv) -> PPO:
        """The policy to train: restored from the checkpoint, or new after the up-front labels were fitted."""
        if self.resume and ((self.out / rf.CHECKPOINT).exists() or (self.out / rf.POLICY).exists()):
            return self._restore(venv)
        if self.learned and self.store.count_queries() == 0:
            self.store.set_state("trainer", "collecting initial labels")
            self._fitter()  # the worker imports torch (~2 s) on the other core while the random policy runs
            self._collect_random_segments(random_segments_needed(self.schedule.initial))
            self.query(self.schedule.initial)
        if self.human:
            try:
                self.wait_for_initial_labels()
            except KeyboardInterrupt:
                self.store.set_state("trainer", "stopped")
                raise
        return self._new_policy(venv)

    def _new_policy(self, venv: VecEnv) -> PPO:
        c = self.config
        return new_ppo(c.ppo, venv, seed=c.seed, device=c.device, tensorboard_log=str(self.out / rf.TENSORBOARD))

    def _close_pool(self) -> None:
        if self.render_pool is not None:
            self.render_pool.close()
            self.render_pool = None

    def _restore(self, venv: VecEnv) -> PPO:
        model = self._new_policy(venv)  # rebuilt from config.json; the checkpoint holds weights only
        rf.load_policy(model, self.out)
        if isinstance(venv, VecNormalize):
            rf.load_vecnormalize(venv, self.out)
        progress = rf.read_progress(self.out)
        self.pretrain_steps = int(progress.get("pretrain_steps", 0))
        self.wall_offset = float(progress.get("wall_time", 0.0))
        self.refit_seconds = float(progress.get("refit_seconds", 0.0))
        self.fit_seconds = float(progress.get("fit_seconds", 0.0))
        self.reward_step_seconds = float(progress.get("reward_step_seconds", 0.0))
        self.update_seconds = float(progress.get("update_seconds", 0.0))
        self.eval_seconds = float(progress.get("eval_seconds", 0.0))
        rf.truncate_metrics(self.out, model.num_timesteps)
        if self.learned:
            if (self.out / rf.REWARD).exists():
                try:
                    self.ensemble.load(self.out / rf.REWARD)
                except Exception as exc:
                    raise PrefrlError(
                        f"{self.out / rf.REWARD} is unreadable ({type(exc).__name__}); delete it to refit the reward "
                        "model from the run's labels (all are kept), or restore it"
                    ) from None
            self._refit()  # takes in labels given after the last checkpoint
        return model


class _LoopCallback(BaseCallback):
    """Hooks the preference loop into SB3: labels after each rollout, evaluation and checkpoints on a schedule."""

    plot_every_s = 120.0
    """The learning curve is redrawn at most this often (and always after the last evaluation): a two-panel figure
    costs ~0.7 s, which 25 evaluations of a 20-minute run turned into 1.5% of its time."""

    def __init__(self, trainer: Trainer, eval_env: VecEnv, start: float) -> None:
        super().__init__()
        self.t = trainer
        self.eval_env = eval_env
        self.start = start
        self.last_row: dict[str, float] | None = None
        c = trainer.config
        self.bar = tqdm(total=c.timesteps, unit="step", disable=not c.progress, dynamic_ncols=True, desc=c.env)
        self.next_eval = 0
        self.plotted_at = -math.inf
        self.update_started: float | None = None  # PPO's update runs between a rollout's end and the next's start

    def _on_training_start(self) -> None:
        f = self.t.eval_freq
        self.next_eval = (self.num_timesteps // f + 1) * f
        self.bar.n = self.num_timesteps
        self.bar.refresh()

    def _on_rollout_start(self) -> None:
        self._end_update()

    def _on_training_end(self) -> None:
        self._end_update()

    def _end_update(self) -> None:
        if self.update_started is not None:
            self.t.update_seconds += time.perf_counter() - self.update_started
            self.update_started = None

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        return True

    def _on_rollout_end(self) -> None:
        """Labels first, then (on schedule) evaluation, so each metrics row counts the labels given so far (with
        refit_lag > 0 the reward PPO trains on may not have the last ask's yet)."""
        if self.t.learned:
            # a refit asked for after the last rollout has had PPO's update and this rollout to run in; it rewards
            # this rollout, as it would have had it been put in use when the rollout started
            self.t.install_refit(due_only=True)
            self.t.reward_rollout(self.locals["rollout_buffer"], self.locals["values"], self.locals["dones"])
            self.t.rollouts += 1
            asked = self.t.labels_asked()
            owed = self.t.schedule.due(self.num_timesteps) - asked
            last = self.num_timesteps >= self.t.config.timesteps  # the final model gets the final labels
            if query_is_due(self.t.config, owed, self.num_timesteps):
                self.t.query(owed, lag=None if last else self.t.config.refit_lag)
                self._show_progress()
            if self.t.human:
                if not last:
                    self.t.wait_for_person()
                self.t.refit_if_new_labels(last)
            if self.t.last_refit_change is not None:
                for key, value in self.t.last_refit_change.items():
                    self.logger.record(f"prefrl/refit_{key}", value)
                self.t.last_refit_change = None
            self.logger.record("prefrl/labels", asked + max(owed, 0))
        if self.num_timesteps >= self.next_eval or self.num_timesteps >= self.t.config.timesteps:
            self.evaluate(self.model, self.num_timesteps)
            self.next_eval = (self.num_timesteps // self.t.eval_freq + 1) * self.t.eval_freq
        self.update_started = time.perf_counter()

    def evaluate(self, model: PPO, timesteps: int) -> None:
        """True return of the deterministic policy on separate episodes; then a metrics row, plot and checkpoint."""
        # accuracy and the checkpoint are of the model the next rollout gets; the last, of all labels
        if self.t.learned:
            self.t.install_refit(due_only=timesteps < self.t.config.timesteps)
        started = time.perf_counter()
        train_env = model.get_env()
        if isinstance(self.eval_env, VecNormalize) and isinstance(train_env, VecNormalize):
            self.eval_env.obs_rms = train_env.obs_rms.copy()
        rewards, _ = evaluate_policy(
            model,
            self.eval_env,
            n_eval_episodes=self.t.config.eval_episodes,
            deterministic=True,
            return_episode_rewards=True,
        )
        ep_returns = [e["r"] for e in model.ep_info_buffer] if model.ep_info_buffer else []
        row = {
            "timesteps": timesteps,
            "labels": self.t.labels_given(),
            "true_return_mean": float(np.mean(rewards)),
            "true_return_std": float(np.std(rewards)),
            "reward_model_accuracy": self.t.reward_model_accuracy() if self.t.learned else float("nan"),
            "train_true_return": float(np.mean(ep_returns)) if ep_returns else float("nan"),
            "pretrain_steps": self.t.pretrain_steps,
            "wall_time": self.t.wall_offset + time.time() - self.start,
            **self._timing(),
        }
        row["eval_seconds"] += time.perf_counter() - started  # this evaluation too, as wall_time counts it
        rf.append_metrics(self.t.out, row)
        self.last_row = row
        if getattr(self, "model", None) is not None:  # evaluations before learn() starts have no SB3 logger yet
            self.logger.record("prefrl/true_return", row["true_return_mean"])
            if self.t.learned:
                self.logger.record("prefrl/reward_model_accuracy", row["reward_model_accuracy"])
        self._show_progress()
        c = self.t.config
        title = (
            f"{c.env} - " + (f"{c.labels} {c.teacher} labels" if self.t.learned else "true reward") + f", seed {c.seed}"
        )
        if timesteps >= c.timesteps or time.time() - self.plotted_at >= self.plot_every_s:
            plot_learning_curve(rf.read_metrics(self.t.out), self.t.out / rf.CURVE, title)
            self.plotted_at = time.time()
        self.t.eval_seconds += time.perf_counter() - started  # before the checkpoint, which records it...
        started = time.perf_counter()
        self.checkpoint(model)
        self.t.eval_seconds += time.perf_counter() - started  # ...and then its own time

    def _timing(self) -> dict[str, float]:
        """Where the run's time went so far: PPO's updates and the evaluations in both arms, and what the learned
        reward cost in preference runs: the training process's time on queries and refits (waits for the worker
        included) and on per-step prediction. The rest of wall_time is rollouts. `fit_seconds` is the fitting
        itself, in the worker process, where it overlaps PPO's updates (and with refit_lag > 0 its rollouts)."""
        spent = {"update_seconds": self.t.update_seconds, "eval_seconds": self.t.eval_seconds}
        if self.t.learned:
            spent.update(
                refit_seconds=self.t.refit_seconds,
                reward_step_seconds=self.t.reward_step_seconds,
                fit_seconds=self.t.fit_seconds,
            )
        return spent

    def _show_progress(self) -> None:
        """Labels so far and the latest evaluated true return, beside the timestep bar."""
        labels = self.t.labels_given()
        ret = f"{self.last_row['true_return_mean']:.0f}" if self.last_row else "-"
        self.bar.set_postfix(labels=labels, true_return=ret)

    def checkpoint(self, model: PPO) -> None:
        out = self.t.out
        rf.save_policy(model, out)
        env = model.get_env()
        if isinstance(env, VecNormalize):
            rf.save_vecnormalize(env, out)
        if self.t.learned:
            self.t.ensemble.save(out / rf.REWARD)
        rf.write_json(
            out / rf.PROGRESS,
            {
                "timesteps": int(model.num_timesteps),
                "labels": self.t.labels_given(),
                "pretrain_steps": self.t.pretrain_steps,
                "wall_time": self.t.wall_offset + time.time() - self.start,
                **self._timing(),
            },
        )

    def close(self) -> None:
        self.bar.close()
