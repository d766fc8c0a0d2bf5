"""The read side of the admin pages: the users search and the activity log's filters."""
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import func, or_, select

from ..activity_text import action_label, describe, user_ids_named
from ..audit import ACTIONS
from ..csv_export import csv_cell
from ..extensions import db
from ..forms import ChoiceFilter, DayFilter, FilterForm, IdFilter, SearchFilter
from ..models import AuditEvent, User
from ..texts import N_, fast_gettext, second, zone, zone_name

CSV_LIMIT = 100_000
ACTIVITY_CSV_HEADER = ["time", "user", "action", "outcome", "object_type", "object_id", "object", "detail", "ip",
                       "description"]


class UserFilters(FilterForm):
    q = SearchFilter()


def action_options():
    return [("", fast_gettext(N_("All actions"))), *((action, action_label(action)) for action in ACTIONS)]


class ActivityFilters(FilterForm):
    """Never raises on odd input: `?user=²`, `?end=9999-12-31` or `?user=99999999999999999999` are ignored."""

    user = IdFilter()
    action = ChoiceFilter(choices=action_options)
    start = DayFilter()
    end = DayFilter()


def search_users(base, filters: UserFilters):
    """Select of the users of `base` (access.company_users) matching the search, by name (pinyin order)."""
    q = filters.q.data
    if q:
        like = f"%{q.lower()}%"
        base = base.where(or_(func.lower(User.display_name).like(like), User.email.like(like)))
    return base.order_by(User.sort_name, User.id)


def _midnight(day) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def activity_query(company_id: int, filters: ActivityFilters):
    """Select of the company's audit events matching the filters, newest first (the end day is included)."""
    values = filters.values()
    query = select(AuditEvent).where(AuditEvent.company_id == company_id)
    if values["user"] is not None:
        query = query.where(AuditEvent.user_id == values["user"])
    if values["action"]:
        query = query.where(AuditEvent.action == values["action"])
    if values["start"]:
        query = query.where(AuditEvent.created_at >= _midnight(values["start"]))
    if values["end"]:
        query = query.where(AuditEvent.created_at < _midnight(values["end"] + timedelta(days=1)))
    return query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


def _user_names(query) -> dict[int, str]:
    return dict(db.session.execute(query).all())


def activity_lines(company_id: int, events) -> list:
    """The events of a page in words (activity_text.describe), with the current names of the users involved."""
    ids = user_ids_named(events)
    names = _user_names(select(User.id, User.display_name).where(User.company_id == company_id, User.id.in_(ids))) \
        if ids else {}
    return [describe(event, names) for event in events]


def activity_csv_header() -> list[str]:
    """The CSV header; the time column names the zone its times are in, e.g. "time (Asia/Shanghai)"."""
    return [f"time ({zone_name()})", *ACTIVITY_CSV_HEADER[1:]]


def activity_csv_rows(company_id: int, query):
    """The CSV rows of the events of `query` (at most CSV_LIMIT): the machine columns, then the event in words.
    Text cells are safe for spreadsheets."""
    tz, names = zone(), _user_names(select(User.id, User.display_name).where(User.company_id == company_id))
    for event in db.session.scalars(query.limit(CSV_LIMIT)):
        line = describe(event, names)
        words = f"{line.sentence} {line.details}" if line.details else line.sentence
        yield [second(event.created_at, tz), csv_cell(event.user_label), event.action, event.outcome,
               event.object_type or "", event.object_id or "", csv_cell(event.object_label), csv_cell(event.detail),
               event.ip or "", csv_cell(words)]
