"""Verifying shops against Amazon, with a per-authorization throttle.

One getMarketplaceParticipations call answers for every shop of a seller authorization, so a
check runs per authorization and its answer is recorded on each of its shops. The throttle is a
claim on the authorization row (an atomic UPDATE), so any number of concurrent clicks, in any
number of processes, make at most one Amazon call per window. No database transaction is open
while Amazon is being asked.

Per check the database sees: the claim and the read of the authorization's shops (with their
marketplaces) in one transaction; after Amazon answered, one look-up of the shops still there,
their updates and one multi-row insert of the audit events in a second one.
"""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from .. import audit
from ..amazon import client as amazon
from ..amazon.outcomes import describe
from ..crypto import TokenUnavailable, decrypt_token
from ..database import write_intent
from ..extensions import db
from ..models import CHECK_FAILED, CHECK_VERIFIED, SellerAuthorization, Shop, ShopMarketplace, utcnow
from .lifecycle import EXPIRED, lifecycle

_client_lock = threading.Lock()

# Statements built once: a verify run executes them for every authorization.
_authorizations, _shops = SellerAuthorization.__table__, Shop.__table__
_CLAIM_ANY = (update(_authorizations).where(_authorizations.c.id == bindparam("authorization_id"))
              .values(check_claimed_at=bindparam("now")))
_CLAIM_FREE = _CLAIM_ANY.where(or_(_authorizations.c.check_claimed_at.is_(None),
                                   _authorizations.c.check_claimed_at <= bindparam("cutoff")))
_CLAIMED_AT = select(_authorizations.c.check_claimed_at).where(_authorizations.c.id == bindparam("authorization_id"))
_SHOPS_OF = select(Shop).where(Shop.authorization_id == bindparam("authorization_id")).order_by(Shop.id)
_MARKETPLACES_OF = (select(ShopMarketplace.__table__.c.shop_id, ShopMarketplace.__table__.c.marketplace_id)
                    .where(ShopMarketplace.__table__.c.authorization_id == bindparam("authorization_id"))
                    .order_by(ShopMarketplace.__table__.c.shop_id, ShopMarketplace.__table__.c.position))
_PRESENT = select(_shops.c.id).where(_shops.c.id.in_(bindparam("shop_ids", expanding=True)))
_RESULT_UPDATES: dict[tuple[str, ...], object] = {}  # one UPDATE per set of result columns


def _result_update(columns: tuple[str, ...]):
    statement = _RESULT_UPDATES.get(columns)
    if statement is None:
        statement = _RESULT_UPDATES[columns] = (update(_shops).where(_shops.c.id == bindparam("shop_id"))
                                                .values({name: bindparam(name) for name in columns}))
    return statement

TOKEN_UNREADABLE = "token_unreadable"
# Outcomes that say something about the shop's authorization. Others (Amazon down or throttling,
# the portal's own app credentials or settings) never replace the shop's last conclusive status.
CONCLUSIVE = {amazon.VERIFIED, amazon.NOT_PARTICIPATING, amazon.INVALID_GRANT, amazon.FORBIDDEN,
              amazon.BAD_REQUEST, TOKEN_UNREADABLE}
TOKEN_UNREADABLE_TEXT = (
    _l("The stored token for this shop cannot be read (the encryption key changed or the data was damaged)."),
    _l("Re-authorize the shop and paste the token again."),
)


@dataclass
class CheckReport:
    """What one verify request did: called Amazon, or was held back by the throttle."""

    performed: bool
    outcome: amazon.VerifyOutcome | None = None
    seconds_since: int | None = None
    wait_seconds: int | None = None
    retry_at: datetime | None = None  # throttled: when the next check with Amazon is allowed
    shop_ids: list[int] = field(default_factory=list)
    shops: list[Shop] = field(default_factory=list)  # the shops the answer was recorded on


def get_client() -> amazon.SpApiClient:
    """The app's shared SP-API client (thread-safe), built from the AMAZON_* settings."""
    extensions = current_app.extensions
    client = extensions.get("portal_amazon_client")
    if client is None:
        with _client_lock:  # double-checked: concurrent first calls build one client, not one each
            client = extensions.get("portal_amazon_client")
            if client is None:
                settings = amazon.AmazonSettings.from_config(current_app.config)
                client = amazon.SpApiClient(settings, token_cache=amazon.AccessTokenCache())
                extensions["portal_amazon_client"] = client
    return client


def throttle_seconds() -> int:
    return int(current_app.config["VERIFY_THROTTLE_SECONDS"])


def claim(authorization_id: int, now: datetime, *, force: bool = False, commit: bool = True) -> bool:
    """Take the right to call Amazon for this authorization now; False while the window is taken
    (or the authorization does not exist). ``commit=False`` leaves committing to the caller."""
    params = {"authorization_id": authorization_id, "now": now}
    if not force:
        params["cutoff"] = now - timedelta(seconds=throttle_seconds())
    result = db.session.execute(_CLAIM_ANY if force else _CLAIM_FREE, params)
    if commit:
        commit_keeping_objects()
    return result.rowcount == 1


def commit_keeping_objects() -> None:
    """Commit without expiring loaded objects: they hold what was just written, and the page that
    answers a Verify click renders from them without loading them again."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def check_authorization(authorization_id: int, *, force: bool = False) -> CheckReport:
    """Verify every shop of one seller authorization (unless throttled) and record the results."""
    now = utcnow()
    client = get_client()
    missing = client.settings.missing_settings()
    if missing:  # nothing to ask Amazon with: say so on each shop, and keep the throttle window free
        outcome = amazon.VerifyOutcome(amazon.NOT_CONFIGURED, missing_settings=missing)
        shops = list(db.session.scalars(select(Shop).where(Shop.authorization_id == authorization_id)))
        for shop in shops:
            record(shop, outcome, now)
        commit_keeping_objects()
        return CheckReport(performed=False, outcome=outcome, shop_ids=[shop.id for shop in shops], shops=shops)
    if not claim(authorization_id, now, force=force, commit=False):
        claimed_at = db.session.execute(_CLAIMED_AT, {"authorization_id": authorization_id}).first()
        commit_keeping_objects()
        if claimed_at is None:  # no such authorization
            return CheckReport(performed=False)
        since = int((now - claimed_at[0]).total_seconds()) if claimed_at[0] else 0
        return CheckReport(performed=False, seconds_since=max(since, 0),
                           wait_seconds=max(throttle_seconds() - since, 1),
                           retry_at=(claimed_at[0] or now) + timedelta(seconds=throttle_seconds()))

    # Everything Amazon needs is read in the claim's transaction; the HTTP call below runs with no
    # transaction open. Each shop comes with its authorization (joined); the marketplace ids in one select.
    shops = list(db.session.scalars(_SHOPS_OF, {"authorization_id": authorization_id}))
    shop_marketplaces: dict[int, list[str]] = {shop.id: [] for shop in shops}
    for shop_id, marketplace_id in db.session.execute(_MARKETPLACES_OF, {"authorization_id": authorization_id}):
        if shop_id in shop_marketplaces:
            shop_marketplaces[shop_id].append(marketplace_id)
    marketplaces = list(dict.fromkeys(m for mids in shop_marketplaces.values() for m in mids))
    token = None
    if shops:
        authorization = shops[0].authorization
        try:
            token = decrypt_token(authorization.token_ciphertext, company_id=authorization.company_id,
                                  seller_id=authorization.seller_id, region=authorization.region)
        except TokenUnavailable:
            pass
    commit_keeping_objects()

    if shops and token is None:
        outcome = amazon.VerifyOutcome(amazon.BAD_REQUEST, detail="stored token unreadable")
        results = {shop_id: (TOKEN_UNREADABLE, outcome) for shop_id in shop_marketplaces}
    elif not marketplaces:
        return CheckReport(performed=False)
    else:
        outcome = client.check_authorization(auth_key=str(authorization_id), refresh_token=token,
                                             region=shops[0].authorization.region, marketplace_ids=marketplaces)
        results = {shop_id: (None, amazon.outcome_for_marketplaces(outcome, mids))
                   for shop_id, mids in shop_marketplaces.items()}

    finished = utcnow()
    # Shops deleted while Amazon was asked are left out; the others are the objects loaded above.
    present = set(db.session.scalars(_PRESENT, {"shop_ids": list(results)}))
    shops = [shop for shop in shops if shop.id in present]
    updates: dict[tuple[str, ...], list[dict]] = {}
    written, events = [], []
    for shop in shops:
        code, shop_outcome = results[shop.id]
        values = result_values(shop, shop_outcome, finished, code=code)
        written.append(values)
        updates.setdefault(tuple(values), []).append({"shop_id": shop.id, **values})
        code = code or shop_outcome.code
        events.append(audit.event_values("shop.verified", target=shop, detail=code,
                                         outcome="success" if code == amazon.VERIFIED else "failure"))
    # Multi-row statements instead of the ORM's unit of work: one UPDATE per set of columns, one INSERT.
    for columns, rows in updates.items():
        db.session.execute(_result_update(columns), rows)
    audit.record_many(events)
    commit_keeping_objects()
    for shop, values in zip(shops, written):  # the loaded objects show what was written, not flushed again
        for name, value in values.items():
            set_committed_value(shop, name, value)
    return CheckReport(performed=True, outcome=outcome, shop_ids=[shop.id for shop in shops], shops=shops)


def record(shop: Shop, outcome: amazon.VerifyOutcome, when: datetime, *, code: str | None = None) -> None:
    """Store one check's answer on a shop; a non-conclusive answer only becomes the latest attempt."""
    for name, value in result_values(shop, outcome, when, code=code).items():
        setattr(shop, name, value)


def result_values(shop: Shop, outcome: amazon.VerifyOutcome, when: datetime, *,
                  code: str | None = None) -> dict:
    """The shop columns one check's answer sets (see :func:`record`)."""
    code = code or outcome.code
    params = {"missing": outcome.missing_marketplaces, "suspended": outcome.suspended_marketplaces,
              "retry_after": outcome.retry_after, "settings": outcome.missing_settings}
    if outcome.amazon_code:
        params["amazon_code"] = outcome.amazon_code
    data = json.dumps(params)
    values = {"attempt_code": code, "attempt_data": data, "attempt_at": when,
              "attempt_request_id": outcome.request_id}
    if code not in CONCLUSIVE:
        return values
    values.update(check_code=code, check_data=data, checked_at=when)
    if code == amazon.VERIFIED:
        values.update(check_status=CHECK_VERIFIED, last_good_at=when,
                      store_name=(outcome.store_name or "")[:200] or shop.store_name)
    else:
        values["check_status"] = CHECK_FAILED
    return values


def explain(code: str | None, data: str | None) -> tuple[str, str] | None:
    """(message, next step) for a stored result, in the current language."""
    if not code:
        return None
    if code == TOKEN_UNREADABLE:
        return str(TOKEN_UNREADABLE_TEXT[0]), str(TOKEN_UNREADABLE_TEXT[1])
    try:
        params = json.loads(data or "{}")
    except ValueError:
        params = {}
    if code not in amazon.ALL_CODES:
        return None
    outcome = amazon.VerifyOutcome(code, missing_marketplaces=params.get("missing") or [],
                                   suspended_marketplaces=params.get("suspended") or [],
                                   retry_after=params.get("retry_after"), missing_settings=params.get("settings") or [],
                                   amazon_code=params.get("amazon_code"))
    return describe(outcome)


def status_view(shop: Shop) -> dict:
    """What the status cell says beyond the badges: the failure (or warning) and a newer failed attempt."""
    view = {"result": None, "warning": False, "attempt": None}
    if shop.check_code and shop.check_status == "failed":
        view["result"] = explain(shop.check_code, shop.check_data)
    elif shop.check_code == amazon.VERIFIED and json.loads(shop.check_data or "{}").get("suspended"):
        view["result"], view["warning"] = explain(shop.check_code, shop.check_data), True
    if shop.attempt_at and shop.attempt_code and (not shop.checked_at or shop.attempt_at > shop.checked_at):
        view["attempt"] = explain(shop.attempt_code, shop.attempt_data)
    return view


@dataclass
class ShopResult:
    shop_id: int
    shop_name: str
    seller_id: str
    region: str
    code: str | None  # None: skipped by the throttle
    expired: bool


def verify_many(app, authorization_ids: list[int], *, workers: int, progress=None) -> list[ShopResult]:
    """Check many authorizations with at most `workers` Amazon checks in flight.

    Each worker has its own app context and database session; the throttle still applies, so an
    authorization checked a moment ago is skipped, not called again."""
    def one(authorization_id: int) -> list[ShopResult]:
        with app.app_context(), write_intent():
            report = check_authorization(authorization_id)
            shops = report.shops
            if not shops:  # held back by the throttle: name the shops that were skipped
                shops = db.session.scalars(select(Shop).where(Shop.authorization_id == authorization_id)
                                           .order_by(Shop.id)).all()
            results = []
            for shop in shops:
                if report.outcome is not None and report.outcome.code == amazon.NOT_CONFIGURED:
                    code = amazon.NOT_CONFIGURED
                elif report.performed:
                    code = shop.attempt_code
                else:
                    code = None
                results.append(ShopResult(shop.id, shop.name, shop.seller_id, shop.region, code,
                                          lifecycle(shop.authorization).state == EXPIRED))
            db.session.remove()
            return results

    results: list[ShopResult] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(one, authorization_id) for authorization_id in authorization_ids]
        for done, future in enumerate(as_completed(futures), start=1):
            batch = future.result()
            results.extend(batch)
            if progress:
                progress(done, len(futures), batch)
    return results
