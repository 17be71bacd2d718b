"""The embedded event queue: durable queues in one SQLite file, safe for several processes.

No dagster import: the inference server consumes it too.

A fetched message is leased to its consumer (owner = host, pid and a random token). It becomes
deliverable again when the consumer acks nothing and closes, when its lease expires, or at once
when the owning process on this host is gone (a SIGKILLed consumer needs no lease timeout).
"""

import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from mlops_assets.backends.event_queue.base import (
    FETCH_MAX_BYTES,
    DeadLetter,
    EventQueue,
    Message,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body BLOB NOT NULL,
    enqueued_at REAL NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until REAL
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue, lease_owner, id);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body BLOB NOT NULL,
    reason TEXT NOT NULL,
    deliveries INTEGER NOT NULL,
    dead_lettered_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_by_queue ON dead_letters (queue, id);
"""


class SqliteQueue(EventQueue):
    """Embedded default: the queues live in a SQLite file under MLOPS_HOME.

    Args:
        path: SQLite file holding the queues.
        prefix: prepended to every queue name.
        lease_seconds: how long a fetched, unacknowledged message stays with its consumer
            before another may receive it.
    """

    def __init__(self, path: str, prefix: str = "", lease_seconds: float = 120.0) -> None:
        super().__init__(prefix)
        self.path = path
        self.lease_seconds = lease_seconds
        self._conn: sqlite3.Connection | None = None
        self._owner = ""

    def open(self) -> None:
        if self._conn is not None:
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        # WAL + FULL: a commit survives a crash of the process and of the machine.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.executescript(SCHEMA)
        # Made when the connection opens, so a forked consumer gets its own pid in the owner.
        self._owner = _owner_id()
        self._conn = conn

    @property
    def conn(self) -> sqlite3.Connection:
        self.open()
        return self._conn

    def close(self) -> None:
        if self._conn is None:
            return
        with self._transaction() as conn:
            conn.execute(
                "UPDATE messages SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?",
                (self._owner,),
            )
        self._conn.close()
        self._conn = None

    def publish_bodies(self, queue: str, bodies: Sequence[bytes]) -> None:
        now = time.time()
        name = self.queue_name(queue)
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO messages (queue, body, enqueued_at) VALUES (?, ?, ?)",
                [(name, bytes(body), now) for body in bodies],
            )

    def fetch(self, queue: str, max_messages: int, max_seconds: float) -> list[Message]:
        name = self.queue_name(queue)
        now = time.time()
        with self._transaction() as conn:
            self._reclaim(conn, name, now)
            # The oldest messages, each taken while the ones before it hold under the byte bound.
            rows = conn.execute(
                "UPDATE messages SET lease_owner = ?, lease_until = ?, deliveries = deliveries + 1 "
                "WHERE id IN (SELECT id FROM (SELECT id, SUM(size) OVER (ORDER BY id) - size "
                "AS before FROM (SELECT id, length(body) AS size FROM messages WHERE queue = ? "
                "AND lease_owner IS NULL ORDER BY id LIMIT ?)) WHERE before < ?) "
                "RETURNING id, body, deliveries",
                (self._owner, now + self.lease_seconds, name, max_messages, FETCH_MAX_BYTES),
            ).fetchall()
        rows.sort()
        return [Message(tag, body, deliveries > 1, deliveries) for tag, body, deliveries in rows]

    def ack(self, queue: str, messages: Sequence[Message]) -> None:
        owner = self._owner
        with self._transaction() as conn:
            conn.executemany(
                "DELETE FROM messages WHERE id = ? AND lease_owner = ?",
                [(m.tag, owner) for m in messages],
            )

    def dead_letter(self, queue: str, rejected: Sequence[tuple[Message, str]]) -> None:
        now = time.time()
        with self._transaction() as conn:
            for message, reason in rejected:
                moved = conn.execute(
                    "DELETE FROM messages WHERE id = ? AND lease_owner = ? RETURNING deliveries",
                    (message.tag, self._owner),
                ).fetchone()
                if moved is not None:
                    conn.execute(
                        "INSERT INTO dead_letters (queue, body, reason, deliveries, "
                        "dead_lettered_at) VALUES (?, ?, ?, ?, ?)",
                        (self.queue_name(queue), message.body, reason, moved[0], now),
                    )

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        rows = self.conn.execute(
            "SELECT body, reason FROM dead_letters WHERE queue = ? ORDER BY id LIMIT ?",
            (self.queue_name(queue), limit),
        ).fetchall()
        return [DeadLetter(body=row[0], reason=row[1]) for row in rows]

    def requeue_dead_letters(self, queue: str, reason_contains: str | None = None) -> int:
        name = self.queue_name(queue)
        now = time.time()
        # One transaction: each letter is moved exactly once, even if the command is killed.
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT id, body, reason FROM dead_letters WHERE queue = ? ORDER BY id", (name,)
            ).fetchall()
            chosen = [
                (letter_id, body)
                for letter_id, body, reason in rows
                if reason_contains is None or reason_contains in reason
            ]
            conn.executemany(
                "DELETE FROM dead_letters WHERE id = ?", [(letter_id,) for letter_id, _ in chosen]
            )
            conn.executemany(
                "INSERT INTO messages (queue, body, enqueued_at) VALUES (?, ?, ?)",
                [(name, body, now) for _, body in chosen],
            )
        return len(chosen)

    def depth(self, queue: str) -> int:
        return self.conn.execute(
            "SELECT count(*) FROM messages WHERE queue = ? AND lease_owner IS NULL",
            (self.queue_name(queue),),
        ).fetchone()[0]

    def remove(self, queue: str) -> None:
        name = self.queue_name(queue)
        with self._transaction() as conn:
            conn.execute("DELETE FROM messages WHERE queue = ?", (name,))
            conn.execute("DELETE FROM dead_letters WHERE queue = ?", (name,))

    def _reclaim(self, conn: sqlite3.Connection, name: str, now: float) -> None:
        owners = conn.execute(
            "SELECT DISTINCT lease_owner FROM messages WHERE queue = ? AND lease_owner IS NOT NULL",
            (name,),
        ).fetchall()
        gone = [owner for (owner,) in owners if owner != self._owner and _owner_is_gone(owner)]
        conn.execute(
            "UPDATE messages SET lease_owner = NULL, lease_until = NULL "
            "WHERE queue = ? AND lease_owner IS NOT NULL AND lease_until < ?",
            (name, now),
        )
        conn.executemany(
            "UPDATE messages SET lease_owner = NULL, lease_until = NULL "
            "WHERE queue = ? AND lease_owner = ?",
            [(name, owner) for owner in gone],
        )

    def _transaction(self) -> "_Immediate":
        return _Immediate(self.conn)


class _Immediate:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front so readers never deadlock."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _owner_is_gone(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
