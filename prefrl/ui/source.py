"""Queries claimed for one person and prepared ahead of them, whatever a pair is made of (clips, texts).

A background thread claims queries from the run's store with a lease it renews while the window lives, prepares
each one (`prepare`: decode clips, read texts) and queues it, so that after a key press the next pair is already in
memory. Claims not answered are handed back on close; a dead window's lapse after `lease_s`, or go at once to the same
annotator's next window (the one that was on screen first), so several windows on one run never hold the same query
and a restarted window goes on where the person was.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from prefrl.core.store import LabelStore


class Prepared(Protocol):
    query_id: int
    shown: bool


P = TypeVar("P", bound=Prepared)


@dataclass
class SourceConfig:
    depth: int = 3
    """Pairs prepared ahead of the person."""
    lease_s: float = 60.0
    """How long a claim lasts without renewal; a dead window's queries go to others after this (to the same
    annotator's next window at once)."""
    heartbeat_s: float = 2.0
    """How often a live window renews its claims and says it is alive."""
    poll_s: float = 0.2
    retry_s: float = 30.0
    """A pair that could not be prepared is passed over for this long (others are claimed meanwhile), then retried."""


class QuerySource(Generic[P]):
    """Claims and prepares pairs in a thread; the window takes them with `next()`. Subclasses give `prepare`."""

    def __init__(self, store_path: Path, annotator: str, config: SourceConfig | None = None) -> None:
        self.store_path = Path(store_path)
        self.annotator = annotator
        self.config = config or SourceConfig()
        self._ready: deque[P] = deque()
        self._wanted: deque[Any] = deque()  # undone claims to bring back first
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._held: set[int] = set()  # query ids this window has claimed and not answered
        self._failed: dict[int, float] = {}  # query id -> when this window may try to prepare it again
        self.messages: deque[str] = deque(maxlen=5)
        self.error: str | None = None
        store = LabelStore(self.store_path, create=False)
        self.window = store.open_window(annotator)
        """This window's id in the store: its claims, showings and labels carry it, so undo acts on its own."""
        store.close()
        self._thread = threading.Thread(target=self._run, name="pair-source", daemon=True)
        self._thread.start()

    def prepare(self, store: LabelStore, query: Any) -> P | None:
        """The pair of a claimed query, ready to show; None (after a note in `messages`) if it cannot be shown."""
        raise NotImplementedError

    def claim(self, store: LabelStore) -> Any:
        """Take the next unit of work for this window: a query (id, item a, item b); None when there is none."""
        return store.claim(self.annotator, self.config.lease_s, exclude=self._failed, window=self.window)

    def claim_ids(self, claim: Any) -> list[int]:
        """The query ids a claim holds."""
        return [claim[0]]

    # called from the UI thread ----------------------------------------------------------------------------------
    def next(self) -> P | None:
        with self._lock:
            return self._ready.popleft() if self._ready else None

    def take(self, query_id: int) -> P | None:
        """That query's pair, if it is ready (undo waits for the pair it brought back)."""
        with self._lock:
            for pair in self._ready:
                if pair.query_id == query_id:
                    self._ready.remove(pair)
                    return pair
        return None

    def put_back(self, pair: P) -> None:
        """A pair taken but not answered (undo brought another first): show it again next."""
        with self._lock:
            self._ready.appendleft(pair)

    def bring_back(self, query_id: int) -> None:
        """An undone query is held by this window again (the store re-claimed it for this annotator)."""
        with self._lock:
            self._held.add(query_id)

    def reload(self, query: Any) -> None:
        """Prepare an undone claim (a query: id, item a, item b) again, ahead of everything else."""
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
        store.close_window(self.window)
        store.close()

    # the thread -------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        store = LabelStore(self.store_path, create=False)
        last_renew = time.time()
        try:
            while not self._stop.is_set():
                if time.time() - last_renew > min(self.config.heartbeat_s, self.config.lease_s / 3):
                    with self._lock:
                        held = sorted(self._held)
                    store.renew(self.annotator, held, self.config.lease_s, window=self.window)
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
                now = time.time()
                self._failed = {q: t for q, t in self._failed.items() if t > now}
                query = self.claim(store)
                if query is None:
                    self._stop.wait(self.config.poll_s)
                    continue
                with self._lock:
                    self._held.update(self.claim_ids(query))
                self._load(store, query, front=False)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            store.close()

    def _load(self, store: LabelStore, query: Any, front: bool) -> None:
        pair = self.prepare(store, query)
        if pair is None:  # hand it back: another window (or a later try) may manage; claim others meanwhile
            store.release(self.annotator, self.claim_ids(query))
            self._failed[query[0]] = time.time() + self.config.retry_s
            with self._lock:
                self._held.difference_update(self.claim_ids(query))
            return
        with self._lock:
            (self._ready.appendleft if front else self._ready.append)(pair)
