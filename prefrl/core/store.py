"""LabelStore: one SQLite file per run holding items, queries and labels.

It is the hand-off between whatever asks questions (a trainer) and whatever answers them (a synthetic oracle now, a
person in a labelling window later). WAL mode and one transaction per write make every label durable the moment it
is given, and let readers and a writer work at once.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import NamedTuple

from prefrl.core.comparisons import Choice, Comparison
from prefrl.errors import PrefrlError

APP = "prefrl"
SCHEMA_VERSION = 3

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
    shown_at REAL,                            -- when a labelling window first put it on screen
    claimed_window TEXT,                      -- the window holding the claim
    wanted INTEGER NOT NULL DEFAULT 1,        -- labels wanted, each from another annotator (2: an overlap query)
    group_id INTEGER                          -- queries of one ranking (a text prompt's K completions)
);
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY,
    query_id INTEGER NOT NULL REFERENCES queries(id),
    item_a INTEGER NOT NULL,
    item_b INTEGER NOT NULL,
    choice TEXT NOT NULL,
    annotator TEXT NOT NULL,
    created_at REAL NOT NULL,
    shown_at REAL,                            -- when this annotator last had the pair put on screen before answering
    undone_at REAL,                           -- set by undo (the row is kept as a record)
    window TEXT                               -- the window it was given in (undo acts on its own window's labels)
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_V3 = """
CREATE TABLE IF NOT EXISTS showings (
    id INTEGER PRIMARY KEY,
    query_id INTEGER NOT NULL,
    annotator TEXT NOT NULL,
    window TEXT,
    shown_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS windows (
    id TEXT PRIMARY KEY,
    annotator TEXT NOT NULL,
    opened_at REAL NOT NULL,
    seen_at REAL NOT NULL,                    -- a live window renews this every few seconds
    closed_at REAL,
    host TEXT,
    pid INTEGER                               -- on the same host, a window whose process is gone is gone at once
);
"""
STALE_S = 10.0
"""A window not seen for this long is gone (as is one closed, or whose process on this host has ended): the same
annotator's next window takes its claims over at once."""


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
                for stmt in (_SCHEMA + _V3).split(";"):
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
        if version < SCHEMA_VERSION:
            with self._transaction():
                if version == 1:  # v2 added the times a pair was shown and labels that were undone
                    self._db.execute("ALTER TABLE queries ADD COLUMN shown_at REAL")
                    self._db.execute("ALTER TABLE labels ADD COLUMN shown_at REAL")
                    self._db.execute("ALTER TABLE labels ADD COLUMN undone_at REAL")
                # v3: windows (their claims, labels and showings), overlap queries, ranking groups
                self._db.execute("ALTER TABLE queries ADD COLUMN claimed_window TEXT")
                self._db.execute("ALTER TABLE queries ADD COLUMN wanted INTEGER NOT NULL DEFAULT 1")
                self._db.execute("ALTER TABLE queries ADD COLUMN group_id INTEGER")
                self._db.execute("ALTER TABLE labels ADD COLUMN window TEXT")
                for stmt in _V3.split(";"):
                    if stmt.strip():
                        self._db.execute(stmt)
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
    def add_queries(
        self, pairs: list[tuple[int, int]], wanted: list[int] | None = None, groups: list[int] | None = None
    ) -> list[int]:
        """Ask about pairs of stored items, in one transaction; returns the query ids. `wanted`: labels wanted per
        query, each from another annotator (2 sends an overlap query to a second person); `groups`: the ranking each
        belongs to (a prompt whose completions a person orders at once)."""
        now = time.time()
        ids = []
        with self._transaction():
            for i, (a, b) in enumerate(pairs):
                cur = self._db.execute(
                    "INSERT INTO queries (item_a, item_b, created_at, wanted, group_id) VALUES (?, ?, ?, ?, ?)",
                    (a, b, now, wanted[i] if wanted else 1, groups[i] if groups else None),
                )
                ids.append(int(cur.lastrowid))  # type: ignore[arg-type]
        return ids

    def pending_queries(self) -> list[tuple[int, int, int]]:
        """(query id, item a, item b) of every unanswered query, oldest first."""
        rows = self._db.execute("SELECT id, item_a, item_b FROM queries WHERE status = 'pending' ORDER BY id")
        return [(int(q), int(a), int(b)) for q, a, b in rows]

    def answer(self, query_id: int, choice: Choice | None, annotator: str, window: str | None = None) -> None:
        """Record a teacher's answer; `None` means the teacher skipped the query (no label, query closed).

        The label is on disk when this returns (one transaction, synchronous=FULL)."""
        self.answer_many([(query_id, choice)], annotator, window)

    def answer_many(
        self, answers: Iterable[tuple[int, Choice | None]], annotator: str, window: str | None = None
    ) -> None:
        """Record a batch of answers in one transaction: all on disk when this returns, or none if one fails. One
        commit per batch instead of per label (each costs a few ms of fsync). A label's `shown_at` is when this
        window (else this annotator) last put the pair on screen."""
        with self._transaction():
            for query_id, choice in answers:
                row = self._db.execute(
                    "SELECT item_a, item_b, shown_at FROM queries WHERE id = ?", (query_id,)
                ).fetchone()
                if row is None:
                    raise StoreError(f"query {query_id} does not exist in {self.path}")
                if choice is None:
                    self._db.execute(
                        "UPDATE queries SET status = 'skipped', claimed_by = NULL, claimed_window = NULL WHERE id = ?",
                        (query_id,),
                    )
                    continue
                who, key = ("window", window) if window is not None else ("annotator", annotator)
                seen = self._db.execute(
                    f"SELECT MAX(shown_at) FROM showings WHERE query_id = ? AND {who} = ?", (query_id, key)
                ).fetchone()[0]
                self._db.execute(
                    "INSERT INTO labels (query_id, item_a, item_b, choice, annotator, created_at, shown_at, window)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (query_id, row[0], row[1], Choice(choice).value, annotator, time.time(),
                     seen if seen is not None else row[2], window),
                )  # fmt: skip
                self._db.execute(
                    "UPDATE queries SET status = 'answered', claimed_by = NULL, claimed_window = NULL WHERE id = ?",
                    (query_id,),
                )

    # several labelling windows on one run ----------------------------------------------------------------------
    def open_window(self, annotator: str) -> str:
        """A new window of this annotator: its id, under which it claims, shows, labels and undoes."""
        window = uuid.uuid4().hex[:12]
        now = time.time()
        with self._transaction():
            self._db.execute(
                "INSERT INTO windows VALUES (?, ?, ?, ?, NULL, ?, ?)",
                (window, annotator, now, now, socket.gethostname(), os.getpid()),
            )
        return window

    def _gone_windows(self, annotator: str, window: str) -> list[str]:
        """This annotator's other windows that are gone: closed, unseen for STALE_S, or their process ended."""
        now, host = time.time(), socket.gethostname()
        rows = self._db.execute(
            "SELECT id, seen_at, closed_at, host, pid FROM windows WHERE annotator = ? AND id != ?", (annotator, window)
        ).fetchall()
        return [w for w, seen, closed, h, pid in rows
                if closed is not None or seen < now - STALE_S or (h == host and pid and not _alive(int(pid)))]  # fmt: skip

    def close_window(self, window: str) -> None:
        with self._transaction():
            self._db.execute("UPDATE windows SET closed_at = ? WHERE id = ?", (time.time(), window))

    def claim(
        self, annotator: str, lease_s: float = 60.0, exclude: Collection[int] = (), window: str | None = None
    ) -> tuple[int, int, int] | None:
        """Take a query for this window: (id, item a, item b).

        First the queries this annotator's windows that are gone (closed, or not seen for STALE_S: killed) still
        hold, the one last on screen first, so a restarted window picks up where the person was; then the oldest
        pending query nobody holds (or whose holder's lease ran out); then an overlap query another annotator has
        answered and this one has not. `exclude`: query ids to pass over (ones this window could not show), so one
        broken pair cannot block the queue behind it. BEGIN IMMEDIATE makes the read and the claim one step, so two
        windows never get the same query.
        """
        now = time.time()
        skip = sorted(exclude)
        not_in = f" AND q.id NOT IN ({', '.join('?' * len(skip))})" if skip else ""
        with self._transaction():
            row = None
            gone = self._gone_windows(annotator, window) if window is not None else []
            if gone:
                marks = ", ".join("?" * len(gone))
                row = self._db.execute(
                    "SELECT q.id, q.item_a, q.item_b FROM queries q WHERE q.status IN ('pending', 'answered')"
                    f" AND q.claimed_by = ? AND q.claimed_window IN ({marks}){not_in}"
                    " ORDER BY (SELECT MAX(s.shown_at) FROM showings s WHERE s.query_id = q.id"
                    " AND s.window = q.claimed_window) DESC, q.id LIMIT 1",
                    (annotator, *gone, *skip),
                ).fetchone()
            if row is None:
                row = self._db.execute(
                    "SELECT q.id, q.item_a, q.item_b FROM queries q WHERE q.status = 'pending'"
                    f" AND (q.claimed_by IS NULL OR q.lease_until < ?){not_in} ORDER BY q.id LIMIT 1",
                    (now, *skip),
                ).fetchone()
            if row is None:
                row = self._db.execute(
                    "SELECT q.id, q.item_a, q.item_b FROM queries q WHERE q.status = 'answered' AND q.wanted > 1"
                    f" AND (q.claimed_by IS NULL OR q.lease_until < ?){not_in} AND q.wanted > (SELECT COUNT(DISTINCT"
                    " l.annotator) FROM labels l WHERE l.query_id = q.id AND l.undone_at IS NULL) AND NOT EXISTS"
                    " (SELECT 1 FROM labels l WHERE l.query_id = q.id AND l.annotator = ?) ORDER BY q.id LIMIT 1",
                    (now, *skip, annotator),
                ).fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE queries SET claimed_by = ?, lease_until = ?, claimed_window = ? WHERE id = ?",
                (annotator, now + lease_s, window, row[0]),
            )
        return int(row[0]), int(row[1]), int(row[2])

    def claim_group(
        self, annotator: str, lease_s: float = 60.0, exclude: Collection[int] = (), window: str | None = None
    ) -> tuple[int, list[tuple[int, int, int]]] | None:
        """Take every pending query of one ranking (a group: a prompt's K completions compared in pairs), to be
        answered at once: (group id, [(id, item a, item b), ...]). The group this annotator's gone window held comes
        first, then the oldest nobody holds. `exclude`: group ids to pass over."""
        now = time.time()
        skip = sorted(exclude)
        not_in = f" AND group_id NOT IN ({', '.join('?' * len(skip))})" if skip else ""
        with self._transaction():
            row = None
            gone = self._gone_windows(annotator, window) if window is not None else []
            if gone:
                marks = ", ".join("?" * len(gone))
                row = self._db.execute(
                    "SELECT group_id FROM queries WHERE status = 'pending' AND group_id IS NOT NULL AND claimed_by = ?"
                    f" AND claimed_window IN ({marks}){not_in} ORDER BY id LIMIT 1",
                    (annotator, *gone, *skip),
                ).fetchone()
            if row is None:
                row = self._db.execute(
                    "SELECT group_id FROM queries WHERE status = 'pending' AND group_id IS NOT NULL"
                    f" AND (claimed_by IS NULL OR lease_until < ?){not_in} ORDER BY id LIMIT 1",
                    (now, *skip),
                ).fetchone()
            if row is None:
                return None
            group = int(row[0])
            queries = self._db.execute(
                "SELECT id, item_a, item_b FROM queries WHERE group_id = ? AND status = 'pending' ORDER BY id", (group,)
            ).fetchall()
            self._db.execute(
                "UPDATE queries SET claimed_by = ?, lease_until = ?, claimed_window = ?"
                " WHERE group_id = ? AND status = 'pending'",
                (annotator, now + lease_s, window, group),
            )
        return group, [(int(q), int(a), int(b)) for q, a, b in queries]

    def has_groups(self) -> bool:
        """Whether queries here belong to rankings (a text run's prompts), to be answered a ranking at a time."""
        return self._db.execute("SELECT 1 FROM queries WHERE group_id IS NOT NULL LIMIT 1").fetchone() is not None

    def undo_group(self, annotator: str, lease_s: float = 60.0, window: str | None = None) -> int | None:
        """Withdraw the ranking this window answered last: every label it gave on that group's queries, which go back
        to pending, held by this window. Returns the group id (None if the window has no ranking to undo)."""
        now = time.time()
        who, key = ("l.window", window) if window is not None else ("l.annotator", annotator)
        with self._transaction():
            row = self._db.execute(
                f"SELECT q.group_id FROM labels l JOIN queries q ON q.id = l.query_id WHERE {who} = ?"
                " AND l.undone_at IS NULL AND q.group_id IS NOT NULL ORDER BY l.id DESC LIMIT 1",
                (key,),
            ).fetchone()
            if row is None:
                return None
            group = int(row[0])
            self._db.execute(
                f"UPDATE labels SET undone_at = ? WHERE id IN (SELECT l.id FROM labels l JOIN queries q ON"
                f" q.id = l.query_id WHERE q.group_id = ? AND {who} = ? AND l.undone_at IS NULL)",
                (now, group, key),
            )
            self._db.execute(
                "UPDATE queries SET status = 'pending', claimed_by = ?, lease_until = ?, claimed_window = ?"
                " WHERE group_id = ? AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.query_id = queries.id"
                " AND l.undone_at IS NULL)",
                (annotator, now + lease_s, window, group),
            )
        return group

    def group_queries(self, group: int) -> list[tuple[int, int, int]]:
        """(id, item a, item b) of every query of a ranking, pending or not."""
        rows = self._db.execute("SELECT id, item_a, item_b FROM queries WHERE group_id = ? ORDER BY id", (group,))
        return [(int(q), int(a), int(b)) for q, a, b in rows]

    def renew(self, annotator: str, query_ids: list[int], lease_s: float = 60.0, window: str | None = None) -> None:
        """Extend this annotator's leases, and note that the window is alive (a live window calls this every few
        seconds)."""
        now = time.time()
        with self._transaction():
            if window is not None:
                self._db.execute("UPDATE windows SET seen_at = ? WHERE id = ?", (now, window))
            if query_ids:
                marks = ",".join("?" * len(query_ids))
                self._db.execute(
                    f"UPDATE queries SET lease_until = ? WHERE claimed_by = ? AND id IN ({marks})",
                    (now + lease_s, annotator, *query_ids),
                )

    def release(self, annotator: str, query_ids: list[int]) -> None:
        """Hand unanswered claims back (a window closing cleanly)."""
        if not query_ids:
            return
        marks = ",".join("?" * len(query_ids))
        with self._transaction():
            self._db.execute(
                f"UPDATE queries SET claimed_by = NULL, lease_until = NULL, claimed_window = NULL"
                f" WHERE claimed_by = ? AND id IN ({marks})",
                (annotator, *query_ids),
            )

    def mark_shown(self, query_id: int, annotator: str = "", window: str | None = None) -> None:
        """Note that a query went on this annotator's screen (time to label = label time - shown time); every
        showing is kept, per annotator and window."""
        now = time.time()
        with self._transaction():
            self._db.execute("UPDATE queries SET shown_at = COALESCE(shown_at, ?) WHERE id = ?", (now, query_id))
            self._db.execute(
                "INSERT INTO showings (query_id, annotator, window, shown_at) VALUES (?, ?, ?, ?)",
                (query_id, annotator, window, now),
            )

    def showing(self, annotator: str) -> tuple[int, int, int] | None:
        """The pending query last put on this annotator's screen, as (query_id, item_a, item_b); None if none."""
        row = self._db.execute(
            "SELECT q.id, q.item_a, q.item_b FROM queries q JOIN showings s ON s.query_id = q.id"
            " WHERE q.claimed_by = ? AND s.annotator = ? AND q.status = 'pending' ORDER BY s.id DESC LIMIT 1",
            (annotator, annotator),
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), int(row[2]))

    def count_shown(self) -> int:
        """Queries that have been on someone's screen at least once."""
        return int(self._db.execute("SELECT COUNT(*) FROM queries WHERE shown_at IS NOT NULL").fetchone()[0])

    def undo_last(self, annotator: str, lease_s: float = 60.0, window: str | None = None) -> Undone | None:
        """Withdraw the latest label this window gave (without a window: this annotator); its query goes back to
        pending, held by the same window. The label row is kept with `undone_at` set, so nothing a person did is
        ever erased."""
        now = time.time()
        who, key = ("window", window) if window is not None else ("annotator", annotator)
        with self._transaction():
            row = self._db.execute(
                f"SELECT id, query_id, item_a, item_b, choice FROM labels WHERE {who} = ? AND undone_at IS NULL"
                " ORDER BY id DESC LIMIT 1",
                (key,),
            ).fetchone()
            if row is None:
                return None
            label_id, qid, a, b, choice = row
            self._db.execute("UPDATE labels SET undone_at = ? WHERE id = ?", (now, label_id))
            standing = self._db.execute(
                "SELECT COUNT(*) FROM labels WHERE query_id = ? AND undone_at IS NULL", (qid,)
            ).fetchone()[0]
            status = "answered" if standing else "pending"  # an overlap query keeps the other annotator's label
            self._db.execute(
                "UPDATE queries SET status = ?, claimed_by = ?, lease_until = ?, claimed_window = ? WHERE id = ?",
                (status, annotator, now + lease_s, window, qid),
            )
        return Undone(int(qid), int(a), int(b), Choice(choice))

    def labels(self, annotator: str | None = None) -> list[dict[str, object]]:
        """Every label row, undone ones included, oldest first (for audits and tests)."""
        keys = ["id", "query_id", "item_a", "item_b", "choice", "annotator", "created_at", "shown_at", "undone_at",
                "window"]  # fmt: skip
        sql = f"SELECT {', '.join(keys)} FROM labels"
        rows = self._db.execute(
            sql + (" WHERE annotator = ?" if annotator else "") + " ORDER BY id", (annotator,) if annotator else ()
        )
        return [dict(zip(keys, r)) for r in rows]

    def showings(self) -> list[dict[str, object]]:
        """Every time a pair went on someone's screen, oldest first."""
        keys = ["id", "query_id", "annotator", "window", "shown_at"]
        return [dict(zip(keys, r)) for r in self._db.execute(f"SELECT {', '.join(keys)} FROM showings ORDER BY id")]

    def count_labels(self) -> int:
        """Queries answered with a label that stands (undone labels don't count; a second label on an overlap query
        costs no budget, so it doesn't either)."""
        return int(
            self._db.execute("SELECT COUNT(DISTINCT query_id) FROM labels WHERE undone_at IS NULL").fetchone()[0]
        )

    def count_standing(self) -> int:
        """Labels that stand, every annotator's: what a refit trains on."""
        return int(self._db.execute("SELECT COUNT(*) FROM labels WHERE undone_at IS NULL").fetchone()[0])

    def count_available(self, annotator: str | None = None) -> int:
        """Queries a window of this annotator could take now: pending ones unclaimed, expired or already its own,
        and overlap queries it has not answered."""
        now = time.time()
        pending = self._db.execute(
            "SELECT COUNT(*) FROM queries WHERE status = 'pending'"
            " AND (claimed_by IS NULL OR lease_until < ? OR claimed_by = ?)",
            (now, annotator or ""),
        ).fetchone()[0]
        overlap = self._db.execute(
            "SELECT COUNT(*) FROM queries q WHERE q.status = 'answered' AND q.wanted > 1"
            " AND (q.claimed_by IS NULL OR q.lease_until < ? OR q.claimed_by = ?) AND q.wanted > (SELECT COUNT("
            "DISTINCT l.annotator) FROM labels l WHERE l.query_id = q.id AND l.undone_at IS NULL) AND NOT EXISTS"
            " (SELECT 1 FROM labels l WHERE l.query_id = q.id AND l.annotator = ?)",
            (now, annotator or "", annotator or ""),
        ).fetchone()[0]
        return int(pending) + int(overlap)

    def comparisons(self) -> list[Comparison]:
        """Every label that stands, in the order given: each annotator's latest on each query (an overlap query
        gives two, which train like any others)."""
        rows = self._db.execute(
            "SELECT item_a, item_b, choice FROM labels WHERE id IN"
            " (SELECT MAX(id) FROM labels WHERE undone_at IS NULL GROUP BY query_id, annotator) ORDER BY id"
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


def _alive(pid: int) -> bool:
    """Whether a process of this host is running (a zombie counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error: each write is all or nothing and on disk when it returns."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
