"""What the shop-saving views share: validate, run one service, commit once, say what happened.

New shop, edit, re-authorize (pasted or through Amazon) and the Amazon finish dialog all go through
`save_shop`; every message after a commit uses values read before it (a commit expires the ORM
objects, and reloading them from a broken connection would turn a saved change into a 500).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, flash, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..forms import show_error
from ..htmx import hx_redirect
from ..models import MODE_MULTI, utcnow
from ..texts import ago, clock, join_list
from .services import ShopError
from .verify import check_authorization


def with_retry(work):
    """Run a write once more after a unique-constraint race, so the second run reports the clash
    as a clear duplicate message (the checks then see the row the other request committed)."""
    for _attempt in range(2):
        try:
            result = work()
            db.session.flush()
            return result
        except IntegrityError:
            db.session.rollback()
    raise ShopError(_("Someone else just saved the same shop. Reload the list and check it."))


def put_error(form, error: ShopError) -> None:
    """Show a service's refusal on the form field it names (the name field by default)."""
    default = "name" if getattr(form, "name", None) is not None else "token"
    single = getattr(form, "mode", None) is not None and form.mode.data != MODE_MULTI
    show_error(form, error, default, {"marketplaces": "marketplace"} if single else None)


def save_shop(form, work, done):
    """Validate `form`, run `work()` (one service call), then `done(result)` builds the answer (it
    commits). None when the form is to be shown again, with its errors."""
    if not form.validate_on_submit():
        return None
    try:
        result = with_retry(work)
    except ShopError as error:
        db.session.rollback()
        put_error(form, error)
        return None
    return done(result)


@dataclass(frozen=True)
class Saved:
    """The facts a message needs, read before the commit."""

    shop_id: int
    name: str
    authorization_id: int
    others: tuple[str, ...] = ()


def saved(shop, others=()) -> Saved:
    return Saved(shop.id, shop.name, shop.authorization_id, tuple(others))


def token_saved(facts: Saved):
    """After a new token was committed: check it with Amazon unless the per-authorization throttle
    says it was checked a moment ago (then the token is kept and the check is skipped), flash, and
    go to the shop."""
    flash(_("New authorization saved for “%(name)s”. It is valid for %(days)d days from the day it was authorized.",
            name=facts.name, days=current_app.config["AUTHORIZATION_VALIDITY_DAYS"]), "success")
    report = check_authorization(facts.authorization_id)
    if not report.performed and report.retry_at is not None:
        now = utcnow()
        flash(_("Amazon was asked about this authorization %(when)s, so it was not checked again now. "
                "You can check again at %(time)s.", when=ago(now - timedelta(seconds=report.seconds_since), now),
                time=clock(report.retry_at, now)), "info")
    if facts.others:
        flash(_("The same authorization is used by: %(shops)s.", shops=join_list(facts.others)), "info")
    return hx_redirect(url_for("shops.detail", shop_id=facts.shop_id))
