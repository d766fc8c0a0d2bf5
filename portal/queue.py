"""The job queue (huey): everything that must not run inside a request.

One huey instance for the process, configured from the app by :func:`init_app`: a SQLite file in the
instance folder (``SqliteHuey``'s storage) by default, Redis (``RedisHuey``'s storage) when
``REDIS_URL`` is set; the task code is the same. Consumers run ``python -m portal.serve worker``
(``make worker``); ``make run`` starts the portal with one consumer.

Jobs:

- ``orders.sync`` (:func:`sync_authorization_task`): one sync of one seller authorization; it queues
  itself again when the result is "partial" (page limit of one job) or "waiting" (rate limit), after
  ``retry_after`` seconds.
- ``orders.cycle`` (periodic, every ORDERS_SYNC_MINUTES): queues a sync of every due authorization.
- ``shops.verify_all`` (periodic, daily at JOBS_VERIFY_HOUR UTC): what ``verify-shops`` does.
- ``jobs.heartbeat`` (periodic, every minute): the consumer's sign of life (``/healthz``), and pruning of
  the run history.
- ``alerts.scan`` (periodic, every ALERTS_SCAN_MINUTES): records new alert events (portal/alerts/events.py)
  and queues one ``alerts.send`` per new message, plus the messages a lost job or a killed consumer left.
- ``alerts.send`` (:func:`send_alert_task`): one try of one alert message; queues itself again after the
  back-off delay while the failure is retryable; each try is a job run of the message's company.
- ``alerts.digest`` (periodic, daily at ALERTS_DIGEST_HOUR in the portal's time zone): one digest message
  per channel with waiting alerts.

Every consumer's scheduler enqueues the periodic jobs; a claim per slot (table job_claim, one atomic
UPDATE) lets exactly one of them do the work, so two consumers never run a cycle twice. Two consumers
never sync one seller at once either: the sync holds a lease on the authorization (portal/orders_sync.py).
"""
from __future__ import annotations

import calendar
import functools
import logging
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from huey import Huey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .database import write_intent
from .extensions import db
from .logging_safety import redact
from .models import JOB_FAILED, JOB_OK, JOB_QUEUED, JOB_RUNNING, JobClaim, JobHeartbeat, JobRun, SellerAuthorization, \
    utcnow
from . import orders_sync  # the module: orders_sync imports the shops package, which imports this one
from .throttle import take_slot
from .shops import verify  # noqa: E402 (after orders_sync: see above)
from .alerts import delivery as alert_delivery, events as alert_events  # noqa: E402 (after orders_sync)

log = logging.getLogger(__name__)

SYNC, CYCLE, VERIFY_ALL, HEARTBEAT = "orders.sync", "orders.cycle", "shops.verify_all", "jobs.heartbeat"
ALERT_SCAN, ALERT_SEND, ALERT_DIGEST = "alerts.scan", "alerts.send", "alerts.digest"
ALERT_RETRYING = "retrying"  # the job run of an alert send that failed and comes back after its back-off

# Until init_app: a memory queue, so importing this module opens no file and no connection.
huey = Huey("portal", results=False, utc=True, storage_class=MemoryStorage)
_bound: dict[str, Flask] = {}


class QueueUnavailable(Exception):
    """The queue's storage (SQLite file or Redis) could not take the job."""


def init_app(app: Flask) -> None:
    """Point the process's huey at this app's queue storage; tasks run in this app's context."""
    cfg = app.config
    if cfg.get("REDIS_URL"):
        storage_class, kwargs = RedisStorage, {"url": cfg["REDIS_URL"]}
    else:
        path = cfg.get("JOBS_SQLITE_FILE") or os.path.join(app.instance_path, "jobs.db")
        _owner_only(path)
        storage_class, kwargs = SqliteStorage, {"filename": path}
    old = huey.storage
    huey.name = cfg["JOBS_QUEUE_NAME"]
    huey.storage_class, huey.storage_kwargs = storage_class, kwargs
    huey.storage = huey.create_storage()
    try:
        old.close()
    except Exception:  # noqa: BLE001 (a storage that was never opened)
        log.debug("the previous job queue storage could not be closed", exc_info=True)
    app.extensions["portal_queue"] = huey
    app.extensions["portal_started_at"] = utcnow()
    _bound["app"] = app


def _owner_only(path: str) -> None:
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def bound_app() -> Flask:
    app = _bound.get("app")
    if app is None:
        raise RuntimeError("portal.queue.init_app() was not called (create_app does it)")
    return app


def in_app(fn):
    """Run a task in the consumer's app context (the app is created once per consumer process). Jobs write:
    their SQLite transactions take the write lock at BEGIN (a read-then-write would fail when another
    writer committed in between)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        with bound_app().app_context(), write_intent():
            try:
                return fn(*args, **kwargs)
            finally:
                db.session.remove()

    return run


def consumer_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


# -- the record of each run ------------------------------------------------------------------------

@dataclass
class Run:
    id: int
    status: str = JOB_OK
    summary: str | None = None
    error: str | None = None


@contextmanager
def recorded(name: str, *, run_id: int | None = None, company_id: int | None = None,
             authorization_id: int | None = None, target: str | None = None):
    """Record one run of a job (job_run): started now, finished with the status the body sets, or
    "failed" with the exception's class and redacted message (the exception is logged, not raised)."""
    started, t0 = utcnow(), time.monotonic()
    row = db.session.get(JobRun, run_id) if run_id is not None else None
    if row is None:
        row = JobRun(name=name, company_id=company_id, authorization_id=authorization_id, target=target,
                     queued_at=started)
        db.session.add(row)
    row.status, row.started_at, row.consumer = JOB_RUNNING, started, consumer_name()
    db.session.commit()
    run = Run(row.id)
    try:
        yield run
    except Exception as error:  # noqa: BLE001 (a job's failure is recorded, the consumer goes on)
        db.session.rollback()
        log.exception("job %s (%s) failed", name, target or "-")
        run.status, run.error = JOB_FAILED, redact(f"{type(error).__name__}: {error}")
    finished = utcnow()
    db.session.execute(update(JobRun).where(JobRun.id == run.id).values(
        status=run.status[:16], finished_at=finished, duration_ms=int((time.monotonic() - t0) * 1000),
        summary=(run.summary or None) and run.summary[:200], error=(run.error or None) and run.error[:300]))
    db.session.commit()


def prune_runs(keep: int | None = None) -> int:
    """Keep the newest JOBS_KEEP_RUNS runs. Caller commits."""
    keep = current_app.config["JOBS_KEEP_RUNS"] if keep is None else keep
    newest = db.session.scalar(select(JobRun.id).order_by(JobRun.id.desc()).offset(keep).limit(1))
    if newest is None:
        return 0
    return db.session.execute(delete(JobRun).where(JobRun.id <= newest)).rowcount


# -- claims of periodic slots and heartbeats -------------------------------------------------------

def _insert(table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)


def claim(name: str, slot: int) -> bool:
    """Claim `slot` of the periodic job `name`: True for exactly one caller per slot (all processes). Commits."""
    table = JobClaim.__table__
    db.session.execute(_insert(table).values(name=name, slot=0).on_conflict_do_nothing(index_elements=[table.c.name]))
    result = db.session.execute(update(table).where(table.c.name == name, table.c.slot < slot)
                                .values(slot=slot, claimed_at=utcnow(), consumer=consumer_name()))
    db.session.commit()
    return result.rowcount == 1


def beat(consumer: str | None = None, started_at: datetime | None = None) -> None:
    """Store this consumer's heartbeat. Commits."""
    table, now = JobHeartbeat.__table__, utcnow()
    statement = _insert(table).values(consumer=consumer or consumer_name(), started_at=started_at or now, beat_at=now)
    db.session.execute(statement.on_conflict_do_update(index_elements=[table.c.consumer], set_={"beat_at": now}))
    db.session.execute(delete(JobHeartbeat).where(JobHeartbeat.beat_at < now - timedelta(days=7)))
    db.session.commit()


def heartbeat_age(now: datetime | None = None) -> float | None:
    """Seconds since the last heartbeat of any consumer (None: no consumer ever ran)."""
    last = db.session.scalar(select(func.max(JobHeartbeat.beat_at)))
    if last is None:
        return None
    if last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    return max(0.0, ((now or utcnow()) - last).total_seconds())


def health() -> tuple[dict, bool]:
    """``(body, healthy)`` for /healthz: only booleans and ages. Unhealthy when the database or the queue
    cannot be reached, or no consumer has beaten for longer than two sync periods (a portal that started
    less than two periods ago and has never heard of a consumer is "starting", not yet unhealthy)."""
    silent_after = 2 * 60 * current_app.config["ORDERS_SYNC_MINUTES"]
    body = {"database": False, "queue": False, "consumer": False, "starting": False, "heartbeat_age_seconds": None}
    try:
        db.session.execute(select(1))
        body["database"] = True
        age = heartbeat_age()
        db.session.commit()
        body["heartbeat_age_seconds"] = None if age is None else round(age, 1)
        body["consumer"] = age is not None and age <= silent_after
        started = current_app.extensions.get("portal_started_at") or utcnow()
        body["starting"] = age is None and (utcnow() - started).total_seconds() <= silent_after
    except Exception:  # noqa: BLE001 (unreachable is an answer, not a 500)
        db.session.rollback()
        log.warning("healthz: the database cannot be reached", exc_info=True)
    try:
        huey.storage.queue_size()
        body["queue"] = True
    except Exception:  # noqa: BLE001
        log.warning("healthz: the job queue cannot be reached", exc_info=True)
    return body, body["database"] and body["queue"] and (body["consumer"] or body["starting"])


# -- schedules -------------------------------------------------------------------------------------

def _epoch_minute(moment: datetime) -> int:
    return calendar.timegm(moment.utctimetuple()) // 60


def _sync_minutes() -> int:
    return max(1, int(bound_app().config["ORDERS_SYNC_MINUTES"]))


def _verify_hour() -> int:
    return int(bound_app().config["JOBS_VERIFY_HOUR"]) % 24


def is_cycle_minute(moment: datetime) -> bool:
    return _epoch_minute(moment) % _sync_minutes() == 0


def is_verify_minute(moment: datetime) -> bool:
    return moment.hour == _verify_hour() and moment.minute == 0


def next_cycle_at(moment: datetime) -> datetime:
    """The first sync cycle strictly after `moment`."""
    minute = _epoch_minute(moment) + 1
    return datetime.fromtimestamp((minute + (-minute) % _sync_minutes()) * 60, timezone.utc)


def _scan_minutes() -> int:
    return max(1, int(bound_app().config["ALERTS_SCAN_MINUTES"]))


def _portal_zone() -> ZoneInfo:
    return ZoneInfo(bound_app().config.get("BABEL_DEFAULT_TIMEZONE") or "UTC")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)  # huey: naive UTC


def is_scan_minute(moment: datetime) -> bool:
    return _epoch_minute(moment) % _scan_minutes() == 0


def is_digest_minute(moment: datetime) -> bool:
    local = _aware(moment).astimezone(_portal_zone())
    return local.hour == int(bound_app().config["ALERTS_DIGEST_HOUR"]) % 24 and local.minute == 0


def digest_day(moment: datetime) -> int:
    """The slot of the daily digest: the day (ordinal) in the portal's time zone."""
    return _aware(moment).astimezone(_portal_zone()).date().toordinal()


def next_digest_at(moment: datetime) -> datetime:
    local = _aware(moment).astimezone(_portal_zone())
    at = local.replace(hour=int(bound_app().config["ALERTS_DIGEST_HOUR"]) % 24, minute=0, second=0, microsecond=0)
    if at <= local:
        at = (at + timedelta(days=1)).replace(hour=at.hour)
    return at.astimezone(timezone.utc)


def next_runs(now: datetime | None = None) -> list[tuple[str, datetime]]:
    """The periodic jobs and when each runs next (UTC), soonest first."""
    now = now or utcnow()
    minute = _epoch_minute(now) + 1
    cycle = next_cycle_at(now)
    verify = now.replace(hour=_verify_hour(), minute=0, second=0, microsecond=0)
    if verify <= now:
        verify += timedelta(days=1)
    beat_at = datetime.fromtimestamp(minute * 60, timezone.utc)
    scan_at = datetime.fromtimestamp((minute + (-minute) % _scan_minutes()) * 60, timezone.utc)
    return sorted([(HEARTBEAT, beat_at), (CYCLE, cycle), (VERIFY_ALL, verify), (ALERT_SCAN, scan_at),
                   (ALERT_DIGEST, next_digest_at(now))], key=lambda item: item[1])


# -- the jobs --------------------------------------------------------------------------------------

def authorization_target(authorization_id: int) -> tuple[int | None, str]:
    """(company id, "seller … (region)") of an authorization, for its job runs."""
    row = db.session.execute(select(SellerAuthorization.company_id, SellerAuthorization.seller_id,
                                    SellerAuthorization.region).where(SellerAuthorization.id == authorization_id)).first()
    if row is None:
        return None, f"authorization {authorization_id}"
    return row.company_id, f"{row.seller_id} ({row.region})"


def sync_summary(result: orders_sync.SyncResult) -> str:
    return (f"{result.pages} pages, {result.created} new, {result.updated} updated, "
            f"{result.requests} requests")


@huey.task(name=SYNC)
@in_app
def sync_authorization_task(authorization_id: int, run_id: int | None = None, cycle: bool = False) -> None:
    """Sync one authorization; continue later when the run is partial or waits for the rate limit.
    A job queued by a cycle does nothing when the authorization is no longer due (synced meanwhile)."""
    if cycle and authorization_id not in set(orders_sync.due_authorizations()):
        db.session.commit()
        return
    company_id, target = authorization_target(authorization_id)
    if company_id is None and run_id is None:  # deleted meanwhile: nothing to sync, nothing to show
        db.session.commit()
        log.info("orders sync %s: the authorization no longer exists", authorization_id)
        return
    with recorded(SYNC, run_id=run_id, company_id=company_id, authorization_id=authorization_id,
                  target=target) as run:
        result = orders_sync.sync_authorization(authorization_id, max_pages=current_app.config["JOBS_SYNC_MAX_PAGES"])
        run.status, run.summary = result.status, sync_summary(result)
        run.error = " ".join(filter(None, (result.error_code, result.error_detail))) or None
        if result.status == orders_sync.PARTIAL:
            sync_authorization_task(authorization_id)
        elif result.status == "waiting" and result.requests > 0:
            # Only the job that met the limit continues; one that found the sync already waiting leaves
            # it to the job (or the cycle) that will run at retry_at, so no second chain starts.
            sync_authorization_task.schedule((authorization_id,), delay=max(1, result.retry_after or 1))
            run.summary += f", continues in {result.retry_after} s"


def queue_sync(authorization_id: int) -> int:
    """Queue a sync of one authorization now ("Sync now"); its job run (status queued) is returned so the
    page can follow it. Commits. Raises QueueUnavailable when the queue cannot take it."""
    company_id, target = authorization_target(authorization_id)
    row = JobRun(name=SYNC, company_id=company_id, authorization_id=authorization_id, target=target,
                 status=JOB_QUEUED, queued_at=utcnow())
    db.session.add(row)
    db.session.commit()
    try:
        sync_authorization_task(authorization_id, run_id=row.id)
    except Exception as error:
        log.exception("could not queue the sync of authorization %s", authorization_id)
        row.status, row.error, row.finished_at = JOB_FAILED, "the job queue cannot be reached", utcnow()
        db.session.commit()
        raise QueueUnavailable() from error
    return row.id


@dataclass
class SyncRequest:
    queued: bool
    throttled: bool = False
    unavailable: bool = False


def request_sync(authorization_id: int) -> SyncRequest:
    """"Sync now": queue a sync of the authorization unless one was asked for in the last
    JOBS_SYNC_NOW_SECONDS (the slot is taken atomically first, in storage every worker shares)."""
    seconds = int(current_app.config["JOBS_SYNC_NOW_SECONDS"])
    if not take_slot(f"sync-now:{authorization_id}", f"1 per {seconds} seconds"):
        return SyncRequest(queued=False, throttled=True)
    try:
        queue_sync(authorization_id)
    except QueueUnavailable:
        return SyncRequest(queued=False, unavailable=True)
    return SyncRequest(queued=True)


def run_cycle(now: datetime | None = None) -> int | None:
    """The work of one sync period: queue every due authorization, once per slot across all consumers.
    The number queued, or None when another consumer has this slot already."""
    slot = _epoch_minute(now or utcnow()) // _sync_minutes()
    if not claim(CYCLE, slot):
        return None
    with recorded(CYCLE) as run:
        due = orders_sync.due_authorizations()
        db.session.commit()
        for authorization_id in due:
            sync_authorization_task(authorization_id, cycle=True)
        run.summary = f"{len(due)} authorizations queued"
    return len(due)


@huey.periodic_task(is_cycle_minute, name=CYCLE)
@in_app
def sync_cycle() -> None:
    run_cycle()


def run_verify_all(now: datetime | None = None) -> int | None:
    """The daily verify of every shop (the verify-shops command's service), once per day across consumers."""
    day = _epoch_minute(now or utcnow()) // (24 * 60)
    if not claim(VERIFY_ALL, day):
        return None
    with recorded(VERIFY_ALL) as run:
        ids = sorted(db.session.scalars(select(SellerAuthorization.id)))
        db.session.commit()
        results = verify.verify_many(bound_app(), ids, workers=current_app.config["JOBS_VERIFY_WORKERS"])
        failed = sum(1 for r in results if r.code not in (None, "verified"))
        run.summary = f"{len(results)} shops checked, {failed} failed"
        if failed:
            run.status, run.error = JOB_FAILED, f"{failed} shops failed their check"
    return len(ids)


@huey.periodic_task(is_verify_minute, name=VERIFY_ALL)
@in_app
def verify_all_shops() -> None:
    run_verify_all()


@huey.periodic_task(lambda moment: True, name=HEARTBEAT)
@in_app
def heartbeat() -> None:
    beat()
    prune_runs()
    db.session.commit()


# -- alerts ------------------------------------------------------------------------------------------

def _queue_sends(message_ids: list[int]) -> int:
    """Queue one send per message; a message the queue cannot take stays queued for the next scan."""
    queued = 0
    for message_id in message_ids:
        try:
            send_alert_task(message_id)
            queued += 1
        except Exception:  # noqa: BLE001 (the scan picks it up again: see delivery.stuck_messages)
            log.exception("could not queue alert message %s", message_id)
    return queued


def queue_alert_send(message_id: int) -> None:
    """Queue one send of an alert message now (the Jobs page's Retry). Raises QueueUnavailable."""
    try:
        send_alert_task(message_id)
    except Exception as error:
        log.exception("could not queue alert message %s", message_id)
        raise QueueUnavailable() from error


def run_alert_scan(now: datetime | None = None) -> alert_events.ScanResult | None:
    """One alert scan, once per slot across consumers: record events, queue their messages and the stuck
    ones. The scan's result, or None when another consumer has this slot (or the scan failed)."""
    now = now or utcnow()
    if not claim(ALERT_SCAN, _epoch_minute(now) // _scan_minutes()):
        return None
    found = None
    with recorded(ALERT_SCAN) as run:
        found = alert_events.scan(now)
        stuck = [i for i in alert_delivery.stuck_messages(now) if i not in set(found.message_ids)]
        db.session.commit()
        queued = _queue_sends(found.message_ids + stuck)
        run.summary = (f"{found.events} new alerts, {found.closed} closed, {len(found.message_ids)} messages, "
                       f"{len(stuck)} re-queued, {queued} sends queued")
    return found


@huey.periodic_task(is_scan_minute, name=ALERT_SCAN)
@in_app
def alert_scan() -> None:
    run_alert_scan()


def run_alert_send(message_id: int, now: datetime | None = None) -> alert_delivery.SendOutcome | None:
    """One try of one alert message, recorded as a job run of its company when this caller claimed it;
    a retryable failure queues the next try after its back-off delay."""
    target = alert_delivery.message_target(message_id)
    if target is None or not alert_delivery.claim_message(message_id, now):
        db.session.commit()
        return None
    company_id, label = target
    outcome = None
    with recorded(ALERT_SEND, company_id=company_id, target=label) as run:
        outcome = alert_delivery.deliver_claimed(message_id, now)
        run.summary = f"attempt {outcome.attempts}: {outcome.summary()}"
        if outcome.ok:
            run.status = JOB_OK
        elif outcome.retry_in is not None:
            run.status = ALERT_RETRYING
            run.summary += f", retried in {outcome.retry_in} s"
            send_alert_task.schedule((message_id,), delay=outcome.retry_in)
        else:
            run.status, run.error = JOB_FAILED, outcome.summary()
    return outcome


@huey.task(name=ALERT_SEND)
@in_app
def send_alert_task(message_id: int) -> None:
    run_alert_send(message_id)


def run_alert_digest(now: datetime | None = None) -> list[int] | None:
    """The daily digests (once per day of the portal's time zone across consumers): the message ids."""
    now = now or utcnow()
    if not claim(ALERT_DIGEST, digest_day(now)):
        return None
    made: list[int] = []
    with recorded(ALERT_DIGEST) as run:
        channels = alert_delivery.waiting_channels()
        db.session.commit()
        for channel_id in channels:
            message_id = alert_delivery.build_digest(channel_id, now)
            if message_id is not None:
                made.append(message_id)
        _queue_sends(made)
        run.summary = f"{len(made)} digest messages"
    return made


@huey.periodic_task(is_digest_minute, name=ALERT_DIGEST)
@in_app
def alert_digest() -> None:
    run_alert_digest()


def run_consumer(app: Flask, workers: int | None = None) -> None:
    """Run one consumer in this process until SIGINT/SIGTERM (tasks in this app's context)."""
    init_app(app)
    with app.app_context():
        beat()
        db.session.remove()
    consumer = huey.create_consumer(workers=workers or app.config["JOBS_WORKERS"], worker_type="thread",
                                    periodic=True, scheduler_interval=1, shutdown_timeout=10)
    consumer.run()


__all__ = ["huey", "init_app", "queue_sync", "sync_authorization_task", "run_cycle", "run_verify_all", "health",
           "next_runs", "QueueUnavailable", "run_alert_scan", "run_alert_send", "run_alert_digest", "send_alert_task",
           "queue_alert_send"]
