"""What the learned-reward wrapper costs per environment step on Hopper-v5, apart from PPO.

    python benchmarks/wrapper_cost.py

Steps VecNormalize(DummyVecEnv(Hopper-v5)) with fixed random actions, once plain (the true-reward arm) and once with
`LearnedRewardVecEnv` as a preference run has it: the ensemble's prediction, segment cutting, the MuJoCo state
recorded for re-rendering. Prints microseconds a step for each (twice, alternating) and the timed parts: what is
left over is the wrapper's own, untimed work. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import time

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from prefrl.control.segments import SegmentBuffer, SegmentCutter
from prefrl.control.trainer import make_env
from prefrl.control.wrappers import LearnedRewardVecEnv
from prefrl.core.reward import RewardEnsemble

STEPS = 20_000


def pace(wrapped: bool) -> tuple[float, dict[str, float]]:
    venv = DummyVecEnv([lambda: make_env("Hopper-v5", record_state=False)])
    venv.seed(0)
    timers = {"predict": 0.0, "cut segments": 0.0}
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

        venv = LearnedRewardVecEnv(venv, reward, on_step, alive_bonus=0.5, record_state=True)
    env = VecNormalize(venv, gamma=0.999)
    env.reset()
    actions = np.random.default_rng(0).uniform(-1, 1, size=(STEPS, 1, 3)).astype(np.float32)
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    total = time.perf_counter() - start
    return total / STEPS * 1e6, {k: v / STEPS * 1e6 for k, v in timers.items()}


def main() -> None:
    for wrapped in (False, True, False, True):
        us, parts = pace(wrapped)
        detail = ", ".join(f"{k} {v:.1f}" for k, v in parts.items()) if wrapped else ""
        print(f"{'learned reward' if wrapped else 'plain':>14}: {us:6.1f} us a step  {detail}")


if __name__ == "__main__":
    main()
