"""Throttles whose slot is taken atomically *before* the expensive or risky work (a password check).

Counters live in the database every worker shares (table throttle_counter), or in Redis when
REDIS_URL is set. A limit is a Flask-Limiter style text such as "5 per 5 minutes": a window starts
at the first hit of a key and lasts that long.
"""
from __future__ import annotations

import time

from flask import current_app
from limits import parse as parse_limit
from sqlalchemy import case, delete, update

from .extensions import db
from .models import ThrottleCounter

KEY_MAX = 320


def _limit(text: str):
    item = parse_limit(text)
    return item.amount, int(item.get_expiry())


def _redis_limiter():
    limiter = current_app.extensions.get("portal_redis_throttle")
    if limiter is None:
        from limits.storage import storage_from_string
        from limits.strategies import FixedWindowRateLimiter

        limiter = FixedWindowRateLimiter(storage_from_string(current_app.config["REDIS_URL"]))
        current_app.extensions["portal_redis_throttle"] = limiter
    return limiter


def _insert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def hit(key: str, window_seconds: int) -> int:
    """Count one hit of `key` and return the count in its current window (1 for the first hit).

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

    Commits the session, so the slot is counted before the work starts: call it before other writes."""
    amount, window = _limit(limit)
    if current_app.config.get("REDIS_URL"):
        item = parse_limit(limit)
        return _redis_limiter().hit(item, "portal", key[:KEY_MAX])
    count = hit(key, window)
    db.session.commit()
    return count <= amount


def take_slots(limits: list[tuple[str, str]]) -> bool:
    """Take a slot in every (key, limit); False when any of them is full. Each is counted either way."""
    results = [take_slot(key, limit) for key, limit in limits]
    return all(results)


def give_back(key: str, limit: str) -> None:
    """Return a slot taken by take_slot (a successful sign-in does not count as an attempt)."""
    if current_app.config.get("REDIS_URL"):
        item = parse_limit(limit)
        _redis_limiter().storage.incr(item.key_for("portal", key[:KEY_MAX]), item.get_expiry(), amount=-1)
        return
    db.session.execute(update(ThrottleCounter).where(ThrottleCounter.key == key[:KEY_MAX], ThrottleCounter.hits > 0)
                       .values(hits=ThrottleCounter.hits - 1))
