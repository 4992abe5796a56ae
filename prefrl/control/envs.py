"""Environments for the control loop: any gymnasium env with Box observations and Box actions, by registered id or as
`module:EnvClass`, and the few facts about it the loop derives its settings from (timestep, episode length).
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from stable_baselines3.common.monitor import Monitor

from prefrl.control.wrappers import StateInInfo
from prefrl.errors import PrefrlError
from prefrl.media.frames import FramesInInfo
from prefrl.user_code import is_code_spec, load

DEFAULT_FPS = 30.0
"""Frames per second assumed for an env that states neither a timestep (`dt`) nor `metadata["render_fps"]`."""

_EXTRAS = {
    "box2d": "pip install 'gymnasium[box2d]'",
    "mujoco_py": "pip install 'mujoco-py<2.2'; these are the v2/v3 MuJoCo envs: the v5 ids need nothing more",
    "ale_py": "pip install 'gymnasium[atari]'",
}


def _from_spec(env: str, render_mode: str | None = None) -> gym.Env:
    factory = load(env, "--env")
    if render_mode is None:
        made = factory()
    else:
        try:
            made = factory(render_mode=render_mode)
        except TypeError:
            raise PrefrlError(
                f"--env {env} takes no render_mode argument; a person's clips of an env without MuJoCo state are "
                f"filmed with env.render(), so it must accept render_mode={render_mode!r} (gymnasium's convention)"
            ) from None
    if not isinstance(made, gym.Env):
        raise PrefrlError(f"--env {env} made a {type(made).__name__}, not a gymnasium.Env")
    return made


def check_env_id(env_id: str) -> None:
    """Fail with close matches when a registered id is unknown (module:EnvClass specs are checked when made)."""
    if is_code_spec(env_id):
        return
    registry = gym.envs.registry
    if env_id in registry:
        return
    close = difflib.get_close_matches(env_id, list(registry), n=3, cutoff=0.6)
    hint = (
        f"; did you mean {' or '.join(close)}?"
        if close
        else "; see `python -c 'import gymnasium; gymnasium.pprint_registry()'`, or pass module:EnvClass"
    )
    raise PrefrlError(f"unknown environment id {env_id!r}{hint}")


def make_base_env(env: str, render_mode: str | None = None) -> gym.Env:
    """The env itself: gym.make for an id, a call for module:EnvClass. Missing extras become a one-line error."""
    if is_code_spec(env):
        return _from_spec(env, render_mode)
    try:
        return gym.make(env, render_mode=render_mode) if render_mode else gym.make(env)
    except (ImportError, gym.error.DependencyNotInstalled) as exc:
        text = str(exc)
        fix = next((cmd for name, cmd in _EXTRAS.items() if name in text), None)
        newest = f"{env.rsplit('-v', 1)[0]}-v5"
        if fix is None and newest != env and newest in gym.registry:  # MuJoCo's v2/v3 ids need the old mujoco-py
            fix = f"use {newest}, the version that runs on the installed MuJoCo"
        raise PrefrlError(f"{env} needs a package that is not installed ({text.splitlines()[0]})" +
                          (f"; {fix}" if fix else "")) from None  # fmt: skip
    except gym.error.Error as exc:
        raise PrefrlError(f"cannot make {env}: {str(exc).splitlines()[0]}") from None


def has_mujoco_state(env: gym.Env) -> bool:
    """MuJoCo envs carry their state in `data` (qpos, qvel), from which a clip is re-rendered."""
    data = getattr(env.unwrapped, "data", None)
    return data is not None and hasattr(data, "qpos") and hasattr(data, "qvel")


def make_env(env_id: str, record_state: bool = True, frame_size: int | None = None) -> gym.Env:
    """One env that reports its true episode return via Monitor and, with `record_state` on a MuJoCo env, its state in
    `info` (what segments need to be re-rendered). Envs whose steps are never cut into segments (the true-reward arm,
    evaluation) leave the state out, so the baseline pays for nothing it does not use. `frame_size`: an env without
    MuJoCo state films each step with env.render() instead, at this size (`FramesInInfo`), for a person to judge."""
    if frame_size is not None and not env_facts(env_id).mujoco:
        return Monitor(FramesInInfo(make_base_env(env_id, render_mode="rgb_array"), frame_size))
    env = make_base_env(env_id)
    return Monitor(StateInInfo(env) if record_state and has_mujoco_state(env) else env)


def check_filming(env_id: str) -> None:
    """An env without MuJoCo state, to be shown to a person, must render frames: one-line error if it cannot."""
    env = make_base_env(env_id, render_mode="rgb_array")
    try:
        env.reset(seed=0)
        frame = env.render()
    except Exception as exc:
        raise PrefrlError(
            f"{env_id} cannot be filmed for a person (env.render() in 'rgb_array' mode failed: {exc}); "
            "label it with a synthetic teacher (--teacher perfect, the default)"
        ) from None
    finally:
        env.close()
    shape = getattr(frame, "shape", None)
    if shape is None or len(shape) != 3 or shape[2] < 3:
        raise PrefrlError(
            f"{env_id}'s env.render() in 'rgb_array' mode gave {type(frame).__name__} {shape or ''}, not an (H, W, 3) "
            "image; a person's clips of it are filmed from those frames"
        )


@dataclass(frozen=True)
class EnvFacts:
    """What the loop needs to know of an env to derive its settings."""

    dt: float
    """Simulated seconds per step."""
    horizon: int | None
    """Most steps an episode can last (its time limit), None when it has none."""
    obs_dim: int
    act_dim: int
    mujoco: bool
    """Clips re-render from saved MuJoCo state; other envs' clips are recorded from env.render()."""


def timestep(env: gym.Env) -> float:
    """Seconds per step: the env's `dt`, else one frame at its render_fps, else at DEFAULT_FPS."""
    dt = getattr(env.unwrapped, "dt", None)
    if isinstance(dt, (int, float)) and dt > 0:
        return float(dt)
    fps = (env.metadata or {}).get("render_fps")
    return 1.0 / float(fps) if isinstance(fps, (int, float)) and fps > 0 else 1.0 / DEFAULT_FPS


def horizon(env: gym.Env) -> int | None:
    """The env's time limit in steps, from its spec or from a TimeLimit among its wrappers (module:EnvClass)."""
    limit = env.spec.max_episode_steps if env.spec is not None else None
    while not limit and isinstance(env, gym.Wrapper):
        limit = getattr(env, "_max_episode_steps", None) if isinstance(env, gym.wrappers.TimeLimit) else None
        env = env.env
    return int(limit) if limit else None


def check_spaces(env_id: str, env: gym.Env) -> None:
    """The loop's policy and reward model read flat vectors and emit continuous actions."""
    obs, act = env.observation_space, env.action_space
    if not isinstance(act, gym.spaces.Box):
        kind = type(act).__name__
        raise PrefrlError(f"{env_id} has {kind} actions; prefrl's control loop needs continuous (Box) actions")
    if not isinstance(obs, gym.spaces.Box):
        kind = type(obs).__name__
        raise PrefrlError(f"{env_id} has {kind} observations; prefrl's control loop needs a flat Box of numbers")
    if len(obs.shape) > 1 or obs.dtype == np.uint8:
        raise PrefrlError(
            f"{env_id} observes images (shape {obs.shape}); prefrl's control loop needs a flat vector of numbers"
        )


@functools.lru_cache(maxsize=64)
def env_facts(env_id: str) -> EnvFacts:
    """Make the env once per process and read its facts (validate, resolved() and the Trainer all ask); refuses
    spaces the loop cannot learn in. A failure is not cached: it raises again next time."""
    env = make_base_env(env_id)
    try:
        check_spaces(env_id, env)
        return EnvFacts(
            dt=timestep(env),
            horizon=horizon(env),
            obs_dim=int(np.prod(env.observation_space.shape)),
            act_dim=int(np.prod(env.action_space.shape)),  # type: ignore[arg-type]
            mujoco=has_mujoco_state(env),
        )
    finally:
        env.close()
