"""The 365-day life of a seller authorization: when it expires and how soon."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from ..models import SellerAuthorization, utcnow

VALID, EXPIRING, EXPIRED = "valid", "expiring", "expired"


@dataclass(frozen=True)
class Lifecycle:
    state: str
    authorized_at: datetime
    expires_at: datetime
    days_left: int


def lifecycle(authorization: SellerAuthorization, now: datetime | None = None) -> Lifecycle:
    cfg = current_app.config
    now = now or utcnow()
    expires_at = authorization.authorized_at + timedelta(days=cfg["AUTHORIZATION_VALIDITY_DAYS"])
    days_left = (expires_at - now).days if expires_at > now else -((now - expires_at).days + 1)
    if expires_at <= now:
        state = EXPIRED
    elif expires_at - now <= timedelta(days=cfg["AUTHORIZATION_WARN_DAYS"]):
        state = EXPIRING
    else:
        state = VALID
    return Lifecycle(state=state, authorized_at=authorization.authorized_at, expires_at=expires_at,
                     days_left=days_left)
