"""Writes of the Alerts page: marking alerts seen for one user. They flush; the view commits."""
from __future__ import annotations

from sqlalchemy import literal
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..alerts.inbox import unseen_open_events
from ..extensions import db
from ..models import AlertEvent, AlertSeen, UTCDateTime, utcnow


def _insert():
    dialect = db.session.get_bind().dialect.name
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(AlertSeen)


def mark_seen(user, event: AlertEvent) -> None:
    """`user` has seen `event` (loaded through access.get_visible_alert_or_404). Idempotent, also when
    two clicks arrive at once: the second insert does nothing."""
    statement = _insert().values(event_id=event.id, user_id=user.id, seen_at=utcnow())
    db.session.execute(statement.on_conflict_do_nothing(index_elements=["event_id", "user_id"]))


def mark_all_seen(user) -> int:
    """`user` has seen every open alert of their shops: one INSERT … SELECT. Returns how many were new."""
    rows = unseen_open_events(user).with_only_columns(
        AlertEvent.id, literal(user.id), literal(utcnow(), UTCDateTime)).order_by(None)
    statement = _insert().from_select(["event_id", "user_id", "seen_at"], rows)
    statement = statement.on_conflict_do_nothing(index_elements=["event_id", "user_id"])
    # Counted with RETURNING: the rowcount of this ORM INSERT … SELECT came back 0 on PostgreSQL.
    return len(db.session.execute(statement.returning(AlertSeen.event_id)).all())
