"""Alert events: what the periodic scan finds about the shops, recorded once per occurrence.

``scan(now=None) -> ScanResult`` reads every shop of every company with a few whole-table queries (no
query per shop), then

- records the new events: (shop, kind, episode) is unique and the insert skips what exists
  (``ON CONFLICT DO NOTHING``), so two scans at once, or a scan run twice, record each event once;
- closes the open events whose condition is over (re-authorized, check passes, sync works again);
- owes each new event to every enabled channel of the company that wants its kind (``alert_delivery``),
  and each open event to a channel added, switched on or given its kind since (once, as the unique
  (event, channel) says), and, for channels without a daily digest, groups the scan's new deliveries per (channel, kind, days)
  into one queued :class:`~portal.models.AlertMessage` each.

The caller commits and queues the returned message ids (portal/queue.py).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import (CHECK_FAILED as SHOP_CHECK_FAILED, CHECK_VERIFIED, MESSAGE_QUEUED, SYNC_ERROR, SYNC_OK,
                      SYNC_STOPPED as STATE_STOPPED, AlertChannel, AlertDelivery, AlertEvent, AlertMessage,
                      OrdersSyncState, SellerAuthorization, Shop, utcnow)
from .. import orders_sync  # the module: orders_sync imports the shops package, which imports portal.queue
from .messages import (AUTH_EXPIRED, AUTH_EXPIRING, CHECK_FAILED, CHECK_RECOVERED, SYNC_FAILING, SYNC_STOPPED)

# The kinds whose events stay open while their condition lasts (CHECK_RECOVERED is recorded closed).
OPEN_KINDS = (AUTH_EXPIRING, AUTH_EXPIRED, CHECK_FAILED, SYNC_STOPPED, SYNC_FAILING)
_BATCH = 500  # rows per INSERT/UPDATE statement (SQLite allows 32766 bound parameters)


@dataclass
class ScanResult:
    """What one scan did; ``message_ids``: the messages to send now."""

    events: int = 0
    closed: int = 0
    deliveries: int = 0
    message_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Wanted:
    shop_id: int
    company_id: int
    kind: str
    episode: str
    days: int | None = None
    due_at: datetime | None = None
    detail: str | None = None


def expiry_thresholds() -> list[int]:
    """ALERTS_EXPIRY_DAYS ("30,7,1") as positive day counts, smallest first; bad parts are ignored."""
    days = set()
    for part in str(current_app.config.get("ALERTS_EXPIRY_DAYS") or "").split(","):
        part = part.strip()
        if part.isdigit() and int(part) > 0:
            days.add(int(part))
    return sorted(days)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "never"


def _insert(table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)


def _chunks(items: Sequence, size: int = _BATCH) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- what each shop's state asks for -----------------------------------------------------------------

def _shop_rows():
    """Every shop with its authorization's date and its order sync state: one query."""
    s = OrdersSyncState
    return db.session.execute(
        select(Shop.id, Shop.company_id, Shop.check_status, Shop.check_code, Shop.checked_at, Shop.last_good_at,
               SellerAuthorization.authorized_at, s.status.label("sync_status"), s.error_code, s.error_at,
               s.stopped_token_at, s.last_success_at, s.run_started_at, s.last_started_at)
        .join(SellerAuthorization, SellerAuthorization.id == Shop.authorization_id)
        .outerjoin(s, s.authorization_id == Shop.authorization_id)
        .order_by(Shop.id)).all()


def _wanted(row, now: datetime, validity: timedelta, thresholds: list[int], failing_after: timedelta,
            open_episodes: dict[str, set[str]]) -> tuple[list[_Wanted], set[tuple[str, str]]]:
    """(events the shop's state calls for, (kind, episode) of its open events that stay open)."""
    wanted: list[_Wanted] = []
    keep: set[tuple[str, str]] = set()

    def want(kind: str, episode: str, **values) -> None:
        wanted.append(_Wanted(row.id, row.company_id, kind, episode, **values))
        keep.add((kind, episode))

    authorized = row.authorized_at
    expires = authorized + validity
    if now >= expires:
        want(AUTH_EXPIRED, f"expired:{_iso(authorized)}", due_at=expires)
    else:
        crossed = [days for days in thresholds if expires - now <= timedelta(days=days)]
        if crossed:  # only the smallest: a shop first seen 5 days before expiry gets the 7-day alert alone
            days = min(crossed)
            want(AUTH_EXPIRING, f"{days}:{_iso(authorized)}", days=days, due_at=expires)

    if row.check_status == SHOP_CHECK_FAILED:
        since = f"since:{row.last_good_at.isoformat()}" if row.last_good_at else "never"
        want(CHECK_FAILED, since, due_at=row.checked_at, detail=(row.check_code or None))

    status = row.sync_status
    if status == STATE_STOPPED and row.error_code != orders_sync.AUTHORIZATION_EXPIRED:
        want(SYNC_STOPPED, f"stopped:{_iso(row.stopped_token_at or row.error_at)}", due_at=row.error_at,
             detail=row.error_code)
    failing_episode = f"since:{row.last_success_at.isoformat()}" if row.last_success_at else "never"
    if status == SYNC_ERROR:
        starts = [moment for moment in (row.run_started_at, row.last_started_at) if moment is not None]
        since = row.last_success_at or (min(starts) if starts else row.error_at)
        if since is not None and now - since >= failing_after:
            want(SYNC_FAILING, failing_episode, due_at=since, detail=row.error_code)
    if status not in (SYNC_OK, STATE_STOPPED) and failing_episode in open_episodes.get(SYNC_FAILING, ()):
        keep.add((SYNC_FAILING, failing_episode))  # a retry is running or waiting: still the same failure
    return wanted, keep


# -- the scan ------------------------------------------------------------------------------------------

def scan(now: datetime | None = None) -> ScanResult:
    """Detect, record and close alert events of every company; owe the new ones to the channels. Caller commits."""
    now = now or utcnow()
    cfg = current_app.config
    validity = timedelta(days=cfg["AUTHORIZATION_VALIDITY_DAYS"])
    failing_after = timedelta(minutes=cfg["ALERTS_SYNC_FAILING_MINUTES"])
    thresholds = expiry_thresholds()

    open_events: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for event_id, shop_id, kind, episode in db.session.execute(
            select(AlertEvent.id, AlertEvent.shop_id, AlertEvent.kind, AlertEvent.episode)
            .where(AlertEvent.closed_at.is_(None), AlertEvent.kind.in_(OPEN_KINDS))):
        open_events[shop_id].append((event_id, kind, episode))

    rows = _shop_rows()
    wanted: list[_Wanted] = []
    to_close: list[int] = []
    for row in rows:
        opened = open_events.get(row.id, [])
        by_kind: dict[str, set[str]] = defaultdict(set)
        for _, kind, episode in opened:
            by_kind[kind].add(episode)
        shop_wanted, keep = _wanted(row, now, validity, thresholds, failing_after, by_kind)
        wanted.extend(shop_wanted)
        for event_id, kind, episode in opened:
            if (kind, episode) in keep:
                continue
            to_close.append(event_id)
            if kind == CHECK_FAILED and row.check_status == CHECK_VERIFIED:
                wanted.append(_Wanted(row.id, row.company_id, CHECK_RECOVERED, f"after:{event_id}",
                                      due_at=row.checked_at))
    already = {(shop_id, kind, episode) for shop_id, items in open_events.items() for _, kind, episode in items}
    wanted = [w for w in wanted if (w.shop_id, w.kind, w.episode) not in already]

    result = ScanResult()
    result.closed = _close(to_close, now)
    new_events = _record(wanted, now)
    result.events = len(new_events)
    deliveries = _owe(new_events, now) + _catch_up(now)
    result.deliveries = len(deliveries)
    result.message_ids = _group(deliveries, now)
    return result


def _close(event_ids: list[int], now: datetime) -> int:
    closed = 0
    for chunk in _chunks(event_ids):
        closed += db.session.execute(update(AlertEvent).where(AlertEvent.id.in_(chunk), AlertEvent.closed_at.is_(None))
                                     .values(closed_at=now)).rowcount
    return closed


def _record(wanted: list[_Wanted], now: datetime) -> list[tuple[int, int, int, str, int | None]]:
    """Insert the events that do not exist yet: [(event id, company id, shop id, kind, days)] of those inserted."""
    table = AlertEvent.__table__
    inserted = []
    for chunk in _chunks(wanted):
        values = [{"company_id": w.company_id, "shop_id": w.shop_id, "kind": w.kind, "episode": w.episode,
                   "days": w.days, "due_at": w.due_at, "detail": (w.detail or None) and w.detail[:300],
                   "created_at": now, "closed_at": now if w.kind == CHECK_RECOVERED else None} for w in chunk]
        statement = (_insert(table).values(values)
                     .on_conflict_do_nothing(index_elements=[table.c.shop_id, table.c.kind, table.c.episode])
                     .returning(table.c.id, table.c.company_id, table.c.shop_id, table.c.kind, table.c.days))
        inserted.extend(tuple(row) for row in db.session.execute(statement))
    return sorted(inserted)


def _owe(new_events, now: datetime) -> list[tuple[int, int, int, str, int | None, bool]]:
    """One delivery per (new event, enabled channel wanting its kind): [(delivery id, channel id, company id,
    kind, days, digest)] of the rows inserted."""
    if not new_events:
        return []
    companies = sorted({company_id for _, company_id, _, _, _ in new_events})
    channels: dict[int, list[AlertChannel]] = defaultdict(list)
    for chunk in _chunks(companies):
        for channel in db.session.scalars(select(AlertChannel).where(AlertChannel.company_id.in_(chunk),
                                                                     AlertChannel.enabled.is_(True))
                                          .order_by(AlertChannel.id)):
            channels[channel.company_id].append(channel)
    wanted_by = {channel.id: (set(channel.event_kinds()), channel.digest, channel.company_id)
                 for items in channels.values() for channel in items}
    values, about = [], {}
    for event_id, company_id, _, kind, days in new_events:
        for channel in channels.get(company_id, ()):
            if kind in wanted_by[channel.id][0]:
                values.append({"event_id": event_id, "channel_id": channel.id, "created_at": now})
                about[event_id] = (kind, days)
    table = AlertDelivery.__table__
    owed = []
    for chunk in _chunks(values):
        statement = (_insert(table).values(list(chunk))
                     .on_conflict_do_nothing(index_elements=[table.c.event_id, table.c.channel_id])
                     .returning(table.c.id, table.c.event_id, table.c.channel_id))
        for delivery_id, event_id, channel_id in db.session.execute(statement):
            kind, days = about[event_id]
            _, digest, company_id = wanted_by[channel_id]
            owed.append((delivery_id, channel_id, company_id, kind, days, digest))
    return sorted(owed)


def _catch_up(now: datetime) -> list[tuple[int, int, int, str, int | None, bool]]:
    """Open events an enabled channel wanting their kind was never given (the channel was added, switched
    on or given the kind after the event was recorded): owed to it now, once, like a new event."""
    d, e, c = AlertDelivery, AlertEvent, AlertChannel
    rows = db.session.execute(
        select(e.id, c.id, c.company_id, e.kind, e.days, c.events, c.digest)
        .join(c, and_(c.company_id == e.company_id, c.enabled.is_(True)))
        .where(e.closed_at.is_(None), e.kind.in_(OPEN_KINDS), c.events.like("%" + e.kind + "%"),
               ~exists().where(d.event_id == e.id, d.channel_id == c.id))
        .order_by(e.id, c.id)).all()
    values = [{"event_id": row[0], "channel_id": row[1], "created_at": now} for row in rows
              if row.kind in (row.events or "").split(",")]
    about = {(row[0], row[1]): (row.company_id, row.kind, row.days, row.digest) for row in rows}
    table, owed = AlertDelivery.__table__, []
    for chunk in _chunks(values):
        statement = (_insert(table).values(list(chunk))
                     .on_conflict_do_nothing(index_elements=[table.c.event_id, table.c.channel_id])
                     .returning(table.c.id, table.c.event_id, table.c.channel_id))
        for delivery_id, event_id, channel_id in db.session.execute(statement):
            company_id, kind, days, digest = about[(event_id, channel_id)]
            owed.append((delivery_id, channel_id, company_id, kind, days, digest))
    return sorted(owed)


def _group(deliveries, now: datetime) -> list[int]:
    """One queued message per (channel, kind, days) of the deliveries to channels without digest."""
    groups: dict[tuple[int, int, str, int | None], list[int]] = defaultdict(list)
    for delivery_id, channel_id, company_id, kind, days, digest in deliveries:
        if not digest:
            groups[(channel_id, company_id, kind, days)].append(delivery_id)
    message_ids = []
    for (channel_id, company_id, kind, _days), delivery_ids in sorted(groups.items(), key=lambda item: item[1][0]):
        message = AlertMessage(company_id=company_id, channel_id=channel_id, kind=kind, status=MESSAGE_QUEUED,
                               attempts=0, next_attempt_at=now, created_at=now)
        db.session.add(message)
        db.session.flush()
        for chunk in _chunks(delivery_ids):
            db.session.execute(update(AlertDelivery).where(AlertDelivery.id.in_(chunk)).values(message_id=message.id))
        message_ids.append(message.id)
    return message_ids


__all__ = ["ScanResult", "expiry_thresholds", "scan", "OPEN_KINDS"]
