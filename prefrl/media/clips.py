"""Clips: segments re-rendered offscreen from their saved MuJoCo state (or encoded from frames they recorded, see
`prefrl.media.frames`), written as mp4 + JSON for people to judge.

Rendering is software (llvmpipe) on most machines, so the scene is made cheap (small shadow map, no shadows or
reflections, no multisampling) and each worker process keeps one long-lived `mujoco.Renderer`: freeing one renderer
while another is in use in the same process makes the live one return black frames (../shared/PLATFORM.md).

Nothing here imports mujoco at module level: MUJOCO_GL must be chosen before mujoco is first imported.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from prefrl.errors import PrefrlError

_EGL_LIBS = ("libEGL.so.1", "libOpenGL.so.0")
_OSMESA_LIBS = ("libOSMesa.so.8", "libOSMesa.so.6", "libOSMesa.so")
GL_HINT = (
    "offscreen rendering needs EGL (apt-get install libegl1 libopengl0 libgl1-mesa-dri) "
    "or OSMesa (apt-get install libosmesa6)"
)


@dataclass
class ClipConfig:
    """How clips look. Defaults: 384x384, real time up to 60 frames/s, a camera that follows the agent."""

    width: int = 384
    height: int = 384
    fps: float | None = None
    """Frames per second of the clip (None: real time, skipping simulation steps to stay at or under 60)."""
    camera: str | None = None
    """A camera named in the model (None: 'track' where the model has it, else a camera tracking the root body)."""
    steps: int | None = None
    """The run's clip length in steps: a clip cut short by the end of its episode (a fall) plays the fall, then holds
    its last frame, marked, to this length, so both clips of a pair last as long (None: as recorded)."""


def _loadable(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            ctypes.CDLL(name)
            return name
        except OSError:
            continue
    return None


def choose_gl_backend() -> str:
    """Set MUJOCO_GL (egl, else osmesa) unless the user already did; name the missing libraries when neither loads."""
    chosen = os.environ.get("MUJOCO_GL")
    if chosen:
        return chosen
    if all(_loadable((lib,)) for lib in _EGL_LIBS):
        backend = "egl"
    elif _loadable(_OSMESA_LIBS):
        backend = "osmesa"
    else:
        missing = [lib for lib in _EGL_LIBS if not _loadable((lib,))]
        raise PrefrlError(f"cannot render clips: {', '.join(missing)} not found; {GL_HINT}")
    os.environ["MUJOCO_GL"] = backend
    if backend == "osmesa":
        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    return backend


def frame_stride(dt: float, fps: float | None, max_fps: float = 60.0) -> int:
    """Simulation steps per frame: real time at `fps` (or at most max_fps when None)."""
    target = fps or min(1.0 / dt, max_fps)
    return max(1, round(1.0 / (dt * target)))


class SegmentRenderer:
    """One env's model, its own MjData and one renderer, kept for the life of the process."""

    def __init__(self, env_id: str, config: ClipConfig | None = None) -> None:
        import gymnasium as gym
        import mujoco

        self.env_id = env_id
        self.config = c = config or ClipConfig()
        env = gym.make(env_id)
        self.dt = float(env.unwrapped.dt)
        self.model = env.unwrapped.model
        self.data = mujoco.MjData(self.model)
        self._mj = mujoco
        vis = self.model.vis
        vis.quality.shadowsize = 512
        vis.quality.offsamples = 0
        vis.global_.offwidth = max(vis.global_.offwidth, c.width)
        vis.global_.offheight = max(vis.global_.offheight, c.height)
        self.renderer = mujoco.Renderer(self.model, c.height, c.width)
        self.renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
        self.renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        names = [self.model.camera(i).name for i in range(self.model.ncam)]
        if c.camera is not None and c.camera not in names:
            raise PrefrlError(f"{env_id} has no camera {c.camera!r}; choose one of {names or ['(none)']}")
        self.camera_name = c.camera or ("track" if "track" in names else "tracking root body")
        if self.camera_name in names:
            self.camera: Any = self.camera_name
        else:
            cam = mujoco.MjvCamera()
            cam.type = mujoco.mjtCamera.mjCAMERA_TRACKING
            cam.trackbodyid = 1
            cam.distance = float(self.model.stat.extent) * 2.0
            cam.elevation = -15.0
            self.camera = cam
        self.stride = frame_stride(self.dt, c.fps)
        self.fps = 1.0 / (self.dt * self.stride)

    def render(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        """Frames (F, H, W, 3) uint8 of the states (T, nq), (T, nv), every `stride`-th step."""
        mj = self._mj
        frames = []
        for t in range(0, len(qpos), self.stride):
            self.data.qpos[:] = qpos[t]
            self.data.qvel[:] = qvel[t]
            mj.mj_forward(self.model, self.data)
            self.renderer.update_scene(self.data, camera=self.camera)
            frames.append(self.renderer.render())
        return np.stack(frames)

    def metadata(self, run: str, segment_id: int, steps: int, frames: int) -> dict[str, Any]:
        return {
            "env": self.env_id,
            "run": run,
            "segment_id": segment_id,
            "steps": steps,
            "frames": frames,
            "fps": self.fps,
            "width": self.config.width,
            "height": self.config.height,
            "camera": self.camera_name,
            "rendered_at": time.time(),
        }


def clip_path(clips_dir: str | Path, run: str, segment_id: int) -> Path:
    """clips/<run-name>/<segment-id>.mp4"""
    return Path(clips_dir) / run / f"{segment_id}.mp4"


def write_clip(path: Path, frames: np.ndarray, fps: float, metadata: dict[str, Any]) -> None:
    """mp4 (H.264) and its JSON, each written to a temporary name and renamed, so a reader never sees half a clip."""
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.mp4")
    with imageio.get_writer(
        tmp,
        fps=fps,
        codec="libx264",
        macro_block_size=1,
        ffmpeg_log_level="error",
        ffmpeg_params=["-preset", "ultrafast", "-tune", "zerolatency"],
    ) as w:
        for frame in frames:
            w.append_data(frame)
    meta_tmp = path.with_suffix(".json.tmp")
    meta_tmp.write_text(json.dumps(metadata, indent=1))
    meta_tmp.replace(path.with_suffix(".json"))
    tmp.replace(path)


def write_gif(path: Path, frames: np.ndarray, fps: float, max_fps: float = 25.0) -> None:
    """An animated GIF that loops, for a README (where an mp4 does not play inline).

    GIF frame delays count in hundredths of a second and browsers slow delays under 20 ms to 100 ms, so faster clips
    keep every k-th frame to play at real speed at most `max_fps`.
    """
    from PIL import Image

    step = max(1, math.ceil(fps / max_fps))
    kept = [Image.fromarray(np.asarray(f)) for f in frames[::step]]
    delay_ms = round(1000 * step / fps / 10) * 10
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.gif")
    kept[0].save(tmp, save_all=True, append_images=kept[1:], duration=delay_ms, loop=0, optimize=True)
    tmp.replace(path)


def read_clip(path: Path) -> tuple[np.ndarray, float]:
    """Frames (F, H, W, 3) and fps of a clip; raises OSError/ValueError when the file is missing or unreadable."""
    import imageio.v2 as imageio

    meta_path = path.with_suffix(".json")
    fps = float(json.loads(meta_path.read_text())["fps"]) if meta_path.exists() else None
    with imageio.get_reader(path, format="ffmpeg") as r:  # type: ignore[arg-type]
        frames = np.stack(list(r.iter_data()))
        fps = fps or float(r.get_meta_data().get("fps", 30.0))
    return frames, fps


# a pool of render workers ---------------------------------------------------------------------------------------
_WORKER: SegmentRenderer | None = None
"""The worker's renderer; None in a pool for an env whose clips are encoded from recorded frames."""
_CONFIG = ClipConfig()
_ENV_ID = ""


def _exit_with(parent: int, every: float = 1.0) -> None:
    """Exit this process once `parent` is gone: a trainer killed with SIGKILL cannot shut its pool down, and its
    workers would otherwise live on, each holding a renderer's memory."""
    while True:
        time.sleep(every)
        if os.getppid() != parent:
            os._exit(0)


def _init_worker(env_id: str, config: dict[str, Any], parent: int, renders: bool) -> None:
    global _WORKER, _CONFIG, _ENV_ID
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    _ENV_ID, _CONFIG = env_id, ClipConfig(**config)
    _WORKER = SegmentRenderer(env_id, _CONFIG) if renders else None


def _render_to_file(payload: bytes, path: str, run: str, segment_id: int) -> str:
    """Write a stored segment's clip: its recorded frames, or frames rendered from its saved state; a clip cut short
    by a fall is held on its last frame, marked, to the run's clip length."""
    from prefrl.media.frames import stored_ended, stored_frames, stored_state

    recorded = stored_frames(payload)
    if recorded is not None:
        frames, period = recorded
        stride = frame_stride(period, _CONFIG.fps)
        fps = 1.0 / (period * stride)
        steps, frames = len(frames), frames[::stride]
        meta = {"env": _ENV_ID, "run": run, "segment_id": segment_id, "steps": steps, "fps": fps,
                "width": int(frames.shape[2]), "height": int(frames.shape[1]), "camera": "env.render()"}  # fmt: skip
    else:
        if _WORKER is None:
            raise PrefrlError(f"segment {segment_id} has neither recorded frames nor a renderer to draw its state")
        qpos, qvel = stored_state(payload)
        steps, stride, fps = len(qpos), _WORKER.stride, _WORKER.fps
        frames = _WORKER.render(qpos, qvel)
        meta = _WORKER.metadata(run, segment_id, steps, len(frames))
    fell = stored_ended(payload) and _CONFIG.steps is not None and steps < _CONFIG.steps
    if fell:
        frames = hold_fallen(frames, math.ceil(_CONFIG.steps / stride))  # type: ignore[operator]
    meta.update(frames=len(frames), fell=fell, rendered_at=time.time())
    write_clip(Path(path), frames, fps, meta)
    return path


def hold_fallen(frames: np.ndarray, total: int) -> np.ndarray:
    """A clip that ended early (the agent fell) held on its last frame to `total` frames, the held frames dimmed,
    framed in red and marked 'fell', so a person sees the fall and then that nothing more came."""
    from PIL import Image, ImageDraw

    held = Image.fromarray((frames[-1] * 0.55).astype(np.uint8))
    draw = ImageDraw.Draw(held)
    h, w = frames.shape[1:3]
    border = max(2, w // 64)
    draw.rectangle([0, 0, w - 1, h - 1], outline=(220, 40, 40), width=border)
    draw.text((3 * border, 3 * border), "fell", fill=(255, 90, 90))
    extra = max(0, total - len(frames))
    return np.concatenate([frames, np.repeat(np.asarray(held)[None], extra, axis=0)]) if extra else frames


def _probe() -> tuple[int, int, int]:
    assert _WORKER is not None
    return _WORKER.render(_WORKER.data.qpos[None].copy(), _WORKER.data.qvel[None].copy()).shape[1:]


class RenderPool:
    """Worker processes turning stored segments into clip files ahead of the person. With `renders` (MuJoCo envs)
    each owns one renderer and draws clips from saved state; without, they encode the frames segments recorded."""

    def __init__(
        self,
        env_id: str,
        clips_dir: str | Path,
        run: str,
        config: ClipConfig | None = None,
        workers: int = 2,
        renders: bool = True,
    ) -> None:
        self.env_id, self.clips_dir, self.run = env_id, Path(clips_dir), run
        self.config = config or ClipConfig()
        self.workers = workers
        self.renders = renders
        self._pending: dict[int, Future[str]] = {}
        self._pool = self._start() if renders else self._workers()

    def _workers(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=get_context("spawn"),
            initializer=_init_worker,
            initargs=(self.env_id, asdict(self.config), os.getpid(), self.renders),
        )

    def _start(self) -> ProcessPoolExecutor:
        """Start the workers and render one frame; fall back from egl to osmesa when egl cannot make a context."""
        backend = choose_gl_backend()
        errors = []
        for attempt in [backend] + (["osmesa"] if backend == "egl" and _loadable(_OSMESA_LIBS) else []):
            os.environ["MUJOCO_GL"] = attempt
            if attempt in ("egl", "osmesa"):  # PyOpenGL must agree; mujoco sets it at import, and children inherit
                os.environ["PYOPENGL_PLATFORM"] = attempt
            pool = self._workers()
            try:
                pool.submit(_probe).result(timeout=120)
                return pool
            except PrefrlError:
                pool.shutdown(cancel_futures=True)
                raise
            except Exception as exc:
                errors.append(f"{attempt}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
                pool.shutdown(cancel_futures=True)
        raise PrefrlError(f"cannot render clips ({'; '.join(errors)}); {GL_HINT}")

    def path(self, segment_id: int) -> Path:
        return clip_path(self.clips_dir, self.run, segment_id)

    def submit(self, segment_id: int, payload: bytes, force: bool = False) -> Future[str] | None:
        """Render a segment unless its clip exists (or is being rendered); returns the future, if any."""
        if segment_id in self._pending and not self._pending[segment_id].done():
            return self._pending[segment_id]
        if self.path(segment_id).exists() and not force:
            return None
        fut = self._pool.submit(_render_to_file, payload, str(self.path(segment_id)), self.run, segment_id)
        self._pending[segment_id] = fut
        return fut

    def render(self, segments: dict[int, bytes], force: bool = False) -> list[Path]:
        """Render these segments now (in parallel) and wait; returns their clip paths."""
        futures = [self.submit(i, p, force=force) for i, p in segments.items()]
        for f in futures:
            if f is not None:
                f.result()
        return [self.path(i) for i in segments]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
