"""Frames recorded with `env.render()`, for envs whose clips cannot be re-rendered from saved MuJoCo state.

Such an env's clips exist only if they are filmed as it runs, so a run labelled by a person records a frame of every
step, scaled to the clip size, and keeps each segment's frames zlib-compressed (a 1.5-s Pendulum clip at 256 px is
about 90 KB instead of 5.9 MB), since any recent segment may be asked about. Synthetic-teacher runs record nothing.

A stored segment (an npz, read with allow_pickle=False) carries either `qpos`/`qvel` or packed `frames`; the
functions at the end read what a clip is made from out of it, without the control loop's `Segment`.
"""

from __future__ import annotations

import io
import zlib

import gymnasium as gym
import numpy as np

NO_FRAMES = np.zeros(0, dtype=np.uint8)
"""The packed frames of a segment that has none (its clip is rendered from state, or never shown)."""

_HEADER = 4 * 4 + 8  # frames, height, width, channels as int32, then seconds per frame as float64


def pack_frames(frames: np.ndarray, seconds_per_frame: float) -> np.ndarray:
    """(F, H, W, 3) uint8 frames, one per `seconds_per_frame`, as one compressed uint8 array."""
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    header = np.array(frames.shape, dtype=np.int32).tobytes() + np.float64(seconds_per_frame).tobytes()
    return np.frombuffer(header + zlib.compress(frames.tobytes(), 1), dtype=np.uint8)


def unpack_frames(packed: np.ndarray) -> tuple[np.ndarray, float]:
    """The frames `pack_frames` packed, and the seconds each stands for."""
    raw = np.asarray(packed, dtype=np.uint8).tobytes()
    shape = tuple(int(n) for n in np.frombuffer(raw[:16], dtype=np.int32))
    period = float(np.frombuffer(raw[16:_HEADER], dtype=np.float64)[0])
    return np.frombuffer(zlib.decompress(raw[_HEADER:]), dtype=np.uint8).reshape(shape), period


def fit_frame(frame: np.ndarray, size: int) -> np.ndarray:
    """A rendered frame scaled so its longer side is `size` pixels, both sides even (what H.264 clips need)."""
    from PIL import Image

    h, w = frame.shape[:2]
    scale = size / max(h, w)
    width, height = max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2)
    if (width, height) == (w, h):
        return np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
    image = Image.fromarray(np.ascontiguousarray(frame[..., :3], dtype=np.uint8))
    return np.asarray(image.resize((width, height), Image.BILINEAR))


class FramesInInfo(gym.Wrapper):
    """Puts a frame of the state each action was taken in into `info["frame"]`, scaled to `size` pixels: what a
    segment's clip is made of when the env has no state to re-render from. The env renders in 'rgb_array' mode."""

    def __init__(self, env: gym.Env, size: int) -> None:
        super().__init__(env)
        self.size = size

    def step(self, action):  # type: ignore[no-untyped-def]
        frame = fit_frame(np.asarray(self.env.render()), self.size)
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["frame"] = frame
        return obs, reward, terminated, truncated, info


def _stored(payload: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(payload), allow_pickle=False) as z:
        return {key: z[key] for key in z.files}


def stored_frames(payload: bytes) -> tuple[np.ndarray, float] | None:
    """The recorded frames of a stored segment and the seconds each stands for, or None if it has none."""
    packed = _stored(payload).get("frames", NO_FRAMES)
    return unpack_frames(packed) if packed.size else None


def stored_state(payload: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The MuJoCo state (qpos, qvel) before each step of a stored segment: (T, nq), (T, nv)."""
    data = _stored(payload)
    return data["qpos"], data["qvel"]


def stored_ended(payload: bytes) -> bool:
    """Whether a stored segment was cut short by the end of its episode (the agent fell)."""
    meta = _stored(payload).get("meta")
    return bool(meta is not None and len(meta) > 2 and meta[2])
