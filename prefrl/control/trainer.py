"""A training run in one folder: PPO (stable-baselines3, through its public API) with the preference loop
(loop.py) supplying its reward, or the env's true reward in the baseline arm.

`Trainer` is the Python API of `prefrl train`: `learn()` trains (and resumes: the run folder is its state),
`predict(obs)` acts, `save(path)` / `Trainer.load(path)` copy and reopen a run folder; `policy` and `reward_model`
are the trained SB3 PPO and reward ensemble.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize
from tqdm import tqdm

from prefrl.control import resume as rs
from prefrl.control import run_folder as rf
from prefrl.control.callbacks import Evaluator, LoopCallback
from prefrl.control.config import CUSTOM, TrainConfig, read_config, validate
from prefrl.control.envs import make_env
from prefrl.control.loop import PreferenceLoop
from prefrl.control.policy_reset import reset_policy
from prefrl.control.ppo_config import new_ppo
from prefrl.control.reset_check import PolicySnapshot, check_reset
from prefrl.control.stopwatch import Stopwatch
from prefrl.control.wrappers import LearnedRewardBuffer, LearnedRewardVecEnv, RolloutRewardNormalize
from prefrl.core.reward import RewardEnsemble
from prefrl.core.store import LabelStore
from prefrl.core.teachers import preset_settings
from prefrl.errors import PrefrlError


def train(
    config: TrainConfig, out: str | Path, resume: bool = False, teacher: object | None = None
) -> dict[str, float]:
    """What `prefrl train` runs: validate the settings, then train (or, with resume, continue) the run in `out`.
    `teacher`: a teacher of your own (see `prefrl.core.teachers.as_teacher`), recorded as 'custom'. Returns the last
    evaluation's metrics row."""
    config, teacher = with_teacher(config, teacher)
    validate(config, teacher)
    return Trainer(config, Path(out), resume=resume, teacher=teacher).learn()


def with_teacher(config: TrainConfig, teacher: object | None) -> tuple[TrainConfig, object | None]:
    """The run settings and teacher object a teacher handed over from Python comes to: one of `prefrl.teachers`
    (a synthetic preset) becomes the settings that name it, any other teacher object is recorded as 'custom'."""
    if teacher is None:
        return config, None
    settings = preset_settings(teacher)
    if settings is None:
        return replace(config, teacher=CUSTOM), teacher
    if "gamma" in settings:
        settings["teacher_gamma"] = settings.pop("gamma")
    return replace(config, **settings), None


class Trainer:
    """Trains PPO in one run folder, from preferences or (config.reward='true') from the env's reward.

    :param config: the run's settings (recorded resolved in config.json)
    :param out: the run folder
    :param resume: continue the run already in `out` (its config.json is the one that counts)
    :param teacher: a teacher object of your own (a function of two clips, or an object with label and observe)
    """

    def __init__(
        self, config: TrainConfig, out: str | Path, resume: bool = False, teacher: object | None = None
    ) -> None:
        config, teacher = with_teacher(config, teacher)
        if teacher is None and config.teacher == CUSTOM and config.reward == "learned":
            raise PrefrlError(f"teacher={CUSTOM!r} is a teacher object: hand it over as Trainer(..., teacher=...)")
        self.config = c = config.resolved()  # recorded resolved, so a later change of a default leaves this run be
        self.out = Path(out)
        self.resume = resume
        self.teacher = teacher
        self.eval_freq: int = c.eval_freq  # type: ignore[assignment]  (resolved)
        self.out.mkdir(parents=True, exist_ok=True)
        self._lock: rf.RunLock | None = rf.RunLock(self.out)  # one trainer per run folder, held while it trains
        if not resume:  # config before store: a window that sees the store must find the config beside it
            rf.write_json(self.out / rf.CONFIG, c.to_dict())
        self.store = LabelStore(self.out / rf.STORE, create=not resume)
        done = rs.progress(self.out) if resume else {}
        self.stopwatch = Stopwatch(done)
        self.wall_offset = float(done.get("wall_time", 0.0))
        self.policy_reset_at = int(done.get("policy_reset_at", 0))
        """The step at which PPO was started afresh (--policy-reset); 0 while it has not been."""
        self.reset_checked_at = int(done.get("reset_checked_at", 0))
        """The step at which the reset was checked (--policy-reset-check); 0 while it has not been."""
        self._before_reset: PolicySnapshot | None = None
        if c.reward == "learned" and c.policy_reset_check and self.policy_reset_at and not self.reset_checked_at:
            self._before_reset = PolicySnapshot.load(self.out / rf.BEFORE_RESET)  # a resume, between reset and check
        self.loop: PreferenceLoop | None = (
            PreferenceLoop(c, self.out, self.store, self.stopwatch, teacher) if c.reward == "learned" else None
        )
        if self.loop is not None:
            self.loop.pretrain_steps = int(done.get("pretrain_steps", 0))
        self.policy: PPO | None = None
        """The SB3 PPO being trained (None until `learn` starts it or `load` restores it)."""
        self.venv = self._train_env()
        self._started = time.time()

    @property
    def reward_model(self) -> RewardEnsemble | None:
        """The reward ensemble PPO learns from (None in a true-reward run)."""
        return self.loop.ensemble if self.loop is not None else None

    # environments ---------------------------------------------------------------------------------------------
    def _train_env(self) -> VecNormalize | VecEnv:
        c, loop = self.config, self.loop
        frames = loop.frame_size if loop is not None else None
        venv: VecEnv = DummyVecEnv([lambda: make_env(c.env, record_state=False, frame_size=frames)])
        venv.seed(c.seed)
        if loop is None:
            return VecNormalize(venv, gamma=c.ppo.gamma) if c.ppo.normalize else venv
        # clips need the MuJoCo state to re-render; the wrapper records it. The reward of a rollout is predicted in
        # one batch once it ends (the loop's reward_rollout), after any refit due for it is put in use
        loop.reward_env = LearnedRewardVecEnv(
            venv, loop.predicted_reward, loop.on_env_step, record_state=loop.mujoco, defer=True,
            transition=c.sees_transitions,
        )  # fmt: skip
        if c.ppo.normalize:
            loop.reward_norm = RolloutRewardNormalize(loop.reward_env, gamma=c.ppo.gamma)
            return loop.reward_norm
        return loop.reward_env

    def _eval_env(self) -> VecEnv:
        # one env per evaluation episode, stepped together, so the policy runs batched
        c = self.config
        venv: VecEnv = DummyVecEnv([lambda: make_env(c.env, record_state=False)] * c.eval_episodes)
        venv.seed(c.seed + 10_000)
        if c.ppo.normalize:
            venv = VecNormalize(venv, training=False, norm_reward=False)
        return venv

    # the policy -----------------------------------------------------------------------------------------------
    def _new_policy(self) -> PPO:
        c = self.config
        model = new_ppo(
            c.ppo, self.venv, seed=c.seed, device=c.device, tensorboard_log=str(self.out / rf.TENSORBOARD),
            rollout_buffer_class=LearnedRewardBuffer if self.loop is not None else None,
        )  # fmt: skip
        if self.loop is not None:  # the buffer hands each finished rollout to the loop for its learned reward
            model.rollout_buffer.before_returns = self.loop.reward_rollout  # type: ignore[attr-defined]
        return model

    def _restore(self) -> PPO:
        model = self._new_policy()  # rebuilt from config.json; the checkpoint holds weights only
        rf.load_policy(model, self.out)
        if isinstance(self.venv, VecNormalize):
            rf.load_vecnormalize(self.venv, self.out)
        if self.loop is not None and (self.out / rf.REWARD).exists():
            try:
                self.loop.ensemble.load(self.out / rf.REWARD)
            except Exception as exc:
                raise PrefrlError(
                    f"{self.out / rf.REWARD} is unreadable ({type(exc).__name__}); delete it to refit the reward "
                    "model from the run's labels (all are kept), or restore it"
                ) from None
        return model

    def _start_policy(self, model: PPO | None) -> PPO:
        """The policy to train: the checkpoint's (restored here unless `load` did), refitted on the labels given
        since; or a new one, once the up-front labels were fitted."""
        has_checkpoint = (self.out / rf.CHECKPOINT).exists() or (self.out / rf.POLICY).exists()
        if self.resume and has_checkpoint:
            model = model or self._restore()
            rf.truncate_metrics(self.out, model.num_timesteps)
            if self.loop is not None:
                self.loop.refit()  # takes in labels given after the last checkpoint
            return model
        if self.loop is not None:
            try:
                self.loop.start()
            except KeyboardInterrupt:
                self.store.set_state("trainer", "stopped")
                raise
        return self._new_policy()

    # training -------------------------------------------------------------------------------------------------
    def learn(self, total_timesteps: int | None = None) -> dict[str, float]:
        """Train until the run has `total_timesteps` steps (default: the config's), then return the last evaluation's
        metrics row. More steps than the config's extend the run as `prefrl train --resume --timesteps` does: labels
        already asked stay, and the rest of the budget is spread over the new end. Calling it again continues."""
        if total_timesteps is not None and total_timesteps != self.config.timesteps:
            self._extend(total_timesteps)
        return self.run()

    def _extend(self, timesteps: int) -> None:
        config, _ = rs.continued(self.out, self.config, timesteps, None)
        self.config = config
        rf.write_json(self.out / rf.CONFIG, config.to_dict())
        if self.loop is not None:
            self.loop.extend(config)

    def run(self) -> dict[str, float]:
        """Train to the configured number of timesteps; returns the last evaluation row."""
        c = self.config
        torch.set_num_threads(c.threads)
        torch.manual_seed(c.seed)
        if self._lock is None:
            self._lock = rf.RunLock(self.out)
        self._started = time.time()
        eval_env = self._eval_env()
        try:  # a failed first fit, or Ctrl-C while waiting for a person, must not leave the fit worker running
            self.policy = self._start_policy(self.policy)
        except BaseException:
            self.close()
            raise
        model = self.policy
        if self.resume:  # once restored: continuing may have extended the run's length or label budget
            rf.write_json(self.out / rf.CONFIG, c.to_dict())
        bar = tqdm(total=c.timesteps, unit="step", disable=not c.progress, dynamic_ncols=True, desc=c.env)
        evaluator = Evaluator(self, eval_env, bar)
        if self.loop is not None:
            self.store.set_state("trainer", "running")
        try:
            if model.num_timesteps == 0 and not rf.read_metrics(self.out):  # logged once, resumed or not
                evaluator.evaluate(model, 0)
            remaining = c.timesteps - model.num_timesteps
            if remaining > 0:
                callback = LoopCallback(self, evaluator)
                model.learn(remaining, callback=callback, reset_num_timesteps=False, tb_log_name="ppo")
                with self.stopwatch.time("eval"):  # the last evaluation came before PPO's last update: keep it too
                    self.checkpoint(model)
            if evaluator.last_row is None:  # nothing left to train: report the run's last evaluation, or make one
                rows = rf.read_metrics(self.out)
                if rows and rows[-1]["timesteps"] >= model.num_timesteps:
                    evaluator.last_row = rows[-1]
                else:
                    evaluator.evaluate(model, model.num_timesteps)
        except KeyboardInterrupt:
            self.checkpoint(model)
            raise
        finally:
            bar.close()
            eval_env.close()
            self.close()
            if self.loop is not None:
                self.store.set_state("trainer", "finished" if model.num_timesteps >= c.timesteps else "stopped")
            self.resume = True  # what is in the folder now is where a further learn() goes on from
        assert evaluator.last_row is not None
        return evaluator.last_row

    def reset_policy_if_due(self, model: PPO) -> None:
        """At the first rollout from --policy-reset's step on, once per run (resumes included): PPO afresh."""
        at = self.config.policy_reset
        if not at or self.loop is None or self.policy_reset_at or model.num_timesteps < at:
            return
        if self.config.policy_reset_check:  # kept aside on disk too, so a resumed run can still go back to it
            self._before_reset = PolicySnapshot.take(model)
            self._before_reset.save(self.out / rf.BEFORE_RESET)
        reset_policy(model, self.config.policy_reset_keep)
        if self.config.fresh_model_at_reset:
            self.loop.restart_model()
        self.policy_reset_at = int(model.num_timesteps)

    def check_reset_if_due(self, model: PPO) -> None:
        """At the first rollout from --policy-reset-check's share of the run on, once: the fresh policy and the one
        from before the reset run the same episodes, and the one the reward model rates higher trains on."""
        c = self.config
        if not c.policy_reset_check or self.loop is None or not self.policy_reset_at or self.reset_checked_at:
            return
        if model.num_timesteps < c.policy_reset_check * c.timesteps:
            return
        assert self._before_reset is not None, "taken at the reset, or read back on resuming after it"
        result = check_reset(
            model, self._before_reset, c.env, self.loop.predicted_reward, c.sees_transitions, c.seed + 30_000
        )
        self.reset_checked_at = result.timesteps
        self._before_reset = None
        rf.write_json(self.out / rf.RESET_CHECK, asdict(result))
        if c.progress:
            kept = "went back to the policy from before the reset" if result.went_back else "kept the fresh policy"
            tqdm.write(
                f"reset check at {result.timesteps}: learned return {result.fresh_return:.1f} (fresh) against "
                f"{result.kept_return:.1f} (from before the reset); {kept}"
            )

    def wall_time(self) -> float:
        """Seconds the run has trained, over all its sittings."""
        return self.wall_offset + time.time() - self._started

    def checkpoint(self, model: PPO) -> None:
        """Everything a resume needs, each file written atomically: policy, normalisation, reward model, progress."""
        out = self.out
        rf.save_policy(model, out)
        env = model.get_env()
        if isinstance(env, VecNormalize):
            rf.save_vecnormalize(env, out)
        if self.loop is not None:
            self.loop.ensemble.save(out / rf.REWARD)
        rf.write_json(
            out / rf.PROGRESS,
            {
                "timesteps": int(model.num_timesteps),
                "labels": self.loop.labels_given() if self.loop is not None else 0,
                "pretrain_steps": self.loop.pretrain_steps if self.loop is not None else 0,
                "wall_time": self.wall_time(),
                **({"policy_reset_at": self.policy_reset_at} if self.config.policy_reset else {}),
                **({"reset_checked_at": self.reset_checked_at} if self.config.policy_reset_check else {}),
                **self.stopwatch.report(self.loop is not None),
            },
        )

    def close(self) -> None:
        """Let go of the run folder and stop the helper processes; the policy stays for `predict`."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self.loop is not None:
            self.loop.close()

    # using the result -----------------------------------------------------------------------------------------
    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """The policy's action for an observation of the env (one, or a batch), normalised as in training."""
        if self.policy is None:
            raise PrefrlError("the policy has not been trained or loaded yet: call learn() first, or Trainer.load()")
        obs = np.asarray(obs, dtype=np.float32)
        if isinstance(self.venv, VecNormalize):
            obs = self.venv.normalize_obs(obs)
        action, _ = self.policy.predict(obs, deterministic=deterministic)
        return action

    def save(self, path: str | Path) -> Path:
        """A copy of the run folder at `path` (the run folder is the saved form; `Trainer.load` reopens it)."""
        path = Path(path)
        if path.resolve() == self.out.resolve():
            return path
        if path.exists():
            raise PrefrlError(f"{path} already exists; save to a new folder")
        shutil.copytree(self.out, path, ignore=shutil.ignore_patterns(rf.LOCK))
        return path

    @classmethod
    def load(cls, path: str | Path, teacher: object | None = None, **changes: Any) -> Trainer:
        """Reopen a run folder: its policy and reward model restored (weights only, nothing unpickled), ready to
        `predict` or to `learn` further. A run labelled by a teacher object needs it handed over again."""
        path = Path(path)
        config = read_config(path)
        if config.teacher == CUSTOM and teacher is None and config.reward == "learned":
            raise PrefrlError(
                f"{path} was labelled by a teacher object; hand it over again: Trainer.load(..., teacher=...)"
            )
        trainer = cls(replace(config, **changes), path, resume=True, teacher=teacher)
        if (path / rf.CHECKPOINT).exists():
            trainer.policy = trainer._restore()
        trainer.close()  # learn() takes the folder again
        return trainer
