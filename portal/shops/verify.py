"""Verifying shops against Amazon, with a per-authorization throttle.

One getMarketplaceParticipations call answers for every shop of a seller authorization, so a
check runs per authorization and its answer is recorded on each of its shops. The throttle is a
claim on the authorization row (an atomic UPDATE), so any number of concurrent clicks, in any
number of processes, make at most one Amazon call per window. No database transaction is open
while Amazon is being asked.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from .. import audit
from ..amazon import client as amazon
from ..amazon.outcomes import describe
from ..crypto import TokenUnavailable, decrypt_token
from ..extensions import db
from ..models import CHECK_FAILED, CHECK_VERIFIED, SellerAuthorization, Shop, utcnow

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
    shop_ids: list[int] = field(default_factory=list)


def get_client() -> amazon.SpApiClient:
    """The app's shared SP-API client (thread-safe), built from the AMAZON_* settings."""
    extensions = current_app.extensions
    if "portal_amazon_client" not in extensions:
        settings = amazon.AmazonSettings.from_config(current_app.config)
        extensions["portal_amazon_client"] = amazon.SpApiClient(settings, token_cache=amazon.AccessTokenCache())
    return extensions["portal_amazon_client"]


def throttle_seconds() -> int:
    return int(current_app.config["VERIFY_THROTTLE_SECONDS"])


def claim(authorization_id: int, now: datetime, *, force: bool = False) -> bool:
    """Take the right to call Amazon for this authorization now; False while the window is taken."""
    statement = update(SellerAuthorization).where(SellerAuthorization.id == authorization_id)
    if not force:
        cutoff = now - timedelta(seconds=throttle_seconds())
        statement = statement.where(or_(SellerAuthorization.check_claimed_at.is_(None),
                                        SellerAuthorization.check_claimed_at <= cutoff))
    result = db.session.execute(statement.values(check_claimed_at=now))
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
    authorization = db.session.get(SellerAuthorization, authorization_id)
    if authorization is None:
        return CheckReport(performed=False)
    missing = get_client().settings.missing_settings()
    if missing:  # nothing to ask Amazon with: say so on each shop, and keep the throttle window free
        outcome = amazon.VerifyOutcome(amazon.NOT_CONFIGURED, missing_settings=missing)
        shops = list(db.session.scalars(select(Shop).where(Shop.authorization_id == authorization_id)))
        for shop in shops:
            record(shop, outcome, now)
        commit_keeping_objects()
        return CheckReport(performed=False, outcome=outcome, shop_ids=[shop.id for shop in shops])
    if not claim(authorization_id, now, force=force):
        claimed_at = db.session.scalar(select(SellerAuthorization.check_claimed_at)
                                       .where(SellerAuthorization.id == authorization_id))
        since = int((now - claimed_at).total_seconds()) if claimed_at else 0
        return CheckReport(performed=False, seconds_since=max(since, 0),
                           wait_seconds=max(throttle_seconds() - since, 1))

    # Everything Amazon needs is read now; the HTTP call below runs with no transaction open.
    shops = list(db.session.scalars(select(Shop).where(Shop.authorization_id == authorization_id)
                                    .order_by(Shop.id)))
    marketplaces = list(dict.fromkeys(m for shop in shops for m in shop.marketplace_ids))
    region = authorization.region
    try:
        token = decrypt_token(authorization.token_ciphertext, company_id=authorization.company_id,
                              seller_id=authorization.seller_id, region=region)
    except TokenUnavailable:
        token = None
    shop_marketplaces = {shop.id: shop.marketplace_ids for shop in shops}
    commit_keeping_objects()

    if token is None:
        outcome = amazon.VerifyOutcome(amazon.BAD_REQUEST, detail="stored token unreadable")
        results = {shop_id: (TOKEN_UNREADABLE, outcome) for shop_id in shop_marketplaces}
    elif not marketplaces:
        return CheckReport(performed=False)
    else:
        outcome = get_client().check_authorization(auth_key=str(authorization_id), refresh_token=token,
                                                   region=region, marketplace_ids=marketplaces)
        results = {shop_id: (None, amazon.outcome_for_marketplaces(outcome, mids))
                   for shop_id, mids in shop_marketplaces.items()}

    finished = utcnow()
    for shop in db.session.scalars(select(Shop).where(Shop.id.in_(list(results)))):
        code, shop_outcome = results[shop.id]
        record(shop, shop_outcome, finished, code=code)
        code = code or shop_outcome.code
        audit.record("shop.verified", target=shop, outcome="success" if code == amazon.VERIFIED else "failure",
                     detail=code)
    commit_keeping_objects()
    return CheckReport(performed=True, outcome=outcome, shop_ids=list(results))


def record(shop: Shop, outcome: amazon.VerifyOutcome, when: datetime, *, code: str | None = None) -> None:
    """Store one check's answer on a shop; a non-conclusive answer only becomes the latest attempt."""
    code = code or outcome.code
    data = json.dumps({"missing": outcome.missing_marketplaces, "suspended": outcome.suspended_marketplaces,
                       "retry_after": outcome.retry_after, "settings": outcome.missing_settings})
    shop.attempt_code, shop.attempt_data, shop.attempt_at = code, data, when
    if code not in CONCLUSIVE:
        return
    shop.check_code, shop.check_data, shop.checked_at = code, data, when
    if code == amazon.VERIFIED:
        shop.check_status = CHECK_VERIFIED
        shop.last_good_at = when
        shop.store_name = (outcome.store_name or "")[:200] or shop.store_name
    else:
        shop.check_status = CHECK_FAILED


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
                                   retry_after=params.get("retry_after"), missing_settings=params.get("settings") or [])
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
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from ..database import write_intent
    from .lifecycle import EXPIRED, lifecycle

    def one(authorization_id: int) -> list[ShopResult]:
        with app.app_context(), write_intent():
            report = check_authorization(authorization_id)
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
