"""The job queue on SqliteHuey with a real consumer (threads of this process, or `python -m portal.serve`),
the stand-in Amazon and the real database: sync jobs that continue themselves, the periodic cycle claimed
once, Sync now (queued, throttled, its fragment), the Jobs page's scope, /healthz and sync-orders."""
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from devtools.standin import make_order
from portal import queue
from portal.extensions import db
from portal.models import (SYNC_OK, SYNC_STOPPED, JobClaim, JobHeartbeat, JobRun, Order, OrdersSyncState, User,
                           utcnow)
from portal.passwords import hash_password
from portal.shops.services import create_shop
from tests.conftest import PASSWORD
from tests.consumers import consumer

US = "ATVPDKIKX0DER"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def jobs_app(app_factory, standin):
    app = app_factory(**standin.portal_settings(), AMAZON_READ_TIMEOUT=2, AMAZON_MAX_TOTAL_TIME=5,
                      ORDERS_PAGE_SIZE=2, ORDERS_RETRY_BACKOFF_SECONDS=0.01, JOBS_SYNC_NOW_SECONDS=60, PAGE_SIZE=3)
    assert queue.huey.storage.filename == os.path.join(app.instance_path, "jobs.db")  # SqliteHuey's file
    queue.huey.storage.flush_all()
    with app.app_context():
        yield app
        client = app.extensions.get("portal_orders_client")
        if client is not None:
            client.close()


@pytest.fixture
def admin(jobs_app):
    from portal.models import Company

    user = User(company=Company(name="Acme"), email="admin@example.com", display_name="Admin", role="admin",
                password_hash=hash_password(PASSWORD))
    db.session.add(user)
    db.session.commit()
    return user


def other_admin():
    """An admin of another company (Company B)."""
    from portal.models import Company

    user = User(company=Company(name="Company B"), email="admin-b@example.com", display_name="Admin B", role="admin",
                password_hash=hash_password(PASSWORD))
    db.session.add(user)
    db.session.commit()
    return user


def bind(admin, standin, n=1, *, orders=0, scenario="valid"):
    seller, token = f"A1JOBS{n:08d}", f"Atzr|jobs-seller-{n:04d}-0123456789"
    standin.register(token, seller_id=seller, scenario=scenario, marketplaces=(US,), region="NA")
    shop = create_shop(admin, name=f"Shop {n}", region="NA", mode="single", marketplace_ids=[US], seller_id=seller,
                       token=token).shop
    db.session.commit()
    for i in range(orders):
        created = utcnow() - timedelta(hours=i + 1)
        standin.put_order(seller, make_order(f"112-{n:07d}-{i:07d}", created=created, last_updated=created))
    return shop


def wait_for(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.commit()
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def runs(name=queue.SYNC, authorization_id=None):
    db.session.commit()
    query = select(JobRun).where(JobRun.name == name).order_by(JobRun.id)
    if authorization_id is not None:
        query = query.where(JobRun.authorization_id == authorization_id)
    return list(db.session.scalars(query))


def state(authorization_id):
    db.session.commit()
    return db.session.get(OrdersSyncState, authorization_id, populate_existing=True)


def status_of(authorization_id):
    row = state(authorization_id)
    return row.status if row is not None else None


def order_count():
    db.session.commit()
    return db.session.scalar(select(func.count(Order.id)))


# -- tasks on a real consumer ----------------------------------------------------------------------

def test_a_sync_job_continues_itself_until_the_run_is_complete(jobs_app, admin, standin):
    jobs_app.config["JOBS_SYNC_MAX_PAGES"] = 1
    shop = bind(admin, standin, orders=5)  # 3 pages of 2
    queue.sync_authorization_task(shop.authorization_id)
    assert queue.huey.pending_count() == 1
    with consumer():
        wait_for(lambda: len(runs()) == 3 and runs()[-1].finished_at is not None)
    assert [r.status for r in runs()] == ["partial", "partial", "ok"]
    assert order_count() == 5 and state(shop.authorization_id).status == SYNC_OK
    last = runs()[-1]
    assert last.target == f"{shop.seller_id} (NA)" and last.company_id == admin.company_id and last.duration_ms >= 0
    assert standin.counts["orders"] == 3


def test_a_job_that_meets_the_rate_limit_comes_back_after_retry_after(jobs_app, admin, standin):
    jobs_app.config.update(ORDERS_BURST=1, ORDERS_RATE_PER_SECOND=1.0)
    shop = bind(admin, standin, orders=3)  # 2 pages, one token at a time
    queue.sync_authorization_task(shop.authorization_id)
    with consumer():
        wait_for(lambda: status_of(shop.authorization_id) == SYNC_OK)
    statuses = [r.status for r in runs()]
    assert statuses[0] == "waiting" and statuses[-1] == "ok", statuses
    assert "continues in 1 s" in runs()[0].summary
    assert order_count() == 3


def test_the_periodic_cycle_runs_once_per_slot_and_each_seller_once(jobs_app, admin, standin):
    shops = [bind(admin, standin, n, orders=2) for n in range(1, 4)]
    # Two schedulers (consumers) enqueue the same periodic job in the same minute.
    queue.sync_cycle()
    queue.sync_cycle()
    with consumer(workers=2):
        wait_for(lambda: len([r for r in runs() if r.finished_at]) == 3)
        time.sleep(0.5)  # nothing more comes
    cycles = runs(queue.CYCLE)
    assert len(cycles) == 1 and cycles[0].summary == "3 authorizations queued"
    for shop in shops:
        assert [r.status for r in runs(authorization_id=shop.authorization_id)] == ["ok"]
    assert order_count() == 6
    assert queue.run_cycle() is None  # this slot is taken
    assert db.session.get(JobClaim, queue.CYCLE).slot > 0


def test_a_cycle_job_does_nothing_when_its_seller_was_synced_meanwhile(jobs_app, admin, standin):
    shop = bind(admin, standin, orders=1)
    queue.sync_authorization_task(shop.authorization_id, cycle=True)
    queue.sync_authorization_task(shop.authorization_id, cycle=True)
    with consumer():
        wait_for(lambda: queue.huey.pending_count() == 0 and runs() and runs()[0].finished_at)
        time.sleep(0.5)
    assert len(runs()) == 1 and standin.counts["orders"] == 1


def test_the_consumer_beats_from_its_periodic_task(jobs_app, admin):
    with consumer(periodic=True):
        beat = wait_for(lambda: db.session.scalar(select(JobHeartbeat)))
    assert (utcnow() - beat.beat_at) < timedelta(seconds=30)


def test_a_failing_job_is_recorded_with_a_redacted_error(jobs_app, admin, standin):
    with queue.recorded("orders.sync", target="x") as run:
        raise RuntimeError("token Atzr|secret-refresh-token-value leaked")
    (row,) = runs()
    assert row.status == "failed" and "RuntimeError" in row.error and "secret-refresh" not in row.error
    assert run.status == "failed"


def test_a_job_of_a_deleted_authorization_leaves_no_trace(jobs_app, admin):
    queue.sync_authorization_task(10**6)
    with consumer():
        wait_for(lambda: queue.huey.pending_count() == 0)
        time.sleep(0.3)
    assert runs() == []


def test_run_history_is_bounded(jobs_app, admin):
    for n in range(7):
        db.session.add(JobRun(name=queue.SYNC, status="ok", queued_at=utcnow()))
    db.session.commit()
    assert queue.prune_runs(keep=3) == 4
    db.session.commit()
    assert len(runs()) == 3


# -- Sync now and the status fragment --------------------------------------------------------------

@pytest.fixture
def member(admin):
    user = User(company=admin.company, email="member@example.com", display_name="Member", role="member",
                password_hash=hash_password(PASSWORD))
    db.session.add(user)
    db.session.commit()
    return user


def test_sync_now_is_queued_throttled_and_its_fragment_polls_until_done(jobs_app, admin, standin, login):
    shop = bind(admin, standin, orders=3)
    client = jobs_app.test_client()
    login(client, admin)
    hx = {"HX-Request": "true"}
    first = client.post(f"/shops/{shop.id}/sync", headers=hx)
    body = first.get_data(as_text=True)
    assert first.status_code == 200 and 'hx-trigger="every 2s"' in body and "Order sync queued." in body
    assert f'hx-get="/shops/{shop.id}/sync-status"' in body and "Sync job queued" in body
    again = client.post(f"/shops/{shop.id}/sync", headers=hx).get_data(as_text=True)
    assert "less than 60 seconds ago" in again and queue.huey.pending_count() == 1
    plain = client.post(f"/shops/{shop.id}/sync")
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"/shops/{shop.id}")
    with consumer():
        wait_for(lambda: runs() and runs()[0].finished_at)
    done = client.get(f"/shops/{shop.id}/sync-status", headers=hx).get_data(as_text=True)
    assert "every 2s" not in done and "Orders synced." in done and "3 orders in all" in done
    assert "Done" in done and "2 pages, 3 new" in done
    page = client.get(f"/shops/{shop.id}").get_data(as_text=True)
    assert 'id="sync-status"' in page and "Sync now" in page and "Next run" in page
    listing = client.get("/shops").get_data(as_text=True)
    assert "Orders synced." in listing and "3 orders" in listing


def test_sync_now_and_its_fragment_are_scoped_like_the_shop(jobs_app, admin, member, standin, login):
    shop = bind(admin, standin)
    client = jobs_app.test_client()
    assert client.get(f"/shops/{shop.id}/sync-status").status_code == 302  # sign in first
    login(client, member)
    assert client.post(f"/shops/{shop.id}/sync").status_code == 404  # not assigned
    assert client.get(f"/shops/{shop.id}/sync-status").status_code == 404
    assert queue.huey.pending_count() == 0
    client = jobs_app.test_client()
    login(client, other_admin())
    assert client.post(f"/shops/{shop.id}/sync", headers={"HX-Request": "true"}).status_code == 404
    assert client.post(f"/shops/{shop.id}/sync", csrf=False).status_code == 400


def test_a_revoked_shop_shows_its_sync_stopped_with_the_reason(jobs_app, admin, standin, login):
    shop = bind(admin, standin, scenario="revoked")
    queue.sync_authorization_task(shop.authorization_id)
    with consumer():
        wait_for(lambda: status_of(shop.authorization_id) == SYNC_STOPPED)
    client = jobs_app.test_client()
    login(client, admin)
    fragment = client.get(f"/shops/{shop.id}/sync-status").get_data(as_text=True)
    assert "Order sync stopped until the shop is re-authorized." in fragment
    assert "revoked or has expired" in fragment and "Not scheduled until the shop is re-authorized" in fragment
    assert "Order sync stopped" in client.get("/shops").get_data(as_text=True)


# -- the Jobs page ---------------------------------------------------------------------------------

def test_the_jobs_page_is_for_admins_and_shows_only_their_company(jobs_app, admin, member, standin, login):
    shop = bind(admin, standin, orders=1)
    queue.sync_authorization_task(shop.authorization_id)
    db.session.add_all([JobRun(name=queue.CYCLE, status="ok", queued_at=utcnow(), summary="1 authorizations queued"),
                        JobRun(name=queue.VERIFY_ALL, status="failed", queued_at=utcnow(), error="2 shops failed")])
    db.session.commit()
    with consumer():
        wait_for(lambda: runs() and runs()[0].finished_at)
    client = jobs_app.test_client()
    login(client, admin)
    page = client.get("/jobs").get_data(as_text=True)
    assert "Order sync" in page and shop.seller_id in page and "Done" in page
    assert "2 shops failed" in page and "Next runs" in page and "Daily verify of all shops" in page
    assert 'aria-current="page">Jobs' in page and "last heartbeat" not in page  # no consumer heartbeat stored
    queue.beat()
    assert "last heartbeat 0 seconds ago" in client.get("/jobs").get_data(as_text=True)
    for n in range(3):
        db.session.add(JobRun(name=queue.CYCLE, status="ok", queued_at=utcnow(), summary=f"older {n}"))
    db.session.commit()
    second = client.get("/jobs?page=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in second and "2 shops failed" in second  # page size 3, newest first
    member_client = jobs_app.test_client()
    login(member_client, member)
    assert member_client.get("/jobs").status_code == 403
    other_client = jobs_app.test_client()
    login(other_client, other_admin())
    other = other_client.get("/jobs").get_data(as_text=True) + other_client.get("/jobs?page=2").get_data(as_text=True)
    i = other.find(shop.seller_id)
    assert shop.seller_id not in other, other[i - 300:i + 100]
    assert "2 shops failed" in other


# -- /healthz --------------------------------------------------------------------------------------

def test_healthz_needs_a_fresh_consumer_heartbeat(jobs_app, admin):
    client = jobs_app.test_client()
    starting = client.get("/healthz")  # just started, no consumer heard of yet: not unhealthy yet
    assert starting.status_code == 200
    assert starting.get_json() == {"database": True, "queue": True, "consumer": False, "starting": True,
                                   "heartbeat_age_seconds": None}
    jobs_app.extensions["portal_started_at"] = utcnow() - timedelta(minutes=31)  # > 2 × 15 min, still nothing
    silent = client.get("/healthz")
    assert silent.status_code == 503 and silent.get_json()["starting"] is False
    queue.beat()
    fresh = client.get("/healthz")
    assert fresh.status_code == 200 and fresh.get_json()["consumer"] is True
    assert fresh.get_json()["heartbeat_age_seconds"] < 5 and fresh.headers["Cache-Control"] == "no-store"
    db.session.execute(update(JobHeartbeat).values(beat_at=utcnow() - timedelta(minutes=31)))
    db.session.commit()
    stale = client.get("/healthz")
    assert stale.status_code == 503 and stale.get_json()["consumer"] is False
    assert 1850 < stale.get_json()["heartbeat_age_seconds"] < 1900
    assert set(stale.get_json()) == {"database", "queue", "consumer", "starting", "heartbeat_age_seconds"}
    assert all(isinstance(v, bool) for k, v in stale.get_json().items() if k != "heartbeat_age_seconds")
    db.session.execute(update(JobHeartbeat).values(beat_at=utcnow() - timedelta(minutes=29)))
    db.session.commit()
    assert client.get("/healthz").status_code == 200


# -- sync-orders -----------------------------------------------------------------------------------

def test_sync_orders_command_exit_codes(jobs_app, admin, standin):
    good = bind(admin, standin, 1, orders=3)
    runner = jobs_app.test_cli_runner()
    result = runner.invoke(args=["sync-orders", "--shop", str(good.id)])
    assert result.exit_code == 0, result.output
    assert f"{good.seller_id} (NA): ok, 2 pages, 3 new" in result.output and "1 sellers, 1 synced, 0 not" in result.output
    assert runner.invoke(args=["sync-orders", "--shop", "999999"]).exit_code == 2
    assert runner.invoke(args=["sync-orders", "--shop", "1", "--company", "1"]).exit_code == 2
    assert runner.invoke(args=["sync-orders", "--company", "999999"]).exit_code == 2
    bad = bind(admin, standin, 2, scenario="revoked")
    result = runner.invoke(args=["sync-orders", "--company", str(admin.company_id)])
    assert result.exit_code == 1, result.output
    assert f"{bad.seller_id} (NA): stopped" in result.output and "2 sellers, 1 synced, 1 not" in result.output
    assert [r.status for r in runs()][-2:] == ["ok", "stopped"]  # the command's runs are on the Jobs page too


def test_sync_orders_waits_for_the_rate_limit(jobs_app, admin, standin):
    jobs_app.config.update(ORDERS_BURST=1, ORDERS_RATE_PER_SECOND=2.0)
    shop = bind(admin, standin, orders=5)
    result = jobs_app.test_cli_runner().invoke(args=["sync-orders", "--shop", str(shop.id)])
    assert result.exit_code == 0, result.output
    assert "waiting 1 s for Amazon's rate limit" in result.output and "ok, 3 pages, 5 new" in result.output
    jobs_app.config.update(ORDERS_RATE_PER_SECOND=0.0056)
    db.session.execute(update(OrdersSyncState).values(cursor_at=None, bucket_level=0.0, bucket_at=time.time()))
    db.session.commit()
    result = jobs_app.test_cli_runner().invoke(args=["sync-orders", "--shop", str(shop.id), "--max-wait", "5"])
    assert result.exit_code == 1 and "waiting" in result.output


# -- make run: the portal and one consumer in one command --------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(child) for child in found]


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its parent."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_serve_starts_the_portal_and_a_consumer_and_ctrl_c_stops_both(tmp_path, stop):
    port = _free_port()
    env = {**os.environ, "INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": "",
           "REDIS_URL": "", "PORTAL_ENV": "development", "LOG_LEVEL": "WARNING"}
    env.pop("TEST_DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    log = open(tmp_path / "serve.log", "w")
    serve = subprocess.Popen([sys.executable, "-m", "portal.serve", "--port", str(port), "--workers", "2",
                              "--threads", "2"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if answer.status_code == 200 and answer.json()["consumer"]:  # the consumer has beaten
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert answer is not None and answer.status_code == 200, answer and answer.text
        assert answer.json()["consumer"] and answer.json()["queue"] and answer.json()["database"]
        assert (tmp_path / "instance" / "jobs.db").exists()  # SqliteHuey in the instance folder, no Redis
        with sqlite3.connect(tmp_path / "instance" / "portal.db") as conn:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # the periodic heartbeat moved beat_at past the start-up beat
                started, beaten = conn.execute("SELECT started_at, beat_at FROM job_heartbeat").fetchone()
                if beaten > started:
                    break
                time.sleep(0.2)
            assert beaten > started
        children = _children(serve.pid)
        assert len(children) == 2
        workers = [pid for child in children for pid in _children(child)]
        assert len(workers) >= 2  # gunicorn's two workers (and the consumer's own, if any)
        if stop == "ctrl-c":
            os.killpg(serve.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole foreground process group
        else:
            serve.send_signal(signal.SIGTERM)  # a service manager stopping the launcher alone
        serve.wait(30)
        assert serve.returncode == 0
        for pid in children + workers:  # nothing left behind, gunicorn's workers included
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _alive(pid), pid
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()
        log.close()
        print((tmp_path / "serve.log").read_text()[-3000:])


def test_the_daily_verify_checks_every_shop_once_a_day(jobs_app, admin, standin):
    good = bind(admin, standin, 1)
    bind(admin, standin, 2, scenario="revoked")
    assert queue.run_verify_all() == 2
    (run,) = runs(queue.VERIFY_ALL)
    assert run.status == "failed" and run.summary == "2 shops checked, 1 failed" and run.error == "1 shops failed their check"
    db.session.refresh(good)
    assert good.check_status == "verified"
    assert queue.run_verify_all() is None  # the other consumers' enqueue of the same day does nothing
    assert len(runs(queue.VERIFY_ALL)) == 1
    names = [name for name, _when in queue.next_runs()]
    assert sorted(names) == sorted([queue.HEARTBEAT, queue.CYCLE, queue.VERIFY_ALL, queue.ALERT_SCAN, queue.ALERT_DIGEST])
