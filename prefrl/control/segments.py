"""Trajectory segments: short stretches of one episode, with what is needed to judge and re-render them."""

from __future__ import annotations

import io
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from prefrl.media.frames import NO_FRAMES, pack_frames


def step_features(obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray | None = None) -> np.ndarray:
    """What the reward model sees of each step (one per row, or one step as 1-d arrays): the observation and the
    action, then the observation the step led to where it is recorded. Clips and the rewarding wrapper both build
    their features here, so the model is rewarded on the layout it was fitted on."""
    parts = [obs, actions] if next_obs is None else [obs, actions, next_obs]
    return np.concatenate(parts, axis=-1).astype(np.float32)


def feature_dim(obs_dim: int, act_dim: int, next_obs: bool) -> int:
    """The width of `step_features`: what a reward model of these inputs takes per step."""
    return obs_dim * (2 if next_obs else 1) + act_dim


@dataclass
class Segment:
    """`length` consecutive steps of one episode. Step t is (obs_t, action_t) -> true_reward_t from state t, and
    leads to next_obs_t where the run records it (`--reward-input transition`).

    A segment cut short by termination (the agent fell) keeps its steps and is padded when batched; the true
    reward is for the oracle and evaluation only, never for the policy.
    """

    obs: np.ndarray  # (T, obs_dim), the observation each action was taken in
    actions: np.ndarray  # (T, act_dim)
    true_rewards: np.ndarray  # (T,)
    qpos: np.ndarray  # (T, nq) MuJoCo state before each step, to re-render the clip; (T, 0) for other envs
    qvel: np.ndarray  # (T, nv)
    episode: int
    start: int  # index of the first step within its episode
    terminated: bool = False
    frames: np.ndarray = field(default_factory=lambda: NO_FRAMES)
    """Recorded frames of the steps (`prefrl.media.frames.pack_frames`) where the env has no state to re-render
    from and a person may be shown the clip; empty otherwise."""
    next_obs: np.ndarray | None = None
    """(T, obs_dim), the observation each step led to (the episode's last one where it ended), recorded where the
    reward model sees transitions; None otherwise."""
    info: dict[str, np.ndarray] = field(default_factory=dict)
    """The env's `info` of each step, one array per numeric entry (Hopper's `x_velocity`: shape (T,)), for a
    teacher or query strategy of your own to judge by; in memory only (a clip read back from the store has none)."""

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def features(self) -> np.ndarray:
        """What the reward model sees per step: (obs, action), and the next observation where it was recorded."""
        return step_features(self.obs, self.actions, self.next_obs)

    @property
    def true_return(self) -> float:
        return float(self.true_rewards.sum())

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        extra = {} if self.next_obs is None else {"next_obs": self.next_obs}
        np.savez(
            buf,
            obs=self.obs,
            actions=self.actions,
            true_rewards=self.true_rewards,
            qpos=self.qpos,
            qvel=self.qvel,
            frames=self.frames,
            meta=np.array([self.episode, self.start, int(self.terminated)]),
            **extra,
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Segment:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            episode, start, terminated = (int(v) for v in z["meta"])
            return cls(
                obs=z["obs"],
                actions=z["actions"],
                true_rewards=z["true_rewards"],
                qpos=z["qpos"],
                qvel=z["qvel"],
                episode=episode,
                start=start,
                terminated=bool(terminated),
                frames=z["frames"] if "frames" in z.files else NO_FRAMES,
                next_obs=z["next_obs"] if "next_obs" in z.files else None,
            )


OWN_INFO = {
    "qpos",
    "qvel",
    "next_obs",
    "frame",
    "true_reward",
    "TimeLimit.truncated",
    "terminal_observation",
    "episode",
}
"""What prefrl and SB3 put into a step's info themselves; a segment carries these as its own fields, or not at all."""


def info_columns(infos: list[dict]) -> dict[str, np.ndarray]:
    """The env's numeric info entries of consecutive steps, one array each (an entry missing from a step, or not
    a number or array of numbers of one shape, is left out)."""
    columns = {}
    for key in [k for k in infos[0] if k not in OWN_INFO]:
        try:
            column = np.asarray([info[key] for info in infos])
        except (KeyError, ValueError):
            continue
        if column.dtype.kind in "biuf":
            columns[key] = column
    return columns


def segment_length(dt: float, seconds: float, horizon: int | None = None) -> int:
    """Steps in a clip of `seconds` of simulated time (at least one), no more than an episode can hold: a clip longer
    than the env's time limit would never be cut."""
    steps = max(1, round(seconds / dt))
    return int(min(steps, horizon)) if horizon else int(steps)


def batch_features(segments: list[Segment], length: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack segments' features into (N, length, D) with a (N, length) validity mask (short ones are padded)."""
    d = segments[0].features.shape[1]
    items = np.zeros((len(segments), length, d), dtype=np.float32)
    mask = np.zeros((len(segments), length), dtype=np.float32)
    for i, s in enumerate(segments):
        n = min(len(s), length)
        items[i, :n] = s.features[:n]
        mask[i, :n] = 1.0
    return items, mask


_NO_STATE = np.zeros(0)
"""The state of a step of an env without MuJoCo state (nothing to re-render from)."""


class _Step(NamedTuple):
    """One env's step as the cutter keeps it until its segment is emitted."""

    obs: np.ndarray
    action: np.ndarray
    true_reward: float
    qpos: np.ndarray
    qvel: np.ndarray
    frame: np.ndarray | None
    info: dict[str, Any]
    next_obs: np.ndarray | None


class SegmentCutter:
    """Cuts per-env step streams into segments of `length` steps that never cross an episode boundary.

    A stretch ended by termination is kept (falling over is informative); one ended by a time limit is dropped.
    """

    def __init__(self, n_envs: int, length: int, min_terminal_length: int = 1, seconds_per_step: float = 0.0) -> None:
        self.length = length
        self.seconds_per_step = seconds_per_step
        """The env's timestep: the period of the frames a step's info may carry (`FramesInInfo`)."""
        self.min_terminal_length = min_terminal_length
        self._steps: list[list[_Step]] = [[] for _ in range(n_envs)]
        self._episode = list(range(n_envs))
        self._next_episode = n_envs
        self._pos = [0] * n_envs

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        true_rewards: np.ndarray,
        dones: np.ndarray,
        infos: list[dict],
    ) -> list[Segment]:
        """Feed one vectorised step (obs is what each action was taken in; an info's "next_obs", where present, what
        it led to); returns segments completed by it."""
        out = []
        for i, info in enumerate(infos):
            state = (info["qpos"], info["qvel"]) if "qpos" in info else (_NO_STATE, _NO_STATE)
            self._steps[i].append(
                _Step(obs[i], actions[i], true_rewards[i], *state, info.get("frame"), info, info.get("next_obs"))
            )
            self._pos[i] += 1
            if len(self._steps[i]) == self.length:
                out.append(self._emit(i, terminated=False))
            if dones[i]:
                terminated = not info.get("TimeLimit.truncated", False)
                if terminated and len(self._steps[i]) >= self.min_terminal_length:
                    out.append(self._emit(i, terminated=True))
                self._steps[i] = []
                self._episode[i] = self._next_episode
                self._next_episode += 1
                self._pos[i] = 0
        return out

    def _emit(self, i: int, terminated: bool) -> Segment:
        steps = self._steps[i]
        columns = _Step(*zip(*steps))
        seg = Segment(
            obs=np.array(columns.obs).astype(np.float32),
            actions=np.array(columns.action).astype(np.float32),
            true_rewards=np.array(columns.true_reward).astype(np.float32),
            qpos=np.array(columns.qpos),
            qvel=np.array(columns.qvel),
            episode=self._episode[i],
            start=self._pos[i] - len(steps),
            terminated=terminated,
            frames=pack_frames(np.stack(columns.frame), self.seconds_per_step)
            if columns.frame[0] is not None
            else NO_FRAMES,
            next_obs=np.array(columns.next_obs, dtype=np.float32) if columns.next_obs[0] is not None else None,
            info=info_columns(list(columns.info)),
        )
        self._steps[i] = []
        return seg


class SegmentBuffer:
    """The most recent segments, the pool that queries are drawn from."""

    def __init__(self, capacity: int) -> None:
        self._segments: deque[Segment] = deque(maxlen=capacity)
        self.total = 0

    def extend(self, segments: list[Segment]) -> None:
        self._segments.extend(segments)
        self.total += len(segments)

    def recent(self, n: int | None = None) -> list[Segment]:
        segs = list(self._segments)
        return segs if n is None else segs[-n:]

    def __len__(self) -> int:
        return len(self._segments)
