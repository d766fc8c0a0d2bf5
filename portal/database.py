"""Engine settings per backend: SQLite gets WAL, foreign keys, a busy timeout, write locks up front and
owner-only files; on every backend a connection that an error left unusable is thrown away."""
import contextvars
import os
import stat
from contextlib import contextmanager

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

_write_intent = contextvars.ContextVar("portal_write_intent", default=False)


@contextmanager
def write_intent():
    """Transactions begun inside this block take SQLite's write lock at BEGIN (for CLI writers)."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def _wants_write_lock() -> bool:
    if _write_intent.get():
        return True
    return has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")


# Errors after which a pooled connection stays broken although pre-ping (a read) still passes:
# SQLite opens a file it may not write read-only and keeps it so; PostgreSQL terminated backends.
_POISONING_SQLITE = ("attempt to write a readonly database", "disk i/o error")
_POISONING_SQLSTATES = {"57P01", "57P02", "57P03", "08000", "08003", "08006"}


def configure_engine(engine: Engine) -> None:
    """Mark the errors that poison a connection as disconnects: SQLAlchemy then invalidates that
    connection (and the pool's older ones), so the next request opens a fresh, working one."""

    @event.listens_for(engine, "handle_error")
    def _invalidate_poisoned(context):
        error = context.original_exception
        text = str(error).lower()
        if any(marker in text for marker in _POISONING_SQLITE) \
                or getattr(error, "sqlstate", None) in _POISONING_SQLSTATES:
            context.is_disconnect = True


def owner_only(path: str) -> None:
    """Take group and other permissions away from `path` and its -wal/-shm files (never add any)."""
    for name in (path, path + "-wal", path + "-shm", path + "-journal"):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
            if mode & 0o077:
                os.chmod(name, mode & ~0o077)
        except (FileNotFoundError, PermissionError):
            continue


def _create_owner_only(path: str) -> None:
    """Create the database file 0600 before SQLite does (it would use the umask, usually 0644); SQLite
    gives its -wal and -shm files the permissions of the database file."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    owner_only(path)


def configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """A deferred transaction that reads and then writes fails at once with 'database is locked'
    when another writer committed in between; BEGIN IMMEDIATE for writing requests waits instead."""
    path = engine.url.database
    file_based = bool(path) and path != ":memory:" and not path.startswith("file:")
    if file_based:
        _create_owner_only(path)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event below issues BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()
        if file_based:
            owner_only(path)  # -wal/-shm made by an older version or another tool

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _wants_write_lock() else "BEGIN")
