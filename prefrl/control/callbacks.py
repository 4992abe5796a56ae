"""The SB3 callback that hooks a run into PPO's `learn`: labels after each rollout, then evaluation on the true
reward, the metrics row, the learning curve and a checkpoint on a schedule; PPO's updates timed in between."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from tqdm import tqdm

from prefrl.control import run_folder as rf
from prefrl.plots import plot_learning_curve

if TYPE_CHECKING:
    from prefrl.control.trainer import Trainer


class Evaluator:
    """Evaluates the deterministic policy on the true reward on separate episodes, then writes the metrics row, the
    learning curve (at most every `plot_every_s`) and a checkpoint of everything a resume needs."""

    plot_every_s = 120.0
    """The learning curve is redrawn at most this often (and always after the last evaluation): a two-panel figure
    costs ~0.7 s, which 25 evaluations of a 20-minute run turned into 1.5% of its time."""

    def __init__(self, trainer: Trainer, eval_env: VecEnv, bar: tqdm) -> None:
        self.t = trainer
        self.eval_env = eval_env
        self.bar = bar
        self.last_row: dict[str, float] | None = None
        self.plotted_at = -math.inf

    def evaluate(self, model: PPO, timesteps: int) -> dict[str, float]:
        t, loop = self.t, self.t.loop
        # accuracy and the checkpoint are of the model the next rollout gets; the last, of all labels
        if loop is not None:
            loop.install_refit(due_only=timesteps < t.config.timesteps)
        with t.stopwatch.time("eval"):
            train_env = model.get_env()
            if isinstance(self.eval_env, VecNormalize) and isinstance(train_env, VecNormalize):
                self.eval_env.obs_rms = train_env.obs_rms.copy()
            rewards, _ = evaluate_policy(
                model, self.eval_env, n_eval_episodes=t.config.eval_episodes, deterministic=True,
                return_episode_rewards=True,
            )  # fmt: skip
            ep_returns = [e["r"] for e in model.ep_info_buffer] if model.ep_info_buffer else []
            row = {
                "timesteps": timesteps,
                "labels": loop.labels_given() if loop is not None else 0,
                "true_return_mean": float(np.mean(rewards)),
                "true_return_std": float(np.std(rewards)),
                "reward_model_accuracy": loop.accuracy() if loop is not None else float("nan"),
                "train_true_return": float(np.mean(ep_returns)) if ep_returns else float("nan"),
                "pretrain_steps": loop.pretrain_steps if loop is not None else 0,
                "wall_time": t.wall_time(),
                **t.stopwatch.report(loop is not None),
            }
            rf.append_metrics(t.out, row)
            self.last_row = row
            self.show_progress()
            c = t.config
            arm = f"{c.labels} {c.teacher} labels" if loop is not None else "true reward"
            if timesteps >= c.timesteps or time.time() - self.plotted_at >= self.plot_every_s:
                title = f"{c.env} - {arm}, seed {c.seed}"
                plot_learning_curve(rf.read_metrics(t.out), t.out / rf.CURVE, title, t.policy_reset_at or None)
                self.plotted_at = time.time()
        with t.stopwatch.time("eval"):  # the checkpoint records the time so far, then its own time is added
            t.checkpoint(model)
        return row

    def show_progress(self) -> None:
        """Labels so far and the latest evaluated true return, beside the timestep bar."""
        loop = self.t.loop
        ret = f"{self.last_row['true_return_mean']:.0f}" if self.last_row else "-"
        self.bar.set_postfix(labels=loop.labels_given() if loop is not None else 0, true_return=ret)


class LoopCallback(BaseCallback):
    """After each rollout (rewarded already, by the rollout buffer): the labels the schedule owes, then an evaluation
    when one is due. PPO's update runs between a rollout's end and the next one's start, and is timed."""

    def __init__(self, trainer: Trainer, evaluator: Evaluator) -> None:
        super().__init__()
        self.t = trainer
        self.evaluator = evaluator
        self.next_eval = 0

    def _on_training_start(self) -> None:
        f = self.t.eval_freq
        self.next_eval = (self.num_timesteps // f + 1) * f
        self.evaluator.bar.n = self.num_timesteps
        self.evaluator.bar.refresh()

    def _on_rollout_start(self) -> None:
        self.t.stopwatch.stop("update")
        self.t.reset_policy_if_due(self.model)
        self.t.check_reset_if_due(self.model)

    def _on_training_end(self) -> None:
        self.t.stopwatch.stop("update")

    def _on_step(self) -> bool:
        self.evaluator.bar.update(self.training_env.num_envs)
        return True

    def _on_rollout_end(self) -> None:
        """Labels first, then (on schedule) evaluation, so each metrics row counts the labels given so far (with
        refit_lag > 0 the reward PPO trains on may not have the last ask's yet)."""
        loop = self.t.loop
        if loop is not None:
            asked = loop.after_rollout(self.num_timesteps)
            self.evaluator.show_progress()
            if loop.last_refit_change is not None:
                for key, value in loop.last_refit_change.items():
                    self.logger.record(f"prefrl/refit_{key}", value)
                loop.last_refit_change = None
            self.logger.record("prefrl/labels", asked)
        if self.num_timesteps >= self.next_eval or self.num_timesteps >= self.t.config.timesteps:
            row = self.evaluator.evaluate(self.model, self.num_timesteps)
            self.logger.record("prefrl/true_return", row["true_return_mean"])
            if loop is not None:
                self.logger.record("prefrl/reward_model_accuracy", row["reward_model_accuracy"])
            self.next_eval = (self.num_timesteps // self.t.eval_freq + 1) * self.t.eval_freq
        self.t.stopwatch.start("update")
