"""The 365-day life of a seller authorization: the one expiry rule.

`bounds()` feeds the SQL conditions of the list filters and the banner (shops/queries.py); `lifecycle()`
gives one authorization's state for its row and page. Both use the same two moments, so a shop filtered
as "expiring" always shows as expiring."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from ..models import SellerAuthorization, utcnow

VALID, EXPIRING, EXPIRED = "valid", "expiring", "expired"


@dataclass(frozen=True)
class Bounds:
    """An authorization given at or before `expired_before` has expired; at or before `warn_before`, expires soon."""
    now: datetime
    validity: timedelta
    expired_before: datetime
    warn_before: datetime

    def state(self, authorized_at: datetime) -> str:
        if authorized_at <= self.expired_before:
            return EXPIRED
        return EXPIRING if authorized_at <= self.warn_before else VALID


def bounds(now: datetime | None = None) -> Bounds:
    cfg = current_app.config
    now = now or utcnow()
    validity = timedelta(days=cfg["AUTHORIZATION_VALIDITY_DAYS"])
    expired_before = now - validity
    return Bounds(now=now, validity=validity, expired_before=expired_before,
                  warn_before=expired_before + timedelta(days=cfg["AUTHORIZATION_WARN_DAYS"]))


@dataclass(frozen=True)
class Lifecycle:
    state: str
    authorized_at: datetime
    expires_at: datetime
    days_left: int


def lifecycle_at(authorized_at: datetime, limits: Bounds) -> Lifecycle:
    """The state of an authorization given at `authorized_at` (one `bounds()` serves a whole list)."""
    now = limits.now
    expires_at = authorized_at + limits.validity
    days_left = (expires_at - now).days if expires_at > now else -((now - expires_at).days + 1)
    return Lifecycle(state=limits.state(authorized_at), authorized_at=authorized_at, expires_at=expires_at,
                     days_left=days_left)


def lifecycle(authorization: SellerAuthorization, now: datetime | None = None) -> Lifecycle:
    return lifecycle_at(authorization.authorized_at, bounds(now))
