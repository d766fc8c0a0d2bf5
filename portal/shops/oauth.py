"""The server side of "Authorize with Amazon": OAuth `state` values and what a callback brought back.

A state is 256 random bits; only its SHA-256 is stored. It is bound to the user, company, purpose
(a new shop, or re-authorizing shop N) and region, expires after AMAZON_AUTH_STATE_MINUTES and is
consumed by one atomic UPDATE, so two callbacks carrying one state exchange one code at most.
Between the callback and the finished dialog the refresh token waits here, encrypted like a stored
one, never in the browser. Services flush; the view commits.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

from sqlalchemy import delete, select, update

from ..amazon.marketplaces import REGIONS, marketplace_by_id, region_of_host, seller_central_hosts
from ..crypto import decrypt_token, encrypt_token
from ..extensions import db
from ..models import AmazonAuthState, User, utcnow

CONSENT_PATH = "/apps/authorize/consent"
CALLBACK_PATH = "/apps/authorize/confirm"  # where Amazon's amazon_callback_uri points
# How long a consumed state may wait for its finished dialog (the token is held meanwhile).
FINISH_MINUTES = 30
OK, MISSING, UNKNOWN, USED, EXPIRED = "ok", "missing", "unknown", "used", "expired"


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def create_state(user: User, *, purpose: str, region: str, marketplace_id: str, minutes: int,
                 shop_id: int | None = None, shop_name: str | None = None) -> str:
    """A new single-use state for `user`; returns the raw value (it is never stored)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    _purge(now)
    db.session.add(AmazonAuthState(state_hash=_digest(raw), user_id=user.id, company_id=user.company_id,
                                   purpose=purpose, shop_id=shop_id, region=region, marketplace_id=marketplace_id,
                                   shop_name=shop_name or None,
                                   created_at=now, expires_at=now + timedelta(minutes=minutes)))
    db.session.flush()
    return raw


@dataclass(frozen=True)
class Taken:
    """A consumed state: plain values, safe to use after the commit that follows."""

    id: int
    purpose: str
    shop_id: int | None
    region: str


def _purge(now: datetime) -> None:
    """Drop tokens of dialogs left unfinished, and attempts older than a week (kept that long for the
    "cancelled or not finished" notice and for support)."""
    db.session.execute(update(AmazonAuthState).where(
        AmazonAuthState.token_ciphertext.is_not(None), AmazonAuthState.finished_at.is_(None),
        AmazonAuthState.used_at < now - timedelta(minutes=FINISH_MINUTES)).values(token_ciphertext=None)
        .execution_options(synchronize_session=False))
    db.session.execute(delete(AmazonAuthState).where(AmazonAuthState.created_at < now - timedelta(days=7))
                       .execution_options(synchronize_session=False))


def consume(raw: str | None, user: User) -> tuple[Taken | None, str]:
    """Take the state for this callback: (Taken, OK) exactly once, else (None, why).

    One UPDATE … WHERE used_at IS NULL AND not expired AND the same user: of two callbacks with
    the same state only one sees rowcount 1. A state of another user reads as unknown."""
    if not raw or len(raw) > 200:
        return None, MISSING
    digest, now = _digest(raw), utcnow()
    result = db.session.execute(
        update(AmazonAuthState)
        .where(AmazonAuthState.state_hash == digest, AmazonAuthState.used_at.is_(None),
               AmazonAuthState.expires_at > now, AmazonAuthState.user_id == user.id,
               AmazonAuthState.company_id == user.company_id)
        .values(used_at=now).execution_options(synchronize_session=False))
    row = db.session.scalar(select(AmazonAuthState).where(AmazonAuthState.state_hash == digest))
    if result.rowcount == 1:
        return Taken(row.id, row.purpose, row.shop_id, row.region), OK
    if row is None or row.user_id != user.id:
        return None, UNKNOWN
    return None, USED if row.used_at is not None else EXPIRED


def hold_token(state_id: int, *, seller_id: str, token: str, participating: list[str] | None) -> None:
    """Keep the exchanged refresh token (encrypted) and the seller's countries until the dialog is done."""
    row = db.session.get(AmazonAuthState, state_id)
    row.seller_id = seller_id
    row.token_ciphertext = encrypt_token(token, company_id=row.company_id, seller_id=seller_id, region=row.region)
    row.participations = None if participating is None else json.dumps(participating)
    db.session.flush()


def pending_finish(state_id: int, user: User) -> AmazonAuthState | None:
    """The consumed state of `user` whose dialog is still open (token held, not finished, recent)."""
    return db.session.scalar(select(AmazonAuthState).where(
        AmazonAuthState.id == state_id, AmazonAuthState.user_id == user.id,
        AmazonAuthState.company_id == user.company_id, AmazonAuthState.finished_at.is_(None),
        AmazonAuthState.token_ciphertext.is_not(None),
        AmazonAuthState.used_at > utcnow() - timedelta(minutes=FINISH_MINUTES)))


def held_token(row: AmazonAuthState) -> str:
    return decrypt_token(row.token_ciphertext, company_id=row.company_id, seller_id=row.seller_id, region=row.region)


def participating(row: AmazonAuthState) -> list[str] | None:
    """Marketplace ids Amazon listed for this seller in the row's region (None: Amazon did not say)."""
    return None if row.participations is None else json.loads(row.participations)


def finish(state_id: int) -> None:
    """Close the attempt and drop the held token."""
    db.session.execute(update(AmazonAuthState).where(AmazonAuthState.id == state_id)
                       .values(finished_at=utcnow(), token_ciphertext=None))
    db.session.flush()


def unfinished_attempt(user: User, *, purpose: str, shop_id: int | None = None) -> datetime | None:
    """When the user's latest attempt for this purpose started, if it never came back from Amazon
    (the seller cancelled, or Seller Central showed an error): the dialog then says so."""
    query = (select(AmazonAuthState).where(AmazonAuthState.user_id == user.id, AmazonAuthState.purpose == purpose,
                                           AmazonAuthState.created_at > utcnow() - timedelta(minutes=FINISH_MINUTES))
             .order_by(AmazonAuthState.id.desc()).limit(1))
    if shop_id is not None:
        query = query.where(AmazonAuthState.shop_id == shop_id)
    latest = db.session.scalar(query)
    return latest.created_at if latest is not None and latest.used_at is None else None


@dataclass(frozen=True)
class AppSettings:
    """The AMAZON_APP_* settings that shape the consent and log-in URLs."""

    app_id: str
    redirect_uri: str
    draft: bool
    seller_central_url: str | None

    def consent_url(self, state: str, marketplace_id: str, region: str) -> str:
        """Seller Central's consent page for the chosen country (or AMAZON_SELLER_CENTRAL_URL)."""
        marketplace = marketplace_by_id(marketplace_id)
        host = marketplace.seller_central_host if marketplace else REGIONS[region].seller_central_host
        base = (self.seller_central_url or f"https://{host}").rstrip("/")
        params = {"application_id": self.app_id, "state": state, "redirect_uri": self.redirect_uri}
        if self.draft:
            params["version"] = "beta"
        return f"{base}{CONSENT_PATH}?{urlencode(params)}"

    def login_redirect(self, amazon_callback_uri: str, amazon_state: str, state: str, beta: bool = False) -> str:
        """Where the log-in URI step sends the browser back to Amazon (with version=beta for a draft
        app, or when Amazon sent it: it does so for a draft app)."""
        params = {"redirect_uri": self.redirect_uri, "amazon_state": amazon_state, "state": state}
        if self.draft or beta:
            params["version"] = "beta"
        separator = "&" if "?" in amazon_callback_uri else "?"
        return amazon_callback_uri + separator + urlencode(params)

    def callback_region(self, amazon_callback_uri: str) -> str | None:
        """The region of an amazon_callback_uri, or None when it is not a Seller Central URL we know
        (an https host of the marketplace table, or AMAZON_SELLER_CENTRAL_URL): never an open redirect."""
        parts = urlsplit(amazon_callback_uri or "")
        if parts.username or parts.password or not parts.netloc or not parts.path.startswith(CALLBACK_PATH):
            return None
        if self.seller_central_url:
            own = urlsplit(self.seller_central_url)
            if (parts.scheme, parts.netloc) == (own.scheme, own.netloc):
                return "override"
        if parts.scheme != "https" or parts.port not in (None, 443) or parts.hostname not in seller_central_hosts():
            return None
        return region_of_host(parts.hostname)
