"""Throttles whose slot is taken atomically *before* the expensive or risky work (a password check).

Counters live in the database every worker shares (table throttle_counter), or in Redis when
REDIS_URL is set. A limit is a text such as "5 per 5 minutes" (the `limits` notation): a window starts
at the first hit of a key and lasts that long, in both storages.

In Redis the counting is `limits`' FixedWindowRateLimiter: one Lua script does INCRBY and, on the first
hit, EXPIRE, so every worker's hit is counted exactly once. Its keys start with THROTTLE_KEY_PREFIX, so
one Redis server can hold several portals (or test runs) apart.

Sign-in keys use request.remote_addr: X-Forwarded-For only changes it when PROXY_FIX_HOPS configures
ProxyFix, so a client cannot pick its own bucket.
"""
from __future__ import annotations

import threading
import time

import redis  # noqa: F401  (imported before any request thread: see _redis)
from flask import current_app
from limits import parse as parse_limit
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import case, delete, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .extensions import db
from .models import ThrottleCounter

KEY_MAX = 320

# Give a slot back without ever going below zero, and without creating a key whose window has ended.
REDIS_GIVE_BACK = """
local hits = tonumber(redis.call("get", KEYS[1]) or "0")
if hits > 0 then
    return redis.call("decr", KEYS[1])
end
return 0
"""


def _limit(text: str):
    item = parse_limit(text)
    return item.amount, int(item.get_expiry())


class _RedisThrottle:
    """`limits`' fixed-window limiter on this app's Redis, and the script that gives a slot back."""

    def __init__(self, url: str, prefix: str):
        self.limiter = FixedWindowRateLimiter(storage_from_string(url, key_prefix=prefix))
        self.storage = self.limiter.storage
        self._give_back = self.storage.get_connection().register_script(REDIS_GIVE_BACK)

    def hit(self, limit: str, key: str) -> bool:
        return self.limiter.hit(parse_limit(limit), key)

    def give_back(self, limit: str, key: str) -> None:
        self._give_back(keys=[self.storage.prefixed_key(parse_limit(limit).key_for(key))])


_redis_lock = threading.Lock()


def _redis() -> _RedisThrottle:
    """This app's Redis throttle, created at first use in each worker process (one per process).

    `limits` imports the redis module lazily and reads its version from sys.modules: a thread that
    looks while another is still importing it sees version 0.0.0 and refuses (ConfigurationError, a
    500 for the first parallel sign-ins after a start). Hence the import at the top and the lock."""
    throttle = current_app.extensions.get("portal_redis_throttle")
    if throttle is None:
        with _redis_lock:
            throttle = current_app.extensions.get("portal_redis_throttle")
            if throttle is None:
                config = current_app.config
                throttle = _RedisThrottle(config["REDIS_URL"], config["THROTTLE_KEY_PREFIX"])
                current_app.extensions["portal_redis_throttle"] = throttle
    return throttle


def _insert(dialect: str):
    return postgresql_insert if dialect == "postgresql" else sqlite_insert


def hit(key: str, window_seconds: int) -> int:
    """Count one hit of `key` in the database and return the count in its current window (1 for the
    first hit).

    Runs in the current session's transaction: the caller commits (take_slot does)."""
    key = key[:KEY_MAX]
    now = int(time.time())
    table = ThrottleCounter.__table__
    insert = _insert(db.session.get_bind().dialect.name)
    expired = table.c.reset_at <= now

    statement = insert(table).values(key=key, hits=1, reset_at=now + window_seconds)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"hits": case((expired, 1), else_=table.c.hits + 1),
              "reset_at": case((expired, now + window_seconds), else_=table.c.reset_at)},
    ).returning(table.c.hits)
    count = db.session.execute(statement).scalar_one()
    if count == 1 and now % 16 == 0:  # now and then, forget windows that ended long ago
        db.session.execute(delete(ThrottleCounter).where(ThrottleCounter.reset_at < now - 3600))
    return count


def take_slot(key: str, limit: str) -> bool:
    """Take one slot of `limit` for `key`; False when the limit is reached (then do not do the work).

    The slot is counted before this returns (in Redis at once; in the database this commits the
    session), so the work can start: call it before other writes."""
    if current_app.config.get("REDIS_URL"):
        return _redis().hit(limit, key[:KEY_MAX])
    amount, window = _limit(limit)
    count = hit(key, window)
    db.session.commit()
    return count <= amount


def take_slots(limits: list[tuple[str, str]]) -> bool:
    """Take a slot in every (key, limit); False when any of them is full. Each is counted either way."""
    results = [take_slot(key, limit) for key, limit in limits]
    return all(results)


def give_back(key: str, limit: str) -> None:
    """Return a slot taken by take_slot (a successful sign-in does not count as an attempt).

    In the database this runs in the session's transaction (the caller commits); in Redis at once."""
    if current_app.config.get("REDIS_URL"):
        _redis().give_back(limit, key[:KEY_MAX])
        return
    db.session.execute(update(ThrottleCounter).where(ThrottleCounter.key == key[:KEY_MAX], ThrottleCounter.hits > 0)
                       .values(hits=ThrottleCounter.hits - 1))
