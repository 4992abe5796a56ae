"""PPO's update beside a reward-model fit in another process, at several thread counts: how torch's spinning OpenMP
threads slow both when together they want more cores than the machine has (the reason for --fit-threads 1).

    python benchmarks/thread_contention.py            # the table, about two minutes on 2 cores
    python benchmarks/thread_contention.py fit 2      # (internal) the fitting process, reporting ms a step

Each line: PPO's update of one HalfCheetah-v5 rollout (the zoo preset, 512 steps, 20 epochs; median of 8) with PPO
at N threads while a process fits a HalfCheetah-sized reward ensemble (30-step clips, 64 pairs a step) at F threads,
and that fit's pace over the same time. F = 0: no fitting process. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import torch


def fit_forever(threads: int) -> None:
    from prefrl.core.comparisons import PreferenceDataset
    from prefrl.core.reward import RewardEnsemble
    from prefrl.core.reward_config import RewardConfig

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    items = rng.normal(size=(1000, 30, 23)).astype(np.float32)
    mask = np.ones((1000, 30), np.float32)
    data = PreferenceDataset(rng.integers(0, 1000, size=(500, 2)), rng.integers(0, 2, size=500).astype(np.float32))
    ensemble = RewardEnsemble(23, RewardConfig(), seed=0)
    ensemble.fit(items, mask, data, steps=5)
    start, steps = time.perf_counter(), 0
    while True:
        ensemble.fit(items, mask, data, steps=20)
        steps += 20
        print(f"{1000 * (time.perf_counter() - start) / steps:.1f}", flush=True)


def update_time(ppo_threads: int, fit_threads: int) -> tuple[float, str]:
    import gymnasium as gym
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from prefrl.control.ppo_config import ppo_config_for

    torch.set_num_threads(ppo_threads)
    venv = VecNormalize(DummyVecEnv([lambda: gym.make("HalfCheetah-v5")]))
    model = PPO("MlpPolicy", env=venv, seed=0, verbose=0, **ppo_config_for("HalfCheetah-v5").ppo_kwargs())
    model.learn(512)
    fitter = None
    if fit_threads:
        fitter = subprocess.Popen(
            [sys.executable, __file__, "fit", str(fit_threads)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(3)  # past its start-up
    times = []
    for _ in range(8):
        start = time.perf_counter()
        model.train()
        times.append(time.perf_counter() - start)
    fit_pace = "-"
    if fitter is not None:
        fitter.kill()
        lines = fitter.stdout.read().split() if fitter.stdout else []
        fit_pace = lines[-1] if lines else "?"
    return float(np.median(times)), fit_pace


def fit_alone(threads: int, seconds: float = 10.0) -> str:
    fitter = subprocess.Popen([sys.executable, __file__, "fit", str(threads)], stdout=subprocess.PIPE, text=True)
    time.sleep(seconds)
    fitter.kill()
    lines = fitter.stdout.read().split() if fitter.stdout else []
    return lines[-1] if lines else "?"


def main() -> None:
    if sys.argv[1:2] == ["fit"]:
        fit_forever(int(sys.argv[2]))
        return
    print(f"fit alone: {fit_alone(1)} ms a step with 1 thread, {fit_alone(2)} with 2")
    print("| PPO threads | fit threads | PPO update of one rollout (s) | fit (ms a step) |")
    print("| --- | --- | --- | --- |")
    for ppo_threads, fit_threads in ((1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)):
        update, pace = update_time(ppo_threads, fit_threads)
        print(f"| {ppo_threads} | {fit_threads} | {update:.3f} | {pace} |", flush=True)


if __name__ == "__main__":
    main()
