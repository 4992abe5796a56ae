"""Where a labelling window's pairs come from: claimed queries with their clips decoded, prepared off the UI thread.

A background thread claims queries from the run's store (with a lease it renews while the window lives), makes
sure both clips exist on disk (rendering missing or unreadable ones itself), decodes them and queues the result, so
that after a key press the next pair is already in memory.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prefrl.control.clips import ClipConfig, RenderPool, clip_path, read_clip
from prefrl.core.store import LabelStore


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

    @property
    def duration(self) -> float:
        """Seconds of one loop: the longer clip; the shorter one holds its last frame (its episode ended)."""
        return max(len(self.frames_a) / self.fps_a, len(self.frames_b) / self.fps_b)


@dataclass
class SourceConfig:
    depth: int = 3
    """Pairs decoded ahead of the person."""
    lease_s: float = 60.0
    """How long a claim lasts without renewal; a dead window's queries go to others after this."""
    poll_s: float = 0.2


@dataclass
class PairSource:
    """Claims, renders and decodes pairs in a thread; the window takes them with `next()`."""

    store_path: Path
    annotator: str
    env_id: str
    run_name: str
    clips_dir: Path
    clip_config: ClipConfig = field(default_factory=ClipConfig)
    config: SourceConfig = field(default_factory=SourceConfig)

    def __post_init__(self) -> None:
        self._ready: deque[Pair] = deque()
        self._wanted: deque[tuple[int, int, int]] = deque()  # undone queries to bring back first
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._held: set[int] = set()  # query ids this window has claimed and not answered
        self._pool: RenderPool | None = None
        self.messages: deque[str] = deque(maxlen=5)
        self.rendered = 0
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="pair-source", daemon=True)
        self._thread.start()

    # called from the UI thread ----------------------------------------------------------------------------------
    def next(self) -> Pair | None:
        with self._lock:
            return self._ready.popleft() if self._ready else None

    def take(self, query_id: int) -> Pair | None:
        """That query's pair, if it is ready (undo waits for the pair it brought back)."""
        with self._lock:
            for pair in self._ready:
                if pair.query_id == query_id:
                    self._ready.remove(pair)
                    return pair
        return None

    def put_back(self, pair: Pair) -> None:
        """A pair taken but not answered (undo brought another first): show it again next."""
        with self._lock:
            self._ready.appendleft(pair)

    def bring_back(self, query_id: int) -> None:
        """An undone query is held by this window again (the store re-claimed it for this annotator)."""
        with self._lock:
            self._held.add(query_id)

    def reload(self, query: tuple[int, int, int]) -> None:
        """Load an undone query's clips again, ahead of everything else."""
        with self._lock:
            self._wanted.append(query)

    def answered(self, query_id: int) -> None:
        with self._lock:
            self._held.discard(query_id)

    def queued(self) -> int:
        with self._lock:
            return len(self._ready)

    def close(self) -> None:
        """Stop the thread and hand back every claim not answered, so other windows can take them at once."""
        self._stop.set()
        self._thread.join(timeout=10)
        store = LabelStore(self.store_path, create=False)
        with self._lock:
            held = sorted(self._held)
        store.release(self.annotator, held)
        store.close()
        if self._pool is not None:
            self._pool.close()

    # the thread -------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        store = LabelStore(self.store_path, create=False)
        last_renew = time.time()
        try:
            while not self._stop.is_set():
                if time.time() - last_renew > self.config.lease_s / 3:
                    with self._lock:
                        held = sorted(self._held)
                    store.renew(self.annotator, held, self.config.lease_s)
                    last_renew = time.time()
                with self._lock:
                    wanted = self._wanted.popleft() if self._wanted else None
                    room = len(self._ready) < self.config.depth
                if wanted is not None:
                    self._load(store, wanted, front=True)
                    continue
                if not room:
                    self._stop.wait(self.config.poll_s)
                    continue
                query = store.claim(self.annotator, self.config.lease_s)
                if query is None:
                    self._stop.wait(self.config.poll_s)
                    continue
                with self._lock:
                    self._held.add(query[0])
                self._load(store, query, front=False)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            store.close()

    def _load(self, store: LabelStore, query: tuple[int, int, int], front: bool) -> None:
        qid, a, b = query
        clips = {}
        for item in (a, b):
            clips[item] = self._clip(store, item)
            if clips[item] is None:
                self.messages.append(f"query {qid}: clip of segment {item} cannot be rendered; skipped")
                store.release(self.annotator, [qid])
                with self._lock:
                    self._held.discard(qid)
                return
        (fa, ra), (fb, rb) = clips[a], clips[b]  # type: ignore[misc]
        pair = Pair(qid, a, b, fa, fb, ra, rb)
        with self._lock:
            (self._ready.appendleft if front else self._ready.append)(pair)

    def _clip(self, store: LabelStore, item: int) -> tuple[np.ndarray, float] | None:
        """Frames of an item's clip; renders it when the file is missing or unreadable."""
        path = clip_path(self.clips_dir, self.run_name, item)
        if path.exists():
            try:
                return read_clip(path)
            except Exception:
                self.messages.append(f"clip {path.name} was unreadable; rendering it again")
        try:
            if self._pool is None:
                self._pool = RenderPool(self.env_id, self.clips_dir, self.run_name, self.clip_config, workers=1)
            self._pool.render({item: store.item(item)}, force=True)
            self.rendered += 1
            return read_clip(path)
        except Exception as exc:
            self.messages.append(f"rendering segment {item} failed: {exc}")
            return None
