"""Watch what a run's policy has learned: play episodes of its latest checkpoint in a window, or write an mp4/GIF."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prefrl.control import run_folder as rf
from prefrl.errors import PrefrlError
from prefrl.media.clips import ClipConfig, SegmentRenderer, choose_gl_backend, write_clip, write_gif


def rollout_states(run: Path, episodes: int, deterministic: bool, seed: int, max_steps: int = 1000):  # type: ignore[no-untyped-def]
    """(qpos, qvel, true return) of each episode played by the run's saved policy."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from prefrl.control.config import read_config
    from prefrl.control.envs import env_facts, make_base_env
    from prefrl.control.ppo_config import new_ppo

    if not (run / rf.CHECKPOINT).exists() and not (run / rf.POLICY).exists():
        raise PrefrlError(
            f"{run} has no policy checkpoint yet ({rf.CHECKPOINT}); let the run reach its first evaluation"
        )
    config = read_config(run)
    env_id = config.env
    if not env_facts(env_id).mujoco:
        raise PrefrlError(f"watch re-renders episodes from MuJoCo state, which {env_id} has none of")
    venv = DummyVecEnv([lambda: make_base_env(env_id)])
    model = new_ppo(config.ppo, venv)  # the run's network, as training built it; its weights next
    rf.load_policy(model, run)
    norm = None
    if (run / rf.VECNORM).exists():
        norm = VecNormalize(venv, training=False, norm_reward=False)
        rf.load_vecnormalize(norm, run)
    env = make_base_env(env_id)
    data = env.unwrapped.data  # type: ignore[attr-defined]
    out = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        qpos, qvel, total = [data.qpos.copy()], [data.qvel.copy()], 0.0
        for _ in range(max_steps):
            x = norm.normalize_obs(obs[None]) if norm is not None else obs[None]
            action, _ = model.predict(x, deterministic=deterministic)
            obs, reward, terminated, truncated, _ = env.step(action[0])
            total += float(reward)
            qpos.append(data.qpos.copy())
            qvel.append(data.qvel.copy())
            if terminated or truncated:
                break
        out.append((np.array(qpos), np.array(qvel), total))
    env.close()
    return env_id, out


def watch(
    run: Path,
    episodes: int = 1,
    mp4: Path | None = None,
    deterministic: bool = True,
    seed: int = 0,
    clip: ClipConfig | None = None,
    max_steps: int = 1000,
    gif: Path | None = None,
) -> list[float]:
    """Play episodes of the run's policy in a window, or write them to an mp4 and/or a GIF; returns their true
    returns."""
    choose_gl_backend()
    env_id, eps = rollout_states(run, episodes, deterministic, seed, max_steps)
    renderer = SegmentRenderer(env_id, clip or ClipConfig(width=480, height=480))
    frames = np.concatenate([renderer.render(q, v) for q, v, _ in eps])
    returns = [r for _, _, r in eps]
    if gif is not None:
        write_gif(gif, frames, renderer.fps)
    if mp4 is not None:
        meta = renderer.metadata(run.name, -1, sum(len(q) for q, _, _ in eps), len(frames))
        meta["returns"] = returns
        write_clip(mp4, frames, renderer.fps, meta)
    if mp4 is not None or gif is not None:
        return returns
    import pygame

    from prefrl.ui.window import open_display

    h, w = frames.shape[1:3]
    screen = open_display((w, h), f"prefrl watch - {run.name} - return {np.mean(returns):.0f}")
    clock = pygame.time.Clock()
    i = 0
    while True:
        for event in pygame.event.get():
            if event.type == pygame.QUIT or (
                event.type == pygame.KEYDOWN and event.key in (pygame.K_ESCAPE, pygame.K_q)
            ):
                pygame.display.quit()
                return returns
        screen.blit(pygame.surfarray.make_surface(frames[i].swapaxes(0, 1)), (0, 0))
        pygame.display.flip()
        i = (i + 1) % len(frames)
        clock.tick(renderer.fps)
