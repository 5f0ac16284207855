"""The durable outbox: every event and snapshot is written here *before* it is
published, and deleted only when the hub's retained sync message says it is stored.

One SQLite file (WAL, ``synchronous=FULL``) also keeps the agent's small durable
state (sequence counter, accepted command counter, seen command ids, privacy).

    >>> box = Outbox(Path("/var/lib/doorstep/outbox.sqlite"))         # doctest: +SKIP
    >>> seq = box.append(lambda seq: encode(make_event(seq)), "event")  # doctest: +SKIP
    >>> box.prune_through(seq)                                          # doctest: +SKIP
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from protocol.codec import WireMessage, WireProperties

from .errors import OutboxError

Kind = Literal["event", "snapshot"]

# The wall clock moving this far against the monotonic one was set (NTP after a boot
# without a real-time clock), not drifting.
CLOCK_STEP_S = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('event', 'snapshot')),
    topic      TEXT NOT NULL,
    payload    BLOB NOT NULL,
    properties TEXT NOT NULL,
    qos        INTEGER NOT NULL,
    created    REAL NOT NULL,
    size       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_commands (
    id       TEXT PRIMARY KEY,
    counter  INTEGER NOT NULL,
    accepted REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    kind: Kind
    wire: WireMessage


@dataclass(frozen=True, slots=True)
class Dropped:
    seqs: list[int]
    reason: Literal["bytes", "age", "count"]


class Outbox:
    """Thread-safe: one connection guarded by a lock (writes are tiny and rare)."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 256 * 1024 * 1024,
        max_age_s: float = 14 * 86400,
        max_count: int = 1_000_000,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.max_count = max_count
        # Rows are timed on the monotonic clock plus the wall clock's offset as last seen,
        # so that when the wall clock is set, this start's rows can be moved with it.
        self._wall, self._mono = wall, monotonic
        self._offset = wall() - monotonic()
        self._started = self._created_now()  # rows of this start are timed from here on
        self._lock = threading.Lock()
        self._checkpointer: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: an event acknowledged to the caller survives power loss.
            self._db.execute("PRAGMA synchronous=FULL")
            # No checkpoint inside a commit: copying the WAL into the database (and its
            # extra fsync; long on an SD card) would land on a ring now and then.
            # checkpoint() does it from the publisher thread instead.
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(
                f"cannot open outbox {path}: {exc}; check the folder is writable and the "
                "disk not full (the agent refuses to run without a durable outbox)"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._checkpointer is not None:
                self._checkpointer.close()

    def checkpoint(self) -> int:
        """Copy committed pages from the WAL into the database; how many are left.

        Its own connection and PASSIVE mode: it never holds up a writer (a ring or
        an accepted command), and a checkpoint cut short is finished by the next.
        """
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None
            )
            self._checkpointer.execute("PRAGMA synchronous=FULL")
        _busy, in_wal, copied = self._checkpointer.execute(
            "PRAGMA wal_checkpoint(PASSIVE)"
        ).fetchone()
        return max(0, in_wal - copied)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- durable key/value state ---------------------------------------------
    def _get(self, db: sqlite3.Connection, key: str, default: str) -> str:
        row = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def _set(self, db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO state(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def get_state(self, key: str, default: str = "") -> str:
        with self._lock:
            return self._get(self._db, key, default)

    def set_state(self, key: str, value: str) -> None:
        with self._tx() as db:
            self._set(db, key, value)

    def accept_command(
        self, command_id: str, counter: int
    ) -> Literal["ok", "counter", "duplicate"]:
        """Record a command as accepted, durably, unless its counter or id was used before.

        One transaction, committed before the caller acts: a crash after this line
        cannot make the same command valid again.
        """
        with self._tx() as db:
            if counter <= int(self._get(db, "command_counter", "0")):
                return "counter"
            if db.execute("SELECT 1 FROM seen_commands WHERE id = ?", (command_id,)).fetchone():
                return "duplicate"
            self._set(db, "command_counter", str(counter))
            db.execute(
                "INSERT INTO seen_commands(id, counter, accepted) VALUES (?, ?, ?)",
                (command_id, counter, time.time()),
            )
        return "ok"

    # -- messages ------------------------------------------------------------
    def append(self, build: Callable[[int], WireMessage], kind: Kind) -> int:
        """Allocate the next sequence number, build the message with it, store it durably."""
        return self.append_many([(build, kind)])[0]

    def append_many(self, items: list[tuple[Callable[[int], WireMessage], Kind]]) -> list[int]:
        """Several messages in one durable transaction (one disk flush: a ring and its
        snapshot cost one fsync, not two). Returns their sequence numbers in order."""
        seqs = []
        with self._tx() as db:
            seq = int(self._get(db, "last_seq", "0"))
            for build, kind in items:
                seq += 1
                wire = build(seq)
                props = json.dumps(
                    {
                        "content_type": wire.properties.content_type,
                        "user_properties": list(wire.properties.user_properties),
                    }
                )
                db.execute(
                    "INSERT INTO outbox(seq, kind, topic, payload, properties, qos, created, "
                    "size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        seq,
                        kind,
                        wire.topic,
                        wire.payload,
                        props,
                        wire.qos,
                        self._created_now(),
                        len(wire.payload),
                    ),
                )
                seqs.append(seq)
            self._set(db, "last_seq", str(seq))
        return seqs

    def pending(self, after_seq: int = 0, limit: int = 100) -> list[Pending]:
        """Stored messages with ``seq > after_seq``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, topic, payload, properties, qos FROM outbox "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        out = []
        for seq, kind, topic, payload, props_json, qos in rows:
            props = json.loads(props_json)
            wire = WireMessage(
                topic=topic,
                payload=bytes(payload),
                qos=qos,
                retain=False,
                properties=WireProperties(
                    content_type=props["content_type"],
                    user_properties=tuple(tuple(p) for p in props["user_properties"]),
                ),
            )
            out.append(Pending(seq, kind, wire))
        return out

    def prune_through(self, seq: int) -> int:
        """Delete everything the hub has stored (``seq`` and below); return how many."""
        with self._tx() as db:
            cur = db.execute("DELETE FROM outbox WHERE seq <= ?", (seq,))
            self._set(
                db, "stored_through", str(max(seq, int(self._get(db, "stored_through", "0"))))
            )
            return cur.rowcount

    @property
    def last_seq(self) -> int:
        return int(self.get_state("last_seq", "0"))

    @property
    def stored_through(self) -> int:
        return int(self.get_state("stored_through", "0"))

    @property
    def dropped_total(self) -> int:
        return int(self.get_state("dropped_total", "0"))

    def stats(self) -> tuple[int, int]:
        """(messages held, bytes held)."""
        with self._lock:
            count, size = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox"
            ).fetchone()
        return int(count), int(size)

    def enforce_bounds(self, now: float | None = None) -> list[Dropped]:
        """Drop what no longer fits: by age, then by bytes and count, snapshots before events."""
        drops: list[Dropped] = []
        with self._tx() as db:
            self._follow_clock_step(db)
            now = self._wall() if now is None else now
            old = [
                r[0]
                for r in db.execute(
                    "SELECT seq FROM outbox WHERE created < ? ORDER BY seq", (now - self.max_age_s,)
                )
            ]
            self._delete(db, old, "age", drops)
            total = db.execute("SELECT COALESCE(SUM(size), 0) FROM outbox").fetchone()[0]
            victims = []
            for seq, size in self._victims(db):
                if total <= self.max_bytes:
                    break
                victims.append(seq)
                total -= size
            self._delete(db, victims, "bytes", drops)
            excess = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] - self.max_count
            victims = [seq for seq, _ in self._victims(db)][: max(excess, 0)]
            self._delete(db, victims, "count", drops)
        return drops

    def _created_now(self) -> float:
        return self._mono() + self._offset

    def _follow_clock_step(self, db: sqlite3.Connection) -> None:
        """A Pi without a real-time clock boots on an old time until NTP sets it: events
        recorded before that must not look weeks old (and be dropped by age) after it.
        This start's rows move with the step; earlier starts' rows cannot be told apart."""
        offset = self._wall() - self._mono()
        step = offset - self._offset
        if abs(step) < CLOCK_STEP_S:
            return
        db.execute(
            "UPDATE outbox SET created = created + ? WHERE created >= ?", (step, self._started)
        )
        self._started += step
        self._offset = offset

    def _delete(
        self, db: sqlite3.Connection, seqs: list[int], reason: str, drops: list[Dropped]
    ) -> None:
        if not seqs:
            return
        db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
        total = int(self._get(db, "dropped_total", "0")) + len(seqs)
        self._set(db, "dropped_total", str(total))
        drops.append(Dropped(list(seqs), reason))  # type: ignore[arg-type]

    @staticmethod
    def _victims(db: sqlite3.Connection) -> list[tuple[int, int]]:
        # Snapshots first (oldest first), then events: a ring without its picture is
        # far better than a lost ring.
        return db.execute("SELECT seq, size FROM outbox ORDER BY kind = 'event', seq").fetchall()

    def integrity_ok(self) -> bool:
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
