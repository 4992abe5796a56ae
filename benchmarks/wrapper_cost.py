"""What the learned-reward wrapper costs per environment step on Hopper-v5, apart from PPO.

    python benchmarks/wrapper_cost.py

Steps VecNormalize(DummyVecEnv(Hopper-v5)) with fixed random actions: plain (the true-reward arm); with
`LearnedRewardVecEnv` predicting at every step (as earlier versions did); and deferred, as a preference run has it
now (a reward of 0 at each step, then each 2,048-step rollout, Hopper's, predicted in one batch and scaled by
`RolloutRewardNormalize`). The wrapped runs cut segments and record the MuJoCo state for re-rendering. Prints
microseconds a step for each (twice, alternating) and the timed parts: what is left over is the wrapper's own,
untimed work. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from prefrl.control.envs import make_env
from prefrl.control.ppo_config import ppo_config_for
from prefrl.control.segments import SegmentBuffer, SegmentCutter
from prefrl.control.wrappers import LearnedRewardVecEnv, RolloutRewardNormalize
from prefrl.core.reward import RewardEnsemble

STEPS = 20_480
ROLLOUT = ppo_config_for("Hopper-v5").n_steps
MODES = ("plain", "per step", "deferred")


def pace(mode: str) -> tuple[float, dict[str, float]]:
    venv = DummyVecEnv([lambda: make_env("Hopper-v5", record_state=False)])
    venv.seed(0)
    timers = {"predict": 0.0, "cut segments": 0.0}
    wrapped = mode != "plain"
    if wrapped:
        ensemble = RewardEnsemble(14, seed=0)
        cutter, buffer = SegmentCutter(1, 60), SegmentBuffer(3000)

        def reward(features: np.ndarray) -> np.ndarray:
            start = time.perf_counter()
            r = ensemble.predict(features, keep_level=True)
            timers["predict"] += time.perf_counter() - start
            return r

        def on_step(obs, actions, rewards, dones, infos) -> None:  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            buffer.extend(cutter.add(obs, actions, rewards, dones, infos))
            timers["cut segments"] += time.perf_counter() - start

        defer = mode == "deferred"
        reward_env = LearnedRewardVecEnv(venv, reward, on_step, record_state=True, defer=defer)
    env = (
        RolloutRewardNormalize(reward_env, gamma=0.999)
        if mode == "deferred"
        else VecNormalize(venv if not wrapped else reward_env, gamma=0.999)
    )
    env.reset()
    actions = np.random.default_rng(0).uniform(-1, 1, size=(STEPS, 1, 3)).astype(np.float32)
    start = time.perf_counter()
    for i, action in enumerate(actions):
        env.step(action)
        if mode == "deferred" and (i + 1) % ROLLOUT == 0:
            rewards, dones = reward_env.take_rollout()
            env.scale_rollout(rewards, dones)
    total = time.perf_counter() - start
    return total / STEPS * 1e6, {k: v / STEPS * 1e6 for k, v in timers.items()}


def main() -> None:
    torch.set_num_threads(1)  # as a run has it (--threads)
    for mode in MODES * 2:
        us, parts = pace(mode)
        detail = ", ".join(f"{k} {v:.1f}" for k, v in parts.items()) if mode != "plain" else ""
        print(f"{mode:>9}: {us:6.1f} us a step  {detail}")


if __name__ == "__main__":
    main()
