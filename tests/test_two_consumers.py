"""Two job consumers (`python -m portal.serve worker`, real processes) against one Redis and one PostgreSQL
database, with ten seller authorizations on the stand-in Amazon: each seller is synced once per cycle, no
order is stored twice, and no seller's rate budget is ever exceeded. And a consumer killed (SIGKILL) in the
middle of a multi-page sync: the next run, through the queue, completes with no duplicate and no gap."""
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
import redis
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, select, text, update

from devtools.standin import StandinAmazon, make_order
from portal.models import (SYNC_OK, Company, JobClaim, JobRun, Order, OrdersSyncState, User, utcnow)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip() or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "").strip() or "redis://127.0.0.1:6379/0"
US = "ATVPDKIKX0DER"
BURST, RATE = 2, 2.0  # the searchOrders plan of this test, in the portal and in the stand-in
PERIOD_MINUTES = 10079  # no real cycle minute comes by during the test: the test starts the cycles


class TimedStandin(StandinAmazon):
    """The stand-in, noting when each seller's searchOrders request arrived and how many it refused (429)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stamps: list[tuple[str | None, float]] = []
        self.refused = 0

    def _search_orders(self, request, region):
        token = request.headers.get("x-amz-access-token", "")
        with self._lock:
            issued = self._access.get(token)
            seller = self._sellers.get(issued.refresh_token) if issued else None
            self.stamps.append((seller.seller_id if seller else None, time.monotonic()))
        response = super()._search_orders(request, region)
        if response.status_code == 429:
            with self._lock:
                self.refused += 1
        return response


def _reachable():
    try:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001
        return f"PostgreSQL at {PG_URL} is not reachable: {error}"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as error:  # noqa: BLE001
        return f"Redis at {REDIS_URL} is not reachable: {error}"
    return None


@pytest.fixture
def shared(tmp_path):
    """One PostgreSQL schema and one huey name (Redis key prefix) for this test, dropped afterwards; the
    stand-in; the test's own app on them; the environment consumers need to join."""
    reason = _reachable()
    if reason:
        pytest.skip(reason)
    from config import Config
    from portal import create_app, queue
    from portal.extensions import db

    schema = f"t2c_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    standin = TimedStandin().start()
    standin.orders_burst, standin.orders_rate = BURST, RATE
    database_url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    settings = {
        "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "JOBS_QUEUE_NAME": f"portal-test-{schema}",
        "THROTTLE_KEY_PREFIX": f"portal-test-{schema}", "SECRET_KEY": secrets.token_urlsafe(48),
        "TOKEN_ENC_KEYS": Fernet.generate_key().decode(), "INSTANCE_PATH": str(tmp_path / "instance"),
        "ORDERS_PAGE_SIZE": "2", "ORDERS_BURST": str(BURST), "ORDERS_RATE_PER_SECOND": str(RATE),
        "ORDERS_SYNC_MINUTES": str(PERIOD_MINUTES), "ORDERS_RETRY_BACKOFF_SECONDS": "0.05", "JOBS_WORKERS": "2",
        "AMAZON_READ_TIMEOUT": "3", "LOG_LEVEL": "WARNING", "PORTAL_ENV": "development",
        **standin.portal_settings(),
    }
    config = type("SharedConfig", (Config,), {
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": REDIS_URL,
        "JOBS_QUEUE_NAME": settings["JOBS_QUEUE_NAME"], "THROTTLE_KEY_PREFIX": settings["THROTTLE_KEY_PREFIX"],
        "SECRET_KEY": settings["SECRET_KEY"], "TOKEN_ENC_KEYS": settings["TOKEN_ENC_KEYS"],
        "INSTANCE_PATH": settings["INSTANCE_PATH"], "ORDERS_BURST": BURST, "ORDERS_RATE_PER_SECOND": RATE,
        "ORDERS_SYNC_MINUTES": PERIOD_MINUTES, "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        **standin.portal_settings()})
    app = create_app(config)
    assert queue.huey.storage.__class__.__name__ == "RedisStorage"
    queue.huey.storage.flush_all()
    consumers: list[subprocess.Popen] = []

    def start_consumer(**extra):
        log = open(tmp_path / f"consumer-{len(consumers)}.log", "w")
        process = subprocess.Popen([sys.executable, "-m", "portal.serve", "worker"], cwd=ROOT,
                                   env={**os.environ, **settings, **extra}, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        consumers.append(process)
        return process

    with app.app_context():
        db.create_all()
        try:
            yield {"app": app, "standin": standin, "start_consumer": start_consumer, "db": db}
        finally:
            for process in consumers:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in consumers:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            queue.huey.storage.flush_all()
            db.session.remove()
            db.engine.dispose()
            standin.stop()
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
            for n in range(len(consumers)):
                print((tmp_path / f"consumer-{n}.log").read_text()[-2000:])


def _sellers(shared, count, orders_each):
    from portal.passwords import hash_password
    from portal.shops.services import create_shop

    db, standin = shared["db"], shared["standin"]
    admin = User(company=Company(name="Acme"), email="admin@example.com", display_name="Admin", role="admin",
                 password_hash=hash_password("correct horse battery staple"))
    db.session.add(admin)
    db.session.commit()
    sellers = {}
    for n in range(count):
        seller, token = f"A2CONS{n:08d}", f"Atzr|two-consumers-{n:04d}-0123456789"
        standin.register(token, seller_id=seller, marketplaces=(US,), region="NA")
        shop = create_shop(admin, name=f"Shop {n}", region="NA", mode="single", marketplace_ids=[US],
                           seller_id=seller, token=token).shop
        db.session.commit()
        for i in range(orders_each):
            created = utcnow() - timedelta(hours=i + 1)
            standin.put_order(seller, make_order(f"113-{n:07d}-{i:07d}", created=created, last_updated=created))
        sellers[shop.authorization_id] = seller
    return sellers


def _wait(db, check, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.commit()
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def _ok_runs(db):
    db.session.commit()
    return db.session.execute(select(JobRun.authorization_id, func.count()).where(
        JobRun.name == "orders.sync", JobRun.status == SYNC_OK).group_by(JobRun.authorization_id)).all()


def _assert_within_budget(standin, sellers):
    """Per seller, any run of requests fits the token bucket: n requests in [t_i, t_j] <= burst + rate*(t_j - t_i)
    (plus a little for the request's own travel time)."""
    for seller in sellers.values():
        times = sorted(t for s, t in standin.stamps if s == seller)
        for i in range(len(times)):
            for j in range(i, len(times)):
                assert j - i + 1 <= BURST + RATE * (times[j] - times[i] + 0.1), (seller, times)


def test_two_consumers_sync_each_seller_once_per_cycle_within_its_rate_budget(shared):
    from portal import queue

    db, standin = shared["db"], shared["standin"]
    sellers = _sellers(shared, 10, orders_each=5)  # 3 pages each: the third waits for a token
    shared["start_consumer"]()
    shared["start_consumer"]()
    for cycle in (1, 2):
        started = utcnow()
        queue.sync_cycle()  # both consumers' schedulers enqueue the periodic job
        queue.sync_cycle()
        _wait(db, lambda: sorted(n for _a, n in _ok_runs(db)) == [cycle] * 10, timeout=60)
        time.sleep(1.0)  # nothing more comes: no second sync of anyone in this cycle
        assert sorted(n for _a, n in _ok_runs(db)) == [cycle] * 10
        states = db.session.scalars(select(OrdersSyncState)).all()
        assert all(s.status == SYNC_OK and s.last_success_at > started for s in states)
        if cycle == 1:  # the next period: Amazon has one updated and one new order per seller
            for n, seller in enumerate(sellers.values()):
                standin.update_order(seller, f"113-{n:07d}-0000000", last_updated=utcnow() - timedelta(minutes=4),
                                     status="SHIPPED")
                made = utcnow() - timedelta(minutes=4)
                standin.put_order(seller, make_order(f"113-{n:07d}-9999999", created=made, last_updated=made))
            for row in db.session.scalars(select(OrdersSyncState)):
                row.last_success_at -= timedelta(minutes=PERIOD_MINUTES + 1)
            db.session.execute(update(JobClaim).where(JobClaim.name == queue.CYCLE).values(slot=JobClaim.slot - 1))
            db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(JobRun).where(JobRun.name == queue.CYCLE)) == 2
    total = db.session.scalar(select(func.count(Order.id)))
    distinct = db.session.scalar(select(func.count(func.distinct(Order.amazon_order_id))))
    assert total == distinct == 60
    shipped = db.session.scalar(select(func.count()).select_from(Order).where(Order.amazon_status == "SHIPPED"))
    assert shipped == 10
    assert standin.refused == 0
    waited = db.session.scalar(select(func.count()).select_from(JobRun).where(JobRun.status == "waiting"))
    assert waited >= 10  # every backfill's third page waited for a token of its seller's bucket
    per_seller = {seller: sum(1 for s, _t in standin.stamps if s == seller) for seller in sellers.values()}
    assert set(per_seller.values()) == {4}, per_seller  # 3 pages of the backfill + 1 incremental, none repeated
    _assert_within_budget(standin, sellers)
    assert db.session.scalar(select(func.min(OrdersSyncState.bucket_level))) >= 0
    workers = db.session.scalar(select(func.count(func.distinct(JobRun.consumer))).where(JobRun.name == "orders.sync"))
    assert workers == 2  # both consumers took sync jobs


def test_a_consumer_killed_mid_sync_loses_nothing_and_the_next_run_completes(shared):
    from portal import queue

    db, standin = shared["db"], shared["standin"]
    standin.orders_burst, standin.orders_rate = 20, 20.0  # no waiting for tokens: the sync runs page after page
    fast = {"ORDERS_BURST": "20", "ORDERS_RATE_PER_SECOND": "20", "ORDERS_BUCKET_MARGIN_SECONDS": "0"}
    (authorization_id, seller), = _sellers(shared, 1, orders_each=10).items()  # 5 pages
    victim = shared["start_consumer"](**fast)
    standin.latency = 0.5
    queue.sync_authorization_task(authorization_id)

    def pages():
        row = db.session.get(OrdersSyncState, authorization_id, populate_existing=True)
        return row.run_pages if row is not None else 0

    _wait(db, lambda: pages() >= 2, timeout=30)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    row = db.session.get(OrdersSyncState, authorization_id, populate_existing=True)
    assert row.lease_owner and row.run_token and row.cursor_at is None and row.status == "running"
    token = row.run_token
    kept = db.session.scalar(select(func.count(Order.id)))
    assert 4 <= kept < 10
    killed_run = db.session.scalars(select(JobRun).where(JobRun.name == "orders.sync")).one()
    assert killed_run.status == "running" and killed_run.finished_at is None  # died with its consumer
    # Its lease outlives it (nobody syncs the seller meanwhile); here it has just ended.
    db.session.execute(update(OrdersSyncState).values(lease_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    standin.latency = 0
    standin.reset_counts()
    shared["start_consumer"](**fast)
    queue.sync_cycle()  # the next period: the seller is due (a run in progress, its lease ended)
    _wait(db, lambda: db.session.get(OrdersSyncState, authorization_id, populate_existing=True).status == SYNC_OK,
          timeout=30)
    ids = list(db.session.scalars(select(Order.amazon_order_id).order_by(Order.amazon_order_id)))
    assert ids == [f"113-0000000-{i:07d}" for i in range(10)]  # no gap, no duplicate
    assert standin.order_queries[0].get("paginationToken") == token  # resumed where the killed one stopped
    done = db.session.scalars(select(JobRun).where(JobRun.name == "orders.sync", JobRun.status == SYNC_OK)).one()
    assert done.summary.startswith(f"{(10 - kept + 1) // 2} pages, {10 - kept} new")
