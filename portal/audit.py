"""The audit trail: one call per event, from views, error handlers and CLI commands.

Events never hold a secret: callers pass names and ids, and `detail` is a short code-like text.
"""
from __future__ import annotations

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import insert

from .extensions import db
from .models import AuditEvent

# Actions an admin can filter by on the Activity page; their areas, labels and sentences are in
# portal/activity_text.py (a test checks that every code has them).
ACTIONS = (
    "auth.login", "auth.logout", "auth.password_changed", "auth.password_change_failed", "auth.throttled",
    "access.denied", "access.forbidden", "security.csrf_failed", "security.cross_site",
    "user.created", "user.role_changed", "user.deactivated", "user.reactivated", "user.password_reset",
    "shop.created", "shop.updated", "shop.deleted", "shop.token_replaced", "shop.assignments_changed",
    "shop.verified", "store.created", "store.updated", "store.deleted", "store.assignments_changed",
    "order.created", "order.updated", "order.deleted", "keys.rotated",
    "amazon.authorize_started", "amazon.authorize_completed", "amazon.authorize_refused",
    "channel.created", "channel.updated", "channel.deleted", "channel.tested",
)

_INSERT = insert(AuditEvent.__table__)


def _clip(value, limit):
    if value is None:
        return None
    text = str(value).replace("\r", " ").replace("\n", " ")
    return text[:limit]


def event_values(action: str, *, outcome: str = "success", target=None, object_type: str | None = None,
                 object_id: int | None = None, label: str | None = None, detail: str | None = None, user=None,
                 company_id: int | None = None, user_label: str | None = None) -> dict:
    """The columns of one event: who (the signed-in user unless given), on what, from where."""
    if user is None and has_request_context() and current_user and current_user.is_authenticated:
        user = current_user
    if target is not None:
        object_type = object_type or type(target).__name__.lower()
        object_id = object_id if object_id is not None else getattr(target, "id", None)
        label = label if label is not None else getattr(target, "name", None) or getattr(target, "email", None)
        company_id = company_id or getattr(target, "company_id", None)
    return {
        "action": action, "outcome": outcome, "object_type": object_type, "object_id": object_id,
        "object_label": _clip(label, 200), "detail": _clip(detail, 500),
        "user_id": getattr(user, "id", None), "user_label": _clip(user_label or getattr(user, "email", None), 254),
        "company_id": company_id or getattr(user, "company_id", None),
        "ip": _clip(request.remote_addr, 64) if has_request_context() else "cli",
    }


def record(action: str, **fields) -> AuditEvent:
    """Add an event to the current session; it is saved with the caller's commit. See event_values."""
    event = AuditEvent(**event_values(action, **fields))
    db.session.add(event)
    return event


def record_many(rows: list[dict]) -> None:
    """Insert many events (from event_values) in one multi-row statement, within the caller's transaction."""
    if rows:
        db.session.execute(_INSERT, rows)
