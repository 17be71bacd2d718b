"""The one lock every writer of `@champion` takes: Dagster steps, the CLI, the server's admin paths.

MLflow has no compare-and-set on an alias, so a move is read-check-write under this lock. Where
the registry's database is shared (the stack's MLflow server on PostgreSQL or MySQL), the lock is
a database lock on it: a PostgreSQL advisory lock or MySQL's `GET_LOCK`, held by a connection
and released when it closes, so a killed writer never leaves it held. Embedded, it is a file
lock (the `filelock` package) beside the SQLite registry. No dagster import.
"""

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import filelock
import sqlalchemy as sa

log = logging.getLogger(__name__)

WAITING = "waiting for the champion lock held by another writer"


def lock_key(model_name: str) -> int:
    """A stable signed 64-bit key per registered model (PostgreSQL advisory locks take bigint)."""
    digest = hashlib.sha256(f"mlops-champion:{model_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def default_lock_url(tracking_uri: str, home: Path | None = None) -> str:
    """The lock beside a SQLite registry, else a file in `home` (one machine only)."""
    if tracking_uri.startswith("sqlite:///"):
        return f"file://{tracking_uri.removeprefix('sqlite:///')}.champion.lock"
    folder = home or Path.home() / ".mlops_assets"
    return f"file://{folder / 'champion.lock'}"


@contextlib.contextmanager
def champion_lock(lock_url: str, model_name: str, timeout_s: float = 300) -> Iterator[None]:
    """Holds the champion lock of `model_name` for the block.

    Args:
        lock_url: `file:///path` for a file lock, or a PostgreSQL / MySQL SQLAlchemy URL.
        model_name: the registered model whose alias is moved.
        timeout_s: how long to wait for another writer before giving up.

    Raises:
        TimeoutError: another writer held the lock for `timeout_s`.
    """
    if lock_url.startswith("file://"):
        with _file_lock(Path(lock_url.removeprefix("file://")), timeout_s):
            yield
        return
    with _database_lock(lock_url, lock_key(model_name), timeout_s):
        yield


@contextlib.contextmanager
def _file_lock(path: Path, timeout_s: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        log.info("%s (%s)", WAITING, path)
        try:
            lock.acquire(timeout=timeout_s)
        except filelock.Timeout as error:
            raise TimeoutError(f"champion lock {path} held for over {timeout_s} s") from error
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _database_lock(url: str, key: int, timeout_s: float) -> Iterator[None]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    mysql = engine.dialect.name.startswith("mysql")
    try_sql = "SELECT GET_LOCK(:name, 0)" if mysql else "SELECT pg_try_advisory_lock(:key)"
    wait_sql = "SELECT GET_LOCK(:name, :timeout)" if mysql else "SELECT pg_advisory_lock(:key)"
    release_sql = "SELECT RELEASE_LOCK(:name)" if mysql else "SELECT pg_advisory_unlock(:key)"
    params = {"key": key, "name": f"mlops-champion-{key}", "timeout": int(timeout_s)}
    try:
        with engine.connect() as connection:
            if not connection.execute(sa.text(try_sql), params).scalar():
                log.info("%s (%s)", WAITING, engine.url.render_as_string(hide_password=True))
                if not mysql:
                    connection.execute(sa.text(f"SET statement_timeout = {int(timeout_s * 1000)}"))
                if not connection.execute(sa.text(wait_sql), params).scalar() and mysql:
                    raise TimeoutError(f"champion lock held for over {timeout_s} s")
            try:
                yield
            finally:
                connection.execute(sa.text(release_sql), params)
                connection.commit()
    finally:
        engine.dispose()
