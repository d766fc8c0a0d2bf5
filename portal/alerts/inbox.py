"""The portal's alert inbox, read side: which alerts a user still has to look at. Shared by the header
count (every full page) and the Alerts page (portal/inbox); every query starts in portal/access.py.

An alert is *open* while its event is not closed (closed_at is null: the condition still holds); it is
*unseen* by a user until that user marks it seen (an alert_seen row). The header counts the open alerts
the user has not seen.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func
from sqlalchemy.orm import joinedload

from ..access import visible_alert_events
from ..extensions import db
from ..models import AlertEvent, AlertSeen

NEWEST_FIRST = (AlertEvent.created_at.desc(), AlertEvent.id.desc())
NEWEST_CLOSED_FIRST = (AlertEvent.closed_at.desc(), AlertEvent.id.desc())


def seen_by(user):
    """SQL: the user has marked the event seen (a primary-key lookup in alert_seen per event)."""
    return exists().where(AlertSeen.event_id == AlertEvent.id, AlertSeen.user_id == user.id)


def unseen_open_events(user):
    """Select of the open alert events of the user's shops that the user has not marked seen."""
    return visible_alert_events(user).where(AlertEvent.closed_at.is_(None), ~seen_by(user))


def open_alert_count(user) -> int:
    """How many open alerts the user has not seen yet: one COUNT statement.

    Admins: an index-only range of ix_alert_event_company_open (company_id, closed_at IS NULL, id) plus
    one primary-key probe of alert_seen per open event; members: the events of their assigned shops
    through ix_alert_event_shop_id. Neither grows with the company's number of shops."""
    return count_events(unseen_open_events(user))


def open_events(user):
    """Select of the open alert events of the user's shops, seen or not."""
    return visible_alert_events(user).where(AlertEvent.closed_at.is_(None))


def closed_events(user, since: datetime):
    """Select of the alert events of the user's shops closed since `since`."""
    return visible_alert_events(user).where(AlertEvent.closed_at >= since)


def count_query(query):
    """The COUNT of a select above, without the shop join the list needs."""
    return query.with_only_columns(func.count(AlertEvent.id)).order_by(None)


def count_events(query) -> int:
    """The number of events of a select above: one COUNT statement."""
    return db.session.scalar(count_query(query)) or 0


def listing(query, user, *, closed: bool = False):
    """(AlertEvent, seen) rows of `query`, newest first (latest closed first with `closed`); the event's
    shop and its seller authorization come in the same statement, so a page costs one query."""
    return (query.add_columns(seen_by(user).label("seen"))
            .options(joinedload(AlertEvent.shop))
            .order_by(*(NEWEST_CLOSED_FIRST if closed else NEWEST_FIRST)))


def open_alerts(user, *, include_seen: bool = False):
    """Select of (AlertEvent, seen) rows of the user's open alerts, newest first: the unseen ones, or
    with `include_seen` all of them. The shop is joined (no query per row)."""
    return listing(open_events(user) if include_seen else unseen_open_events(user), user)
