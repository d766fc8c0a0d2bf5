"""Reads of the Jobs page: the company's job runs (and the portal's own periodic ones), newest first;
the company's alert messages that could not be sent."""
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from ..access import company_alert_messages, deny
from ..alerts import messages as alert_texts
from ..extensions import db
from ..models import DIGEST, MESSAGE_FAILED, AlertMessage, JobRun
from ..sync_view import job_status_label

JOB_NAMES = {
    "orders.sync": _l("Order sync"),
    "orders.cycle": _l("Scheduled order sync (all due shops)"),
    "shops.verify_all": _l("Daily verify of all shops"),
    "jobs.heartbeat": _l("Job consumer heartbeat"),
    "alerts.scan": _l("Alert check (all shops)"),
    "alerts.send": _l("Alert message"),
    "alerts.digest": _l("Daily alert digest"),
}
ALERT_KINDS = {
    alert_texts.AUTH_EXPIRING: _l("Authorization expiring soon"),
    alert_texts.AUTH_EXPIRED: _l("Authorization expired"),
    alert_texts.CHECK_FAILED: _l("Check failed"),
    alert_texts.CHECK_RECOVERED: _l("Check passes again"),
    alert_texts.SYNC_STOPPED: _l("Order sync stopped"),
    alert_texts.SYNC_FAILING: _l("Order sync keeps failing"),
    alert_texts.TEST: _l("Test message"),
    DIGEST: _l("Daily digest"),
}
FAILED_ALERTS_SHOWN = 50
STATUS_BADGES = {"ok": "badge-ok", "error": "badge-bad", "failed": "badge-bad", "stopped": "badge-bad",
                 "waiting": "badge-warn", "partial": "badge-warn", "retrying": "badge-warn"}
# Statuses of job runs that are not order syncs (the alert sends): queue.ALERT_RETRYING.
OTHER_STATUSES = {"retrying": _l("Failed, tried again later")}


def runs_query(company_id: int):
    """The runs an admin of `company_id` may see: the company's, and the portal's own (no company)."""
    return (select(JobRun).where(or_(JobRun.company_id == company_id, JobRun.company_id.is_(None)))
            .order_by(JobRun.id.desc()))


def job_name(name: str) -> str:
    return str(JOB_NAMES.get(name, name))


def job_status(status: str) -> str:
    label = OTHER_STATUSES.get(status)
    return str(label) if label is not None else job_status_label(status)


def failed_alert_messages(user):
    """Select of the company's alert messages that could not be sent, the latest try first."""
    return (company_alert_messages(user).where(AlertMessage.status == MESSAGE_FAILED)
            .order_by(AlertMessage.last_attempt_at.desc(), AlertMessage.id.desc()))


def failed_alert_message_or_404(user, message_id: int) -> AlertMessage:
    """A failed alert message of the admin's company, else 404."""
    found = db.session.scalar(failed_alert_messages(user).where(AlertMessage.id == message_id))
    if found is None:
        deny("alert_message", message_id)
    return found


@dataclass(frozen=True)
class AlertMessageRow:
    """One row of "Alerts that could not be sent"."""

    id: int
    dom_id: str
    channel: str
    kind: str
    attempts: int
    summary: str
    when: datetime | None
    failed: bool


def alert_message_row(message: AlertMessage) -> AlertMessageRow:
    return AlertMessageRow(id=message.id, dom_id=f"alert-message-{message.id}", channel=message.channel.name,
                           kind=str(ALERT_KINDS.get(message.kind, message.kind)), attempts=message.attempts or 0,
                           summary=message.last_summary or "", when=message.last_attempt_at or message.created_at,
                           failed=message.status == MESSAGE_FAILED)


def failed_alert_rows(user) -> list[AlertMessageRow]:
    query = failed_alert_messages(user).options(joinedload(AlertMessage.channel)).limit(FAILED_ALERTS_SHOWN)
    return [alert_message_row(message) for message in db.session.scalars(query)]


__all__ = ["ALERT_KINDS", "JOB_NAMES", "alert_message_row", "failed_alert_message_or_404",
           "failed_alert_messages", "failed_alert_rows", "job_name", "job_status", "runs_query"]
