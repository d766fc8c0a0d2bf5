"""Pulling a seller authorization's orders from Amazon into store_order (source "amazon").

The service API (for the job queue, the CLI and the pages):

- :func:`sync_authorization` runs one sync of one seller authorization and returns a
  :class:`SyncResult`. It is safe to call from any number of processes at once: a lease on the
  authorization's :class:`~portal.models.OrdersSyncState` row lets one caller in at a time, and every
  searchOrders request first takes a token from the authorization's bucket (0.0056 requests/s,
  burst 20) with one atomic UPDATE, so no number of workers overspends it.
- :func:`due_authorizations` lists the authorizations a periodic task should sync now;
  :func:`authorization_of_shop` and :func:`authorizations_of_company` pick them for ``--shop`` / ``--company``.
- :func:`sync_states` and :func:`describe_state` give the pages a shop's sync status and its text.

A run: the first one backfills ORDERS_BACKFILL_DAYS by createdAfter; later ones ask for
lastUpdatedAfter = the previous run's lastUpdatedBefore minus ORDERS_OVERLAP_MINUTES. The run's
parameters and its pagination token are stored, and after each page the page's orders and the new
token are committed together: a killed process loses nothing, and the next call resumes at the stored
token (or, when Amazon rejects the token, restarts from the cursor). The cursor moves only when the
last page of a run is committed. Orders are upserted by Amazon order id; a row is only overwritten by
an answer with a newer lastUpdatedTime.

No database transaction is open while Amazon is being asked.
"""
from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, case, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .amazon import client as amazon
from .amazon import orders as api
from .amazon.marketplaces import marketplace_by_id
from .crypto import TokenUnavailable, decrypt_token
from .database import write_intent
from .extensions import db
from .models import (ORDER_SOURCE_AMAZON, SYNC_ERROR, SYNC_NEVER, SYNC_OK, SYNC_RUNNING, SYNC_STOPPED,
                     SYNC_WAITING, Order, OrdersSyncState, SellerAuthorization, Shop, ShopMarketplace, utcnow)
from .shops.lifecycle import EXPIRED, lifecycle

log = logging.getLogger(__name__)

# Results of a call that did not run to the end of a page loop for its own reasons.
PARTIAL = "partial"  # max_pages reached: the next call resumes at the stored pagination token
BUSY = "busy"  # another consumer holds the lease
MISSING = "missing"  # no such authorization
LOST_LEASE = "lost_lease"  # the lease expired and another consumer took it: this page was not kept

# Error codes of the portal's own (besides the verify codes of portal.amazon.client).
AUTHORIZATION_EXPIRED = "authorization_expired"
TOKEN_UNREADABLE = "token_unreadable"

# Amazon's fulfillmentStatus -> the portal's order status (filters and totals use the latter;
# the raw value is kept in Order.amazon_status).
STATUS_MAP = {"PENDING_AVAILABILITY": "pending", "PENDING": "pending", "UNSHIPPED": "paid",
              "PARTIALLY_SHIPPED": "paid", "SHIPPED": "shipped", "CANCELLED": "cancelled",
              "UNFULFILLABLE": "cancelled"}

# A run in progress that nobody is working on right now (paused between calls, or its consumer died).
RESUMING_TEXT = _l("Order sync in progress; it continues at the next run.")
STATUS_TEXTS = {
    SYNC_NEVER: _l("Orders not synced yet."),
    SYNC_RUNNING: _l("Syncing orders…"),
    SYNC_OK: _l("Orders synced."),
    SYNC_WAITING: _l("Waiting for Amazon's rate limit; the order sync continues by itself."),
    SYNC_ERROR: _l("The last order sync failed; it will be tried again."),
    SYNC_STOPPED: _l("Order sync stopped until the shop is re-authorized."),
}
REASON_TEXTS = {
    AUTHORIZATION_EXPIRED: _l("The authorization has expired (authorizations last 365 days). Re-authorize "
                              "the shop to sync its orders again."),
    amazon.INVALID_GRANT: _l("Amazon refused the authorization: it was revoked or has expired. Re-authorize "
                             "the shop to sync its orders again."),
    amazon.FORBIDDEN: _l("Amazon denied access to the seller's orders (wrong region, or the application "
                         "lacks the role for orders). Re-authorize the shop to sync its orders again."),
    TOKEN_UNREADABLE: _l("The stored token cannot be read. Re-authorize the shop to sync its orders again."),
    amazon.THROTTLED: _l("Amazon limited the number of requests; the sync waits at least 3 minutes."),
    amazon.UNAVAILABLE: _l("Amazon could not be reached or did not answer in time."),
    amazon.BAD_RESPONSE: _l("Amazon answered with something unexpected."),
    amazon.BAD_REQUEST: _l("Amazon rejected the request as invalid: a fault of the portal, recorded in its "
                           "log for the administrator."),
    amazon.INVALID_CLIENT: _l("Amazon rejected the portal's own application credentials."),
    amazon.SECRET_EXPIRED: _l("The portal's LWA client secret has expired."),
    amazon.NOT_CONFIGURED: _l("The portal is not connected to Amazon yet."),
    amazon.REFUSED: _l("Amazon refused the request."),
}

_state = OrdersSyncState.__table__
_orders = Order.__table__
_client_lock = threading.Lock()


@dataclass
class SyncResult:
    """What one :func:`sync_authorization` call did.

    ``status``: SYNC_OK (run complete), PARTIAL, SYNC_WAITING (rate limit: ``retry_after`` seconds),
    SYNC_ERROR, SYNC_STOPPED (needs re-authorization), BUSY, MISSING or LOST_LEASE."""

    authorization_id: int
    status: str
    complete: bool = False
    pages: int = 0
    requests: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # already stored with the same or a newer lastUpdatedTime
    skipped: int = 0  # of a marketplace no shop of this authorization covers
    error_code: str | None = None
    error_detail: str | None = None
    retry_after: int | None = None
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (SYNC_OK, PARTIAL)


# -- shared pieces -------------------------------------------------------------------------------

def get_orders_client() -> api.OrdersClient:
    """The app's shared searchOrders client, built from the AMAZON_* settings."""
    extensions = current_app.extensions
    client = extensions.get("portal_orders_client")
    if client is None:
        with _client_lock:
            client = extensions.get("portal_orders_client")
            if client is None:
                client = api.OrdersClient(amazon.AmazonSettings.from_config(current_app.config))
                extensions["portal_orders_client"] = client
    return client


def default_owner() -> str:
    """A lease owner name unique to this process and thread."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{threading.get_ident() % 100000}:{uuid.uuid4().hex[:6]}"


def _insert(statement_table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(statement_table)


def ensure_state(authorization_id: int, company_id: int) -> None:
    """Create the authorization's state row (full bucket) if it does not exist. Caller commits."""
    statement = _insert(_state).values(
        authorization_id=authorization_id, company_id=company_id, status=SYNC_NEVER,
        bucket_level=float(current_app.config["ORDERS_BURST"]), bucket_at=time.time(), run_chunk=0,
        run_pages=0, run_orders=0, last_orders=0, orders_total=0)
    db.session.execute(statement.on_conflict_do_nothing(index_elements=[_state.c.authorization_id]))


def take_token(authorization_id: int, at: float | None = None) -> float:
    """Take one searchOrders request from the authorization's bucket: 0.0 when taken, else the seconds
    until a token is there. One atomic UPDATE (refill, check, spend), committed at once.

    A token is only spent when the bucket also holds ORDERS_BUCKET_MARGIN_SECONDS' worth of refill beyond
    it: Amazon counts a request when it arrives, and requests sent at the exact refill pace arrive unevenly
    (a token exchange before the first one, network jitter), which Amazon's own bucket would answer with a
    429 and a wait of at least 180 s."""
    cfg = current_app.config
    rate, burst = float(cfg["ORDERS_RATE_PER_SECOND"]), float(cfg["ORDERS_BURST"])
    needed = min(burst, 1.0 + rate * float(cfg["ORDERS_BUCKET_MARGIN_SECONDS"]))  # a full bucket always serves
    at = time.time() if at is None else at
    now = literal(at, Float)
    c = _state.c
    elapsed = case((now > c.bucket_at, now - c.bucket_at), else_=literal(0.0, Float))
    refilled = c.bucket_level + elapsed * literal(rate, Float)
    level = case((refilled > literal(burst, Float), literal(burst, Float)), else_=refilled)
    result = db.session.execute(
        update(_state).where(c.authorization_id == authorization_id, level >= literal(needed, Float))
        .values(bucket_level=level - 1, bucket_at=case((now > c.bucket_at, now), else_=c.bucket_at)))
    if result.rowcount == 1:
        db.session.commit()
        return 0.0
    row = db.session.execute(select(c.bucket_level, c.bucket_at).where(c.authorization_id == authorization_id)).first()
    db.session.commit()
    if row is None:
        raise LookupError(f"no orders sync state for authorization {authorization_id}")
    current = min(burst, row.bucket_level + max(0.0, at - row.bucket_at) * rate)
    return max(0.001, (needed - current) / rate) if rate > 0 else float("inf")


def drain_bucket(authorization_id: int, at: float | None = None) -> None:
    """Amazon answered 429: our count was too generous, start again from an empty bucket. Caller commits."""
    db.session.execute(update(_state).where(_state.c.authorization_id == authorization_id)
                       .values(bucket_level=0.0, bucket_at=time.time() if at is None else at))


def acquire_lease(authorization_id: int, owner: str, now: datetime) -> bool:
    """Take (or renew) the authorization's sync lease: one atomic UPDATE that only succeeds when the lease
    is free, expired or already ours. Commits."""
    c = _state.c
    until = now + timedelta(seconds=current_app.config["ORDERS_LEASE_SECONDS"])
    result = db.session.execute(
        update(_state).where(c.authorization_id == authorization_id,
                             or_(c.lease_until.is_(None), c.lease_until <= now, c.lease_owner == owner))
        .values(lease_owner=owner, lease_until=until))
    db.session.commit()
    return result.rowcount == 1


def release_lease(authorization_id: int, owner: str) -> None:
    """Give the lease back (only if it is still ours). Commits."""
    c = _state.c
    db.session.execute(update(_state).where(c.authorization_id == authorization_id, c.lease_owner == owner)
                       .values(lease_owner=None, lease_until=None))
    db.session.commit()


def due_authorizations(now: datetime | None = None) -> list[int]:
    """Ids of the authorizations a periodic task should sync now: not stopped (or re-authorized since),
    not waiting for Amazon, not leased, with a run in progress or none complete for ORDERS_SYNC_MINUTES,
    and with at least one shop marketplace."""
    now = now or utcnow()
    cutoff = now - timedelta(minutes=current_app.config["ORDERS_SYNC_MINUTES"])
    a, s = SellerAuthorization.__table__, _state
    has_marketplace = select(ShopMarketplace.id).where(ShopMarketplace.authorization_id == a.c.id).exists()
    query = (select(a.c.id).select_from(a.outerjoin(s, s.c.authorization_id == a.c.id))
             .where(has_marketplace,
                    or_(s.c.status.is_(None), s.c.status != SYNC_STOPPED,
                        s.c.stopped_token_at.is_(None), s.c.stopped_token_at != a.c.token_updated_at),
                    or_(s.c.retry_at.is_(None), s.c.retry_at <= now),
                    or_(s.c.lease_until.is_(None), s.c.lease_until <= now),
                    or_(s.c.last_success_at.is_(None), s.c.last_success_at <= cutoff, s.c.run_family.is_not(None)))
             .order_by(a.c.id))
    return list(db.session.scalars(query))


def authorization_of_shop(shop_id: int) -> int | None:
    """The seller authorization a shop's orders are synced under (None: no such shop)."""
    return db.session.scalar(select(Shop.authorization_id).where(Shop.id == shop_id))


def authorizations_of_company(company_id: int) -> list[int]:
    """The company's seller authorizations that have at least one shop marketplace, by id."""
    has_marketplace = select(ShopMarketplace.id).where(ShopMarketplace.authorization_id == SellerAuthorization.id)
    return list(db.session.scalars(select(SellerAuthorization.id).where(
        SellerAuthorization.company_id == company_id, has_marketplace.exists()).order_by(SellerAuthorization.id)))


def sync_states(authorization_ids: list[int]) -> dict[int, OrdersSyncState]:
    """The sync state rows of these authorizations (missing ones: never synced)."""
    if not authorization_ids:
        return {}
    rows = db.session.scalars(select(OrdersSyncState).where(OrdersSyncState.authorization_id.in_(authorization_ids)))
    return {row.authorization_id: row for row in rows}


def describe_state(state: OrdersSyncState | None) -> tuple[str, str | None]:
    """``(status text, reason text or None)`` of a sync state, translated for the current locale."""
    if state is None:
        return str(STATUS_TEXTS[SYNC_NEVER]), None
    if state.status == SYNC_RUNNING and (state.lease_until is None or state.lease_until <= utcnow()):
        return str(RESUMING_TEXT), None
    status = str(STATUS_TEXTS.get(state.status, STATUS_TEXTS[SYNC_ERROR]))
    reason = REASON_TEXTS.get(state.error_code or "") if state.status in (SYNC_ERROR, SYNC_STOPPED, SYNC_WAITING) else None
    return status, str(reason) if reason is not None else None


# -- one sync ------------------------------------------------------------------------------------

def sync_authorization(authorization_id: int, now: datetime | None = None, *, owner: str | None = None,
                       max_pages: int | None = None) -> SyncResult:
    """Sync the orders of one seller authorization (see the module docstring); never raises for an
    Amazon-side problem. ``now`` is the run's clock (windows, lease, bucket; default the current time).
    ``max_pages`` bounds this call (status PARTIAL: call again to resume);
    ``owner`` names the lease holder (default: this process and thread)."""
    with write_intent():
        return _Run(authorization_id, now or utcnow(), (owner or default_owner())[:64], max_pages).run()


class _Run:
    def __init__(self, authorization_id: int, now: datetime, owner: str, max_pages: int | None) -> None:
        self.id = authorization_id
        self.start, self._t0 = now, time.monotonic()
        self.owner = owner
        self.max_pages = max_pages
        self.cfg = current_app.config
        self.result = SyncResult(authorization_id, SYNC_RUNNING)
        self.restarted = False

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._t0)

    def run(self) -> SyncResult:
        auth = db.session.get(SellerAuthorization, self.id)
        if auth is None:
            db.session.commit()
            return self._finish(MISSING)
        self.company_id, self.seller_id, self.region = auth.company_id, auth.seller_id, auth.region
        self.token_updated_at = auth.token_updated_at
        expired = lifecycle(auth, self.start).state == EXPIRED
        ciphertext = auth.token_ciphertext
        ensure_state(self.id, self.company_id)
        db.session.commit()
        if not acquire_lease(self.id, self.owner, self.start):
            return self._finish(BUSY)
        try:
            return self._work(expired, ciphertext)
        except Exception:
            db.session.rollback()
            self._save(status=SYNC_ERROR, error_code="internal", error_detail="unexpected error (see log)",
                       error_at=self.now())
            raise
        finally:
            release_lease(self.id, self.owner)

    def _state(self) -> OrdersSyncState:
        state = db.session.get(OrdersSyncState, self.id, populate_existing=True)
        assert state is not None
        return state

    def _save(self, **values) -> bool:
        """Update the state row while the lease is ours; commits. False when the lease was lost."""
        c = _state.c
        result = db.session.execute(update(_state).where(c.authorization_id == self.id, c.lease_owner == self.owner)
                                    .values(**values))
        db.session.commit()
        return result.rowcount == 1

    def _finish(self, status: str, **fields) -> SyncResult:
        self.result.status = status
        for name, value in fields.items():
            setattr(self.result, name, value)
        log.info("orders sync %s: %s (%d pages, %d created, %d updated, %s)", self.id, status, self.result.pages,
                 self.result.created, self.result.updated, self.result.error_code or "no error")
        return self.result

    def _stop(self, code: str, detail: str, request_id: str | None = None) -> SyncResult:
        """The authorization itself failed: no more syncs until it is re-authorized."""
        self._save(status=SYNC_STOPPED, error_code=code, error_detail=detail[:300], error_at=self.now(),
                   stopped_token_at=self.token_updated_at, request_id=request_id, **_NO_RUN)
        return self._finish(SYNC_STOPPED, error_code=code, error_detail=detail, request_id=request_id)

    def _work(self, expired: bool, ciphertext: str) -> SyncResult:
        state = self._state()
        db.session.commit()
        if state.status == SYNC_STOPPED and state.stopped_token_at == self.token_updated_at:
            return self._finish(SYNC_STOPPED, error_code=state.error_code, error_detail=state.error_detail)
        if expired:
            return self._stop(AUTHORIZATION_EXPIRED, "the authorization is older than its validity")
        if state.retry_at is not None and state.retry_at > self.start:
            wait = max(1, int((state.retry_at - self.start).total_seconds() + 0.999))
            return self._finish(SYNC_WAITING, retry_after=wait, error_code=state.error_code)
        try:
            self.refresh_token = decrypt_token(ciphertext, company_id=self.company_id, seller_id=self.seller_id,
                                               region=self.region)
        except TokenUnavailable:
            return self._stop(TOKEN_UNREADABLE, "the stored token cannot be decrypted")
        rows = db.session.execute(select(ShopMarketplace.marketplace_id, ShopMarketplace.shop_id)
                                  .where(ShopMarketplace.authorization_id == self.id)).all()
        db.session.commit()
        self.shop_of = {mid: shop_id for mid, shop_id in rows}
        if not self.shop_of:
            self._save(status=SYNC_OK, error_code=None, error_detail=None, **_NO_RUN)
            return self._finish(SYNC_OK, complete=True)
        if state.run_family is None:
            self._new_run(state)
        else:
            self._save(status=SYNC_RUNNING)
        return self._pages()

    def _new_run(self, state: OrdersSyncState) -> None:
        cfg, now = self.cfg, self.now()
        before = now - max(api.MIN_BEFORE_LAG, timedelta(seconds=cfg["ORDERS_BEFORE_LAG_SECONDS"]))
        if state.cursor_at is None:
            family, after = api.CREATED, now - timedelta(days=cfg["ORDERS_BACKFILL_DAYS"])
        else:
            family, after = api.UPDATED, state.cursor_at - timedelta(minutes=cfg["ORDERS_OVERLAP_MINUTES"])
        self._save(status=SYNC_RUNNING, run_family=family, run_after=min(after, before), run_before=before,
                   run_marketplaces=",".join(sorted(self.shop_of)), run_chunk=0, run_token=None,
                   run_started_at=now, run_pages=0, run_orders=0, last_started_at=now)

    def _pages(self) -> SyncResult:
        calls = 0
        while True:
            state = self._state()
            db.session.commit()
            chunks = api.marketplace_chunks(state.run_marketplaces.split(","))
            window = api.SearchWindow(state.run_family, state.run_after, state.run_before, chunks[state.run_chunk],
                                      page_size=int(self.cfg["ORDERS_PAGE_SIZE"]))
            if self.max_pages is not None and calls >= self.max_pages:
                self._save(status=SYNC_RUNNING)
                return self._finish(PARTIAL)
            page, wait = self._call(window, state.run_token)
            calls += 1
            if page is None and wait == 0.0:
                return self._finish(LOST_LEASE)
            if page is None:  # the bucket is empty: come back when it has a token
                retry_at = self.now() + timedelta(seconds=wait)
                self._save(status=SYNC_WAITING, retry_at=retry_at, error_code=None, error_detail=None)
                return self._finish(SYNC_WAITING, retry_after=max(1, int(wait + 0.999)))
            if page.ok:
                outcome = self._commit_page(page, window, state, last_chunk=state.run_chunk == len(chunks) - 1)
                if outcome is not None:
                    return outcome
                continue
            outcome = self._failed(page, state)
            if outcome is not None:
                return outcome

    def _call(self, window: api.SearchWindow, token: str | None) -> tuple[api.OrdersPage | None, float]:
        """One page, with back-off retries on 5xx/timeouts; each HTTP request first takes a bucket token.
        ``(None, seconds)`` when the bucket is empty for longer than this run may wait."""
        max_wait = float(self.cfg["ORDERS_BUCKET_MAX_WAIT_SECONDS"])
        tries, waited = 0, 0.0
        client = get_orders_client()
        while True:
            wait = take_token(self.id, self.now().timestamp())
            if wait > 0:
                if waited + wait > max_wait:
                    return None, wait
                time.sleep(wait)
                waited += wait
                if not acquire_lease(self.id, self.owner, self.now()):  # keep the lease while waiting
                    return None, 0.0
                continue
            page = client.search_orders(auth_key=f"authorization:{self.id}", refresh_token=self.refresh_token,
                                        region=self.region, window=window, pagination_token=token)
            tries += 1
            self.result.requests += 1
            if page.transient and tries < int(self.cfg["ORDERS_MAX_TRIES"]):
                base = float(self.cfg["ORDERS_RETRY_BACKOFF_SECONDS"]) * 2 ** (tries - 1)
                time.sleep(random.uniform(base / 2, base))
                continue
            return page, 0.0

    def _failed(self, page: api.OrdersPage, state: OrdersSyncState) -> SyncResult | None:
        now, code = self.now(), page.code
        common = {"error_code": code, "error_detail": page.detail[:300], "request_id": page.request_id}
        if code == api.TOKEN_REJECTED and not self.restarted:
            # Tokens live 24 h: start this run again from the stored cursor (upserts make that harmless).
            log.warning("orders sync %s: pagination token rejected, restarting from the cursor", self.id)
            self.restarted = True
            self._new_run(state)
            return None
        if code == api.TOKEN_REJECTED:
            code = common["error_code"] = amazon.BAD_REQUEST
        if code == amazon.BAD_REQUEST:
            log.error("orders sync %s: Amazon rejected our searchOrders request as invalid: %s "
                      "(x-amzn-RequestId %s)", self.id, page.detail, page.request_id or "-")
            self._save(status=SYNC_ERROR, error_at=now, **common, **_NO_RUN)
            return self._finish(SYNC_ERROR, **common)
        if code in api.STOPPING_CODES:
            return self._stop(code, page.detail, page.request_id)
        if code == amazon.THROTTLED:
            wait = max(int(self.cfg["ORDERS_THROTTLE_WAIT_SECONDS"]), api.THROTTLE_WAIT_SECONDS,
                       page.retry_after or 0)
            drain_bucket(self.id, now.timestamp())
            self._save(status=SYNC_WAITING, error_at=now, retry_at=now + timedelta(seconds=wait), **common)
            return self._finish(SYNC_WAITING, retry_after=wait, **common)
        retry = {}
        if page.transient:
            retry["retry_at"] = now + timedelta(minutes=self.cfg["ORDERS_ERROR_RETRY_MINUTES"])
        self._save(status=SYNC_ERROR, error_at=now, **common, **retry)  # the run and its token are kept
        return self._finish(SYNC_ERROR, **common)

    def _commit_page(self, page: api.OrdersPage, window: api.SearchWindow, state: OrdersSyncState,
                     last_chunk: bool) -> SyncResult | None:
        """Write the page's orders and the run's progress in one transaction (only while the lease is ours)."""
        now = self.now()
        created, updated, unchanged, skipped = self._upsert(page.orders, now)
        done = page.next_token is None and last_chunk
        values = {"run_pages": state.run_pages + 1, "run_orders": state.run_orders + created + updated,
                  "orders_total": state.orders_total + created, "request_id": page.request_id,
                  "lease_until": now + timedelta(seconds=self.cfg["ORDERS_LEASE_SECONDS"])}
        if done:
            cursor = min(page.before or window.before, window.before)
            values.update(status=SYNC_OK, cursor_at=cursor, last_success_at=now,
                          last_orders=state.run_orders + created + updated, error_code=None, error_detail=None,
                          retry_at=None, stopped_token_at=None, **_NO_RUN)
        elif page.next_token is None:
            values.update(run_chunk=state.run_chunk + 1, run_token=None)
        else:
            values.update(run_token=page.next_token)
        c = _state.c
        result = db.session.execute(update(_state).where(c.authorization_id == self.id, c.lease_owner == self.owner)
                                    .values(**values))
        if result.rowcount != 1:
            db.session.rollback()
            log.warning("orders sync %s: lease lost, page not kept", self.id)
            return self._finish(LOST_LEASE)
        db.session.commit()
        r = self.result
        r.pages += 1
        r.created += created
        r.updated += updated
        r.unchanged += unchanged
        r.skipped += skipped
        r.request_id = page.request_id
        if done:
            return self._finish(SYNC_OK, complete=True)
        return None

    def _upsert(self, orders: list[api.AmazonOrder], now: datetime) -> tuple[int, int, int, int]:
        """Insert new orders, overwrite stored ones only with a newer lastUpdatedTime. Caller commits."""
        latest: dict[str, api.AmazonOrder] = {}
        skipped = 0
        for order in orders:
            if order.marketplace_id not in self.shop_of:
                skipped += 1
                continue
            known = latest.get(order.amazon_order_id)
            if known is None or order.last_updated_at > known.last_updated_at:
                latest[order.amazon_order_id] = order
        if not latest:
            return 0, 0, 0, skipped
        o = _orders.c
        stored = dict(db.session.execute(
            select(o.amazon_order_id, o.last_updated_at)
            .where(o.company_id == self.company_id, o.source == ORDER_SOURCE_AMAZON,
                   o.amazon_order_id.in_(list(latest)))).all())
        created = sum(1 for oid in latest if oid not in stored)
        updated = sum(1 for oid, order in latest.items() if oid in stored
                      and (stored[oid] is None or stored[oid] < order.last_updated_at))
        unchanged = len(latest) - created - updated
        statement = _insert(_orders).values([self._row(order, now) for order in latest.values()])
        excluded = statement.excluded
        columns = ("shop_id", "order_number", "order_date", "status", "currency", "total", "marketplace_id",
                   "amazon_status", "fulfillment_channel", "item_count", "ordered_at", "last_updated_at", "synced_at")
        statement = statement.on_conflict_do_update(
            index_elements=[o.company_id, o.source, o.amazon_order_id],
            set_={name: getattr(excluded, name) for name in columns},
            where=or_(o.last_updated_at.is_(None), o.last_updated_at < excluded.last_updated_at))
        db.session.execute(statement)
        return created, updated, unchanged, skipped

    def _row(self, order: api.AmazonOrder, now: datetime) -> dict:
        marketplace = marketplace_by_id(order.marketplace_id)
        total = order.total if order.total is not None else Decimal("0")
        if total < 0 or total >= Decimal("1e12"):
            log.warning("orders sync %s: order total out of range, stored as 0", self.id)
            total = Decimal("0")
        return {
            "company_id": self.company_id, "source": ORDER_SOURCE_AMAZON, "shop_id": self.shop_of[order.marketplace_id],
            "other_store_id": None, "order_number": order.amazon_order_id, "order_date": order.created_at.date(),
            "status": STATUS_MAP.get(order.status or "", "pending"),
            "currency": order.currency or (marketplace.currency if marketplace else "XXX"),
            "total": total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), "created_at": now,
            "amazon_order_id": order.amazon_order_id, "marketplace_id": order.marketplace_id,
            "amazon_status": order.status, "fulfillment_channel": order.fulfillment_channel,
            "item_count": order.item_count, "ordered_at": order.created_at, "last_updated_at": order.last_updated_at,
            "synced_at": now,
        }


# Clears the run in progress (its window and pagination token).
_NO_RUN = {"run_family": None, "run_after": None, "run_before": None, "run_marketplaces": None, "run_chunk": 0,
           "run_token": None, "run_started_at": None, "run_pages": 0, "run_orders": 0}
