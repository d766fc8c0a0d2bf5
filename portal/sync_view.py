"""A shop's order sync as the pages show it (shop rows, the shop's page, the "Sync now" fragment).

Shared by the shops and jobs blueprints. The list reads every row's state with one query
(orders_sync.sync_states) and the latest job runs with one more (latest_runs)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import func, select

from .extensions import db
from .models import JOB_QUEUED, JOB_RUNNING, SYNC_NEVER, SYNC_OK, SYNC_STOPPED, SYNC_WAITING, JobRun, OrdersSyncState, \
    utcnow
from . import orders_sync  # the module, not its names: orders_sync imports the shops package, which imports this
from .queue import next_cycle_at
from .texts import ago, minute, translations

# The statuses of a job run (job_run.status): the sync results of orders_sync, and queued/running/failed.
JOB_STATUSES = {
    "queued": _l("Queued"), "running": _l("Running"), "ok": _l("Done"), "partial": _l("Continues in a new job"),
    "waiting": _l("Waiting for Amazon's rate limit"), "error": _l("Sync failed"), "failed": _l("Job failed"),
    "stopped": _l("Stopped (re-authorize)"), "busy": _l("Already running in another job"),
    "missing": _l("Shop no longer exists"), "lost_lease": _l("Taken over by another job"),
}


def job_status_label(status: str) -> str:
    return str(JOB_STATUSES.get(status, status))


BADGES = {SYNC_OK: "badge-ok", SYNC_STOPPED: "badge-bad", "error": "badge-bad", SYNC_WAITING: "badge-warn"}


@dataclass(frozen=True)
class SyncView:
    """Everything the status shows; times are aware UTC (the template formats them)."""
    status: str
    text: str
    reason: str | None
    last_sync: datetime | None
    orders_total: int
    last_orders: int
    next_run: datetime | None
    error_at: datetime | None
    pending: bool  # a job of this shop's authorization is queued or running: the page polls
    job: JobRun | None

    @property
    def badge(self) -> str:
        return BADGES.get(self.status, "badge-muted")


def latest_runs(authorization_ids: list[int]) -> dict[int, JobRun]:
    """The newest sync job run of each authorization (one query)."""
    if not authorization_ids:
        return {}
    newest = (select(func.max(JobRun.id)).where(JobRun.authorization_id.in_(authorization_ids))
              .group_by(JobRun.authorization_id))
    rows = db.session.scalars(select(JobRun).where(JobRun.id.in_(newest.scalar_subquery())))
    return {row.authorization_id: row for row in rows}


def sync_view(state: OrdersSyncState | None, job: JobRun | None = None, now: datetime | None = None,
              period_minutes: int = 15) -> SyncView:
    now = now or utcnow()
    text, reason = orders_sync.describe_state(state)
    status = state.status if state is not None else SYNC_NEVER
    pending = job is not None and job.status in (JOB_QUEUED, JOB_RUNNING) and job.queued_at > now - timedelta(hours=1)
    if state is None or status == SYNC_STOPPED:
        next_run = None if status == SYNC_STOPPED else next_cycle_at(now)
    elif state.retry_at is not None and state.retry_at > now:
        next_run = state.retry_at
    elif state.last_success_at is not None and state.run_family is None:
        next_run = next_cycle_at(max(now, state.last_success_at + timedelta(minutes=period_minutes)) - timedelta(minutes=1))
    else:
        next_run = next_cycle_at(now)
    return SyncView(status=status, text=text, reason=reason,
                    last_sync=state.last_success_at if state else None,
                    orders_total=state.orders_total if state else 0, last_orders=state.last_orders if state else 0,
                    next_run=next_run, error_at=state.error_at if state is not None and reason else None,
                    pending=pending, job=job)


def row_line(view: SyncView, now: datetime) -> Markup:
    """The sync line of a shop row's status cell: status, when it last synced, orders pulled, the reason."""
    catalog = translations()
    parts = [f'<p class="sync-line"><small><span class="sync-state sync-{escape(view.status)}">{escape(view.text)}</span>']
    if view.last_sync is not None:
        parts.append(" " + escape(catalog.ugettext("Last sync %(when)s") % {"when": ago(view.last_sync, now, catalog)}))
    if view.orders_total:
        parts.append(" · " + escape(catalog.ungettext("%(num)d order", "%(num)d orders", view.orders_total)
                                    % {"num": view.orders_total}))
    if view.reason:
        parts.append(f'<br><span class="check-message bad">{escape(view.reason)}</span>')
    parts.append("</small></p>")
    return Markup("".join(parts))


def next_run_text(view: SyncView) -> str:
    return minute(view.next_run) if view.next_run is not None else ""


def shop_sync_view(authorization_id: int, now: datetime | None = None, period_minutes: int = 15) -> SyncView:
    """The sync view of one authorization (the shop's page and the fragment): two queries."""
    state = db.session.get(OrdersSyncState, authorization_id, populate_existing=True)
    return sync_view(state, latest_runs([authorization_id]).get(authorization_id), now, period_minutes)
