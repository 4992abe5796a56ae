"""LabelStore: one SQLite file per run holding items, queries and labels.

It is the hand-off between whatever asks questions (a trainer) and whatever answers them (a synthetic oracle now, a
person in a labelling window later). WAL mode and one transaction per write make every label durable the moment it
is given, and let readers and a writer work at once.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import NamedTuple

from prefrl.core.comparisons import Choice, Comparison
from prefrl.errors import PrefrlError

APP = "prefrl"
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    created_at REAL NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS queries (
    id INTEGER PRIMARY KEY,
    item_a INTEGER NOT NULL REFERENCES items(id),
    item_b INTEGER NOT NULL REFERENCES items(id),
    created_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',   -- pending | answered | skipped
    claimed_by TEXT,
    lease_until REAL,
    shown_at REAL                             -- when a labelling window first put it on screen
);
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY,
    query_id INTEGER NOT NULL REFERENCES queries(id),
    item_a INTEGER NOT NULL,
    item_b INTEGER NOT NULL,
    choice TEXT NOT NULL,
    annotator TEXT NOT NULL,
    created_at REAL NOT NULL,
    shown_at REAL,
    undone_at REAL                            -- set by undo (the row is kept as a record)
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Undone(NamedTuple):
    """A withdrawn label: its query, the query's two items, and the answer that was taken back."""

    query_id: int
    item_a: int
    item_b: int
    choice: Choice


class StoreError(PrefrlError):
    """The file is not a usable prefrl label store."""


class LabelStore:
    """A run's label database. Open one per process; every write commits before it returns."""

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists() and not create:
            raise StoreError(f"no label store at {self.path}; check the run folder")
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._open()
        except sqlite3.DatabaseError as exc:
            if "readonly" in str(exc) or "unable to open" in str(exc):  # permissions, not a damaged file
                raise StoreError(
                    f"cannot write the label store {self.path} ({exc}); it needs its folder to exist and be "
                    "writable: check the permissions, or copy the run somewhere writable"
                ) from None
            raise StoreError(
                f"{self.path} is not a readable prefrl label store ({exc}); move it aside or use a new --out folder"
            ) from None

    def _open(self, tries: int = 200) -> None:
        """WAL mode, then the schema. Switching a new file to WAL needs it to itself and fails at once (no busy wait)
        while another process does the same, so that step is retried for up to ~10 s."""
        for attempt in range(tries):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == tries - 1:
                    raise
                time.sleep(0.05)
        self._db.execute("PRAGMA synchronous=FULL")
        self._check_or_init()

    def _check_or_init(self) -> None:
        with self._transaction():  # look and create in one write transaction: two openers never both create
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        self._db.execute(stmt)
                self._db.execute(
                    "INSERT INTO meta VALUES ('app', ?), ('schema_version', ?)", (APP, str(SCHEMA_VERSION))
                )
                return
        meta = dict(self._db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        if meta.get("app") != APP:
            raise StoreError(f"{self.path} is an SQLite file but not a prefrl label store; use a new --out folder")
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer prefrl (schema {version} > {SCHEMA_VERSION}); upgrade prefrl"
            )
        if version == 1:  # v2 added the times a pair was shown and labels that were undone
            with self._transaction():
                self._db.execute("ALTER TABLE queries ADD COLUMN shown_at REAL")
                self._db.execute("ALTER TABLE labels ADD COLUMN shown_at REAL")
                self._db.execute("ALTER TABLE labels ADD COLUMN undone_at REAL")
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    def _transaction(self) -> _Tx:
        return _Tx(self._db)

    def close(self) -> None:
        self._db.close()

    # items -----------------------------------------------------------------------------------------------------
    def add_items(self, kind: str, payloads: list[bytes]) -> list[int]:
        """Store items (segments, completions, ...) as opaque blobs in one transaction; returns their ids."""
        now = time.time()
        ids = []
        with self._transaction():
            for payload in payloads:
                cur = self._db.execute(
                    "INSERT INTO items (kind, created_at, payload) VALUES (?, ?, ?)", (kind, now, payload)
                )
                ids.append(int(cur.lastrowid))  # type: ignore[arg-type]
        return ids

    def item(self, item_id: int) -> bytes:
        row = self._db.execute("SELECT payload FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise StoreError(f"item {item_id} is missing from {self.path}")
        return bytes(row[0])

    def item_ids(self, kind: str) -> list[int]:
        return [int(r[0]) for r in self._db.execute("SELECT id FROM items WHERE kind = ? ORDER BY id", (kind,))]

    def items(self, ids: list[int]) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for item_id, payload in self._db.execute(f"SELECT id, payload FROM items WHERE id IN ({marks})", chunk):
                out[int(item_id)] = bytes(payload)
        return out

    # queries and labels ----------------------------------------------------------------------------------------
    def add_queries(self, pairs: list[tuple[int, int]]) -> list[int]:
        """Ask about pairs of stored items; returns the query ids."""
        now = time.time()
        ids = []
        with self._transaction():
            for a, b in pairs:
                cur = self._db.execute("INSERT INTO queries (item_a, item_b, created_at) VALUES (?, ?, ?)", (a, b, now))
                ids.append(int(cur.lastrowid))  # type: ignore[arg-type]
        return ids

    def pending_queries(self) -> list[tuple[int, int, int]]:
        """(query id, item a, item b) of every unanswered query, oldest first."""
        rows = self._db.execute("SELECT id, item_a, item_b FROM queries WHERE status = 'pending' ORDER BY id")
        return [(int(q), int(a), int(b)) for q, a, b in rows]

    def answer(self, query_id: int, choice: Choice | None, annotator: str) -> None:
        """Record a teacher's answer; `None` means the teacher skipped the query (no label, query closed).

        The label is on disk when this returns (one transaction, synchronous=FULL)."""
        self.answer_many([(query_id, choice)], annotator)

    def answer_many(self, answers: Iterable[tuple[int, Choice | None]], annotator: str) -> None:
        """Record a synthetic teacher's batch of answers in one transaction: all on disk when this returns, or none
        if one fails. One commit per batch instead of per label (each costs a few ms of fsync)."""
        with self._transaction():
            for query_id, choice in answers:
                row = self._db.execute(
                    "SELECT item_a, item_b, shown_at FROM queries WHERE id = ?", (query_id,)
                ).fetchone()
                if row is None:
                    raise StoreError(f"query {query_id} does not exist in {self.path}")
                if choice is None:
                    self._db.execute(
                        "UPDATE queries SET status = 'skipped', claimed_by = NULL WHERE id = ?", (query_id,)
                    )
                    continue
                self._db.execute(
                    "INSERT INTO labels (query_id, item_a, item_b, choice, annotator, created_at, shown_at)"
                    " VALUES (?,?,?,?,?,?,?)",
                    (query_id, row[0], row[1], Choice(choice).value, annotator, time.time(), row[2]),
                )
                self._db.execute("UPDATE queries SET status = 'answered' WHERE id = ?", (query_id,))

    # several labelling windows on one run ----------------------------------------------------------------------
    def claim(
        self, annotator: str, lease_s: float = 60.0, exclude: Collection[int] = ()
    ) -> tuple[int, int, int] | None:
        """Take the oldest pending query nobody holds (or whose holder's lease ran out): (id, item a, item b).

        `exclude`: query ids to pass over (ones this window could not show), so one broken pair cannot block the
        queue behind it. BEGIN IMMEDIATE makes the read and the claim one step, so two windows never get the same
        query.
        """
        now = time.time()
        skip = sorted(exclude)
        not_in = f" AND id NOT IN ({', '.join('?' * len(skip))})" if skip else ""
        with self._transaction():
            row = self._db.execute(
                "SELECT id, item_a, item_b FROM queries WHERE status = 'pending'"
                f" AND (claimed_by IS NULL OR lease_until < ?){not_in} ORDER BY id LIMIT 1",
                (now, *skip),
            ).fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE queries SET claimed_by = ?, lease_until = ? WHERE id = ?", (annotator, now + lease_s, row[0])
            )
        return int(row[0]), int(row[1]), int(row[2])

    def renew(self, annotator: str, query_ids: list[int], lease_s: float = 60.0) -> None:
        """Extend this annotator's leases (a live window calls this every few seconds)."""
        if not query_ids:
            return
        marks = ",".join("?" * len(query_ids))
        with self._transaction():
            self._db.execute(
                f"UPDATE queries SET lease_until = ? WHERE claimed_by = ? AND status = 'pending' AND id IN ({marks})",
                (time.time() + lease_s, annotator, *query_ids),
            )

    def release(self, annotator: str, query_ids: list[int]) -> None:
        """Hand unanswered claims back (a window closing cleanly)."""
        if not query_ids:
            return
        marks = ",".join("?" * len(query_ids))
        with self._transaction():
            self._db.execute(
                f"UPDATE queries SET claimed_by = NULL, lease_until = NULL"
                f" WHERE claimed_by = ? AND status = 'pending' AND id IN ({marks})",
                (annotator, *query_ids),
            )

    def mark_shown(self, query_id: int) -> None:
        """Note when a query first went on screen (time to label = label time - shown time)."""
        with self._transaction():
            self._db.execute(
                "UPDATE queries SET shown_at = COALESCE(shown_at, ?) WHERE id = ?", (time.time(), query_id)
            )

    def showing(self, annotator: str) -> tuple[int, int, int] | None:
        """The pending query last put on this annotator's screen, as (query_id, item_a, item_b); None if none."""
        row = self._db.execute(
            "SELECT id, item_a, item_b FROM queries WHERE claimed_by = ? AND status = 'pending'"
            " AND shown_at IS NOT NULL ORDER BY shown_at DESC LIMIT 1",
            (annotator,),
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), int(row[2]))

    def count_shown(self) -> int:
        """Queries that have been on someone's screen at least once."""
        return int(self._db.execute("SELECT COUNT(*) FROM queries WHERE shown_at IS NOT NULL").fetchone()[0])

    def undo_last(self, annotator: str, lease_s: float = 60.0) -> Undone | None:
        """Withdraw this annotator's latest label; its query goes back to pending, held by the same annotator.

        The label row is kept with `undone_at` set, so nothing a person did is ever erased.
        """
        now = time.time()
        with self._transaction():
            row = self._db.execute(
                "SELECT id, query_id, item_a, item_b, choice FROM labels WHERE annotator = ? AND undone_at IS NULL"
                " ORDER BY id DESC LIMIT 1",
                (annotator,),
            ).fetchone()
            if row is None:
                return None
            label_id, qid, a, b, choice = row
            self._db.execute("UPDATE labels SET undone_at = ? WHERE id = ?", (now, label_id))
            self._db.execute(
                "UPDATE queries SET status = 'pending', claimed_by = ?, lease_until = ? WHERE id = ?",
                (annotator, now + lease_s, qid),
            )
        return Undone(int(qid), int(a), int(b), Choice(choice))

    def labels(self, annotator: str | None = None) -> list[dict[str, object]]:
        """Every label row, undone ones included, oldest first (for audits and tests)."""
        sql = "SELECT id, query_id, item_a, item_b, choice, annotator, created_at, shown_at, undone_at FROM labels"
        rows = self._db.execute(
            sql + (" WHERE annotator = ?" if annotator else "") + " ORDER BY id", (annotator,) if annotator else ()
        )
        keys = ["id", "query_id", "item_a", "item_b", "choice", "annotator", "created_at", "shown_at", "undone_at"]
        return [dict(zip(keys, r)) for r in rows]

    def count_labels(self) -> int:
        """Queries answered with a label that stands (undone labels don't count)."""
        return int(
            self._db.execute("SELECT COUNT(DISTINCT query_id) FROM labels WHERE undone_at IS NULL").fetchone()[0]
        )

    def count_available(self, annotator: str | None = None) -> int:
        """Pending queries a window could take now (unclaimed, expired, or already held by this annotator)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM queries WHERE status = 'pending'"
            " AND (claimed_by IS NULL OR lease_until < ? OR claimed_by = ?)",
            (time.time(), annotator or ""),
        ).fetchone()
        return int(row[0])

    def comparisons(self) -> list[Comparison]:
        """Every label given, in the order given (the latest label of a query wins)."""
        rows = self._db.execute(
            "SELECT item_a, item_b, choice FROM labels WHERE id IN"
            " (SELECT MAX(id) FROM labels WHERE undone_at IS NULL GROUP BY query_id) ORDER BY id"
        )
        return [Comparison(int(a), int(b), Choice(c)) for a, b, c in rows]

    def count_queries(self, status: str | None = None) -> int:
        if status is None:
            return int(self._db.execute("SELECT COUNT(*) FROM queries").fetchone()[0])
        return int(self._db.execute("SELECT COUNT(*) FROM queries WHERE status = ?", (status,)).fetchone()[0])

    # trainer state ---------------------------------------------------------------------------------------------
    def set_state(self, key: str, value: str) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))

    def get_state(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error: each write is all or nothing and on disk when it returns."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
