"""Clip pairs for a control run: claimed queries with both clips decoded, prepared off the UI thread.

Each claimed query's clips are read from disk, or rendered again (in a render process of our own) when a file is
missing or unreadable, then decoded, so that after a key press the next pair is already in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prefrl.core.store import LabelStore
from prefrl.media.clips import ClipConfig, RenderPool, clip_path, read_clip
from prefrl.media.frames import stored_frames
from prefrl.ui.source import QuerySource, SourceConfig

__all__ = ["Pair", "PairSource", "SourceConfig"]


@dataclass
class Pair:
    """One query ready to show: its clips as frame arrays (F, H, W, 3) and their frame rates."""

    query_id: int
    item_a: int
    item_b: int
    frames_a: np.ndarray
    frames_b: np.ndarray
    fps_a: float
    fps_b: float
    shown: bool = False
    surfaces: tuple[list, list] | None = None
    """The frames as pygame surfaces of their own size, made in the source thread so that showing a pair after a key
    press costs no conversion."""

    @property
    def duration(self) -> float:
        """Seconds of one loop: the longer clip; the shorter one holds its last frame (its episode ended)."""
        return max(len(self.frames_a) / self.fps_a, len(self.frames_b) / self.fps_b)


class PairSource(QuerySource[Pair]):
    """Claims queries and decodes their clips in a thread; the window takes them with `next()`."""

    def __init__(
        self,
        store_path: Path,
        annotator: str,
        env_id: str,
        run_name: str,
        clips_dir: Path,
        clip_config: ClipConfig | None = None,
        config: SourceConfig | None = None,
    ) -> None:
        self.env_id = env_id
        self.run_name = run_name
        self.clips_dir = Path(clips_dir)
        self.clip_config = clip_config or ClipConfig()
        self._pool: RenderPool | None = None
        self.rendered = 0
        super().__init__(store_path, annotator, config)  # starts the thread: everything it reads is set above

    def close(self) -> None:
        super().close()
        if self._pool is not None:
            self._pool.close()

    def prepare(self, store: LabelStore, query: tuple[int, int, int]) -> Pair | None:
        qid, a, b = query
        clips = {}
        for item in (a, b):
            clips[item] = self._clip(store, item)
            if clips[item] is None:
                self.messages.append(f"query {qid}: clip of segment {item} cannot be rendered; skipped")
                return None
        (fa, ra), (fb, rb) = clips[a], clips[b]  # type: ignore[misc]
        import pygame as pg

        def surfaces(frames: np.ndarray) -> list:
            return [pg.surfarray.make_surface(f.swapaxes(0, 1)) for f in frames]

        return Pair(qid, a, b, fa, fb, ra, rb, surfaces=(surfaces(fa), surfaces(fb)))

    def _clip(self, store: LabelStore, item: int) -> tuple[np.ndarray, float] | None:
        """Frames of an item's clip; renders it when the file is missing or unreadable."""
        path = clip_path(self.clips_dir, self.run_name, item)
        if path.exists():
            try:
                return read_clip(path)
            except Exception:
                self.messages.append(f"clip {path.name} was unreadable; rendering it again")
        try:
            payload = store.item(item)
            if self._pool is None:
                self._pool = RenderPool(self.env_id, self.clips_dir, self.run_name, self.clip_config, workers=1,
                                        renders=stored_frames(payload) is None)  # fmt: skip
            self._pool.render({item: payload}, force=True)
            self.rendered += 1
            return read_clip(path)
        except Exception as exc:
            self.messages.append(f"rendering segment {item} failed: {exc}")
            return None
