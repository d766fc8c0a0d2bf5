"""Reads of the Jobs page: the company's job runs (and the portal's own periodic ones), newest first."""
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from ..models import JobRun
from ..sync_view import job_status_label

JOB_NAMES = {
    "orders.sync": _l("Order sync"),
    "orders.cycle": _l("Scheduled order sync (all due shops)"),
    "shops.verify_all": _l("Daily verify of all shops"),
    "jobs.heartbeat": _l("Job consumer heartbeat"),
}
STATUS_BADGES = {"ok": "badge-ok", "error": "badge-bad", "failed": "badge-bad", "stopped": "badge-bad",
                 "waiting": "badge-warn", "partial": "badge-warn"}


def runs_query(company_id: int):
    """The runs an admin of `company_id` may see: the company's, and the portal's own (no company)."""
    return (select(JobRun).where(or_(JobRun.company_id == company_id, JobRun.company_id.is_(None)))
            .order_by(JobRun.id.desc()))


def job_name(name: str) -> str:
    return str(JOB_NAMES.get(name, name))


job_status = job_status_label
