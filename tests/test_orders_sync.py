"""Orders sync per seller authorization against the stand-in Amazon and the real database: backfill then
incremental runs, upserts, pagination resumes and restarts, failures, the shared token bucket and lease."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from devtools.standin import make_order
from portal import orders_sync as sync
from portal.amazon import client as amazon
from portal.amazon.orders import parse_time
from portal.extensions import db
from portal.models import (SYNC_ERROR, SYNC_OK, SYNC_STOPPED, SYNC_WAITING, Company, Order, OrdersSyncState,
                           SellerAuthorization, User, utcnow)
from portal.passwords import hash_password
from portal.shops.services import create_shop, replace_token
from tests.conftest import PASSWORD

US, CA = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"
SELLER = "A1SYNC00000001"
TOKEN = "Atzr|orders-sync-seller-0123456789"


@pytest.fixture
def sync_app(app_factory, standin):
    app = app_factory(**standin.portal_settings(), AMAZON_READ_TIMEOUT=2, AMAZON_MAX_TOTAL_TIME=5,
                      ORDERS_PAGE_SIZE=2, ORDERS_RETRY_BACKOFF_SECONDS=0.01, ORDERS_LEASE_SECONDS=600,
                      ORDERS_BUCKET_MARGIN_SECONDS=0)  # exact bucket arithmetic; the margin has its own test
    with app.app_context():
        yield app
        client = app.extensions.get("portal_orders_client")
        if client is not None:
            client.close()


@pytest.fixture
def admin(sync_app):
    user = User(company=Company(name="Acme"), email="admin@example.com", display_name="Admin", role="admin",
                password_hash=hash_password(PASSWORD))
    db.session.add(user)
    db.session.commit()
    return user


def bind(admin, standin, *, marketplaces=(US,), seller=SELLER, token=TOKEN, scenario="valid", name=None, **kwargs):
    standin.register(token, seller_id=seller, scenario=scenario, marketplaces=(US, CA), region="NA")
    result = create_shop(admin, name=name or f"Shop {seller} {marketplaces[0]}", region="NA",
                         mode="multi" if len(marketplaces) > 1 else "single", marketplace_ids=list(marketplaces),
                         seller_id=seller, token=token, **kwargs)
    db.session.commit()
    return result.shop


def put(standin, n, *, days=1, minutes=0, updated=None, seller=SELLER, **kwargs):
    created = utcnow() - timedelta(days=days, minutes=minutes)
    order = make_order(f"111-{n:07d}-0000000", created=created, last_updated=updated or created, **kwargs)
    standin.put_order(seller, order)
    return order


def stored():
    db.session.commit()
    return {o.amazon_order_id: o for o in db.session.scalars(select(Order).where(Order.source == "amazon"))}


def state(authorization_id):
    db.session.commit()
    return db.session.get(OrdersSyncState, authorization_id)


def test_first_run_backfills_then_increments_with_overlap(admin, standin):
    shop = bind(admin, standin)
    for n in range(5):
        put(standin, n, days=n + 1, status="SHIPPED", amount=f"{n + 10}.50", quantities=(n + 1,))
    put(standin, 99, days=40)  # older than the 30-day backfill
    result = sync.sync_authorization(shop.authorization_id)
    assert (result.status, result.complete, result.created, result.pages) == (SYNC_OK, True, 5, 3)
    backfill = list(standin.order_queries)
    assert all("createdAfter" in q and "lastUpdatedAfter" not in q for q in backfill)
    after = backfill[0]["createdAfter"]
    assert abs((utcnow() - timedelta(days=30)) - _parse(after)) < timedelta(minutes=1)
    orders = stored()
    assert sorted(orders) == [f"111-{n:07d}-0000000" for n in range(5)]
    first = orders["111-0000000-0000000"]
    assert (first.shop_id, first.company_id, first.source, first.order_number) == (
        shop.id, admin.company_id, "amazon", "111-0000000-0000000")
    assert (first.total, first.currency, first.status, first.amazon_status) == (Decimal("10.50"), "USD", "shipped",
                                                                                 "SHIPPED")
    assert (first.fulfillment_channel, first.item_count, first.marketplace_id) == ("MERCHANT", 1, US)
    assert first.ordered_at is not None and first.order_date == first.ordered_at.date()
    row = state(shop.authorization_id)
    assert row.status == SYNC_OK and row.run_token is None and row.orders_total == 5 and row.last_orders == 5
    assert row.cursor_at == _parse(backfill[0]["createdBefore"])
    cursor = row.cursor_at

    standin.reset_counts()
    standin.update_order(SELLER, "111-0000001-0000000", last_updated=utcnow() - timedelta(minutes=4),
                         status="CANCELLED", amount="0.00")
    put(standin, 7, days=0, minutes=4)
    result = sync.sync_authorization(shop.authorization_id)
    assert (result.status, result.created, result.updated) == (SYNC_OK, 1, 1)
    (query,) = standin.order_queries
    assert set(query) >= {"lastUpdatedAfter", "lastUpdatedBefore"} and "createdAfter" not in query
    assert _parse(query["lastUpdatedAfter"]) == cursor - timedelta(minutes=5)
    orders = stored()
    assert len(orders) == 6 and orders["111-0000001-0000000"].status == "cancelled"
    assert orders["111-0000001-0000000"].total == Decimal("0.00")


def test_a_rerun_creates_no_duplicates(admin, standin):
    shop = bind(admin, standin)
    for n in range(3):
        put(standin, n, minutes=n)
    assert sync.sync_authorization(shop.authorization_id).created == 3
    # Run the backfill again from scratch: the same orders come back.
    db.session.execute(update(OrdersSyncState).values(cursor_at=None))
    db.session.commit()
    again = sync.sync_authorization(shop.authorization_id)
    assert (again.status, again.created, again.updated, again.unchanged) == (SYNC_OK, 0, 0, 3)
    assert db.session.scalar(select(func.count(Order.id))) == 3


def test_a_newer_update_wins_and_an_older_one_never_overwrites(admin, standin):
    shop = bind(admin, standin)
    created = utcnow() - timedelta(days=2)
    newer = make_order("111-0000001-0000009", created=created, last_updated=created + timedelta(hours=5),
                       status="SHIPPED", amount="20.00")
    standin.put_order(SELLER, newer)
    sync.sync_authorization(shop.authorization_id)
    older = make_order("111-0000001-0000009", created=created, last_updated=created + timedelta(hours=1),
                       status="UNSHIPPED", amount="99.00")
    standin.put_order(SELLER, older)
    db.session.execute(update(OrdersSyncState).values(cursor_at=None))
    db.session.commit()
    result = sync.sync_authorization(shop.authorization_id)
    assert (result.updated, result.unchanged) == (0, 1)
    order = stored()["111-0000001-0000009"]
    assert (order.amazon_status, order.total) == ("SHIPPED", Decimal("20.00"))
    standin.update_order(SELLER, "111-0000001-0000009", last_updated=utcnow() - timedelta(minutes=4),
                         status="CANCELLED")
    assert sync.sync_authorization(shop.authorization_id).updated == 1
    assert stored()["111-0000001-0000009"].amazon_status == "CANCELLED"


def test_orders_land_in_the_shop_of_their_marketplace(admin, standin):
    us_shop = bind(admin, standin, marketplaces=(US,), name="US shop")
    ca_shop = bind(admin, standin, marketplaces=(CA,), name="CA shop")
    assert us_shop.authorization_id == ca_shop.authorization_id
    put(standin, 1, marketplace_id=US)
    put(standin, 2, marketplace_id=CA, currency="CAD", amount=None)
    result = sync.sync_authorization(us_shop.authorization_id)
    assert result.created == 2
    assert standin.order_queries[0]["marketplaceIds"] == ",".join(sorted([US, CA]))
    orders = stored()
    assert orders["111-0000001-0000000"].shop_id == us_shop.id
    pending = orders["111-0000002-0000000"]
    assert (pending.shop_id, pending.currency, pending.total) == (ca_shop.id, "CAD", Decimal("0.00"))


def test_an_interrupted_sync_resumes_after_page_two_with_no_gap_and_no_duplicate(admin, standin):
    shop = bind(admin, standin)
    for n in range(6):
        put(standin, n, minutes=n)
    first = sync.sync_authorization(shop.authorization_id, owner="worker-1", max_pages=2)
    assert (first.status, first.pages, first.created) == (sync.PARTIAL, 2, 4)
    row = state(shop.authorization_id)
    assert sync.describe_state(row) == ("Order sync in progress; it continues at the next run.", None)
    assert row.run_token and row.run_pages == 2 and row.cursor_at is None
    # As if worker-1 were killed holding the lease: nobody else gets in until the lease expires.
    db.session.execute(update(OrdersSyncState).values(lease_owner="worker-1", lease_until=utcnow() + timedelta(minutes=10)))
    db.session.commit()
    assert sync.sync_authorization(shop.authorization_id, owner="worker-2").status == sync.BUSY
    token = row.run_token
    later = utcnow() + timedelta(minutes=11)
    second = sync.sync_authorization(shop.authorization_id, now=later, owner="worker-2")
    assert (second.status, second.pages, second.created, second.unchanged) == (SYNC_OK, 1, 2, 0)
    resumed = standin.order_queries[-1]
    assert resumed["paginationToken"] == token
    assert {k: v for k, v in resumed.items() if k != "paginationToken"} == standin.order_queries[0]
    assert sorted(stored()) == [f"111-{n:07d}-0000000" for n in range(6)]
    assert db.session.scalar(select(func.count(Order.id))) == 6


def test_an_expired_pagination_token_restarts_from_the_cursor(admin, standin):
    shop = bind(admin, standin)
    for n in range(5):
        put(standin, n, minutes=n)
    sync.sync_authorization(shop.authorization_id, max_pages=1)
    standin.expire_pagination_tokens()
    standin.reset_counts()
    result = sync.sync_authorization(shop.authorization_id)
    assert result.status == SYNC_OK and result.complete
    rejected, restart, *_ = standin.order_queries
    assert "paginationToken" in rejected and "paginationToken" not in restart
    assert "createdAfter" in restart  # no cursor yet: the backfill starts again
    assert (result.created, result.unchanged) == (3, 2)
    assert db.session.scalar(select(func.count(Order.id))) == 5


@pytest.mark.parametrize("scenario, code", [("forbidden", amazon.FORBIDDEN), ("revoked", amazon.INVALID_GRANT)])
def test_a_failed_authorization_stops_its_syncs_until_reauthorized(admin, standin, scenario, code):
    shop = bind(admin, standin, scenario=scenario)
    put(standin, 1)
    result = sync.sync_authorization(shop.authorization_id)
    assert (result.status, result.error_code) == (SYNC_STOPPED, code)
    row = state(shop.authorization_id)
    assert row.status == SYNC_STOPPED and row.error_code == code and row.lease_owner is None
    text, reason = sync.describe_state(row)
    assert "stopped" in text and "Re-authorize" in reason
    assert sync.due_authorizations() == []
    calls = standin.counts["orders"]
    assert sync.sync_authorization(shop.authorization_id).status == SYNC_STOPPED
    assert standin.counts["orders"] == calls  # no call while stopped
    standin.register(TOKEN, seller_id=SELLER, scenario="valid", marketplaces=(US,), region="NA")
    replace_token(db.session.get(type(shop), shop.id), admin, TOKEN)
    db.session.commit()
    assert sync.due_authorizations() == [shop.authorization_id]
    assert sync.sync_authorization(shop.authorization_id).status == SYNC_OK
    assert len(stored()) == 1


def test_an_expired_authorization_stops_without_calling_amazon(admin, standin):
    shop = bind(admin, standin, authorized_at=utcnow() - timedelta(days=400))
    result = sync.sync_authorization(shop.authorization_id)
    assert (result.status, result.error_code) == (SYNC_STOPPED, sync.AUTHORIZATION_EXPIRED)
    assert standin.counts["orders"] == 0
    assert "expired" in sync.describe_state(state(shop.authorization_id))[1]


def test_a_503_is_retried_with_back_off(admin, standin):
    shop = bind(admin, standin)
    put(standin, 1)
    standin.fail_orders(SELLER, 503)
    result = sync.sync_authorization(shop.authorization_id)
    assert (result.status, result.requests, result.created) == (SYNC_OK, 2, 1)


def test_503_until_the_tries_run_out_keeps_the_run_for_later(admin, standin):
    shop = bind(admin, standin)
    for n in range(3):
        put(standin, n, minutes=n)
    sync.sync_authorization(shop.authorization_id, max_pages=1)
    token = state(shop.authorization_id).run_token
    standin.fail_orders(SELLER, 503, 503, 503)
    result = sync.sync_authorization(shop.authorization_id)
    assert (result.status, result.error_code, result.requests) == (SYNC_ERROR, amazon.UNAVAILABLE, 3)
    row = state(shop.authorization_id)
    assert row.run_token == token and row.retry_at > utcnow()
    assert sync.sync_authorization(shop.authorization_id).status == SYNC_WAITING
    later = sync.sync_authorization(shop.authorization_id, now=utcnow() + timedelta(minutes=6))
    assert later.status == SYNC_OK and standin.order_queries[-1]["paginationToken"] == token
    assert len(stored()) == 3


def test_a_429_waits_at_least_180_seconds(admin, standin):
    shop = bind(admin, standin)
    put(standin, 1)
    standin.fail_orders(SELLER, 429)
    result = sync.sync_authorization(shop.authorization_id)
    assert result.status == SYNC_WAITING and result.retry_after >= 180
    row = state(shop.authorization_id)
    assert row.retry_at >= utcnow() + timedelta(seconds=170) and row.bucket_level == 0
    calls = standin.counts["orders"]
    assert sync.sync_authorization(shop.authorization_id, now=utcnow() + timedelta(seconds=170)).status == SYNC_WAITING
    assert standin.counts["orders"] == calls
    assert sync.due_authorizations() == []
    assert sync.sync_authorization(shop.authorization_id, now=utcnow() + timedelta(seconds=181)).status == SYNC_OK


def test_an_empty_bucket_pauses_the_run(sync_app, admin, standin):
    sync_app.config.update(ORDERS_BURST=2, ORDERS_RATE_PER_SECOND=0.0056)
    shop = bind(admin, standin)
    for n in range(6):
        put(standin, n, minutes=n)
    result = sync.sync_authorization(shop.authorization_id)
    assert (result.status, result.pages) == (SYNC_WAITING, 2)
    assert 170 <= result.retry_after <= 180  # one token every 1/0.0056 s
    assert standin.counts["orders"] == 2


def test_a_run_may_wait_for_the_bucket_when_allowed(sync_app, admin, standin):
    sync_app.config.update(ORDERS_BURST=1, ORDERS_RATE_PER_SECOND=5.0, ORDERS_BUCKET_MAX_WAIT_SECONDS=5)
    shop = bind(admin, standin)
    for n in range(6):
        put(standin, n, minutes=n)
    started = time.monotonic()
    result = sync.sync_authorization(shop.authorization_id)
    assert (result.status, result.pages, result.created) == (SYNC_OK, 3, 6)
    assert time.monotonic() - started >= 0.35  # two refills of 0.2 s each


def test_the_bucket_is_never_overspent_by_two_threads(sync_app, admin, standin):
    sync_app.config.update(ORDERS_BURST=7, ORDERS_RATE_PER_SECOND=0.0001)
    shop = bind(admin, standin)
    authorization_id = shop.authorization_id
    sync.ensure_state(authorization_id, admin.company_id)
    db.session.commit()
    taken, barrier = [], threading.Barrier(2)

    def spend():
        with sync_app.app_context():
            barrier.wait()
            for _ in range(10):
                taken.append(sync.take_token(authorization_id) == 0.0)
            db.session.remove()

    threads = [threading.Thread(target=spend) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 20 and sum(taken) == 7
    assert state(authorization_id).bucket_level < 1


def test_a_token_is_spent_only_with_the_margin_to_spare(sync_app, admin, standin):
    """Requests sent at exactly the refill pace reach Amazon unevenly: a token is only spent when the
    bucket also holds ORDERS_BUCKET_MARGIN_SECONDS of refill beyond it."""
    sync_app.config.update(ORDERS_BURST=3, ORDERS_RATE_PER_SECOND=0.5, ORDERS_BUCKET_MARGIN_SECONDS=1.0)
    shop = bind(admin, standin)
    authorization_id = shop.authorization_id
    sync.ensure_state(authorization_id, admin.company_id)
    db.session.commit()
    start = state(authorization_id).bucket_at
    assert [sync.take_token(authorization_id, at=start) for _ in range(2)] == [0.0, 0.0]
    # One token (1.0) is left, but 1 + 0.5 × 1 s are needed: 1 s more of refill.
    assert sync.take_token(authorization_id, at=start) == pytest.approx(1.0)
    assert sync.take_token(authorization_id, at=start + 0.9) == pytest.approx(0.1)
    assert sync.take_token(authorization_id, at=start + 1.0) == 0.0
    # Drained to 0.5 at start + 1 s: the next needs 1.5, i.e. 2 s of refill, one refill interval plus the margin.
    assert sync.take_token(authorization_id, at=start + 2.9) > 0
    assert sync.take_token(authorization_id, at=start + 3.0) == 0.0
    # A margin larger than the bucket: a full bucket still serves (never a wait that cannot end).
    sync_app.config.update(ORDERS_BURST=2, ORDERS_RATE_PER_SECOND=2.0, ORDERS_BUCKET_MARGIN_SECONDS=1.0)
    assert sync.take_token(authorization_id, at=start + 100) == 0.0


def test_the_lease_is_exclusive(sync_app, admin, standin):
    shop = bind(admin, standin)
    authorization_id = shop.authorization_id
    sync.ensure_state(authorization_id, admin.company_id)
    db.session.commit()
    now = utcnow()
    assert sync.acquire_lease(authorization_id, "a", now)
    assert not sync.acquire_lease(authorization_id, "b", now)
    assert sync.acquire_lease(authorization_id, "a", now)  # renewing our own
    assert sync.acquire_lease(authorization_id, "b", now + timedelta(seconds=601))  # expired: taken over
    sync.release_lease(authorization_id, "a")  # not a's any more: nothing happens
    assert state(authorization_id).lease_owner == "b"
    sync.release_lease(authorization_id, "b")
    assert state(authorization_id).lease_owner is None


def test_two_consumers_never_sync_one_seller_at_once(sync_app, admin, standin):
    shop = bind(admin, standin)
    for n in range(4):
        put(standin, n, minutes=n)
    standin.latency = 0.3
    results, barrier = [], threading.Barrier(2)
    authorization_id = shop.authorization_id

    def consume(owner):
        with sync_app.app_context():
            barrier.wait()
            results.append(sync.sync_authorization(authorization_id, owner=owner).status)
            db.session.remove()

    threads = [threading.Thread(target=consume, args=(f"consumer-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == sorted([SYNC_OK, sync.BUSY])
    db.session.commit()  # end this session's read snapshot
    assert standin.counts["orders"] == 2 and db.session.scalar(select(func.count(Order.id))) == 4


def test_many_generated_orders_sync_completely(sync_app, admin, standin):
    sync_app.config.update(ORDERS_PAGE_SIZE=100)
    shop = bind(admin, standin)
    ids = standin.generate_orders(SELLER, 250, start=utcnow() - timedelta(days=3))
    result = sync.sync_authorization(shop.authorization_id)
    assert (result.status, result.pages, result.created) == (SYNC_OK, 3, 250)
    assert sorted(stored()) == sorted(ids)


def test_due_authorizations(admin, standin):
    shop = bind(admin, standin)
    assert sync.authorization_of_shop(shop.id) == shop.authorization_id and sync.authorization_of_shop(10**6) is None
    assert sync.authorizations_of_company(admin.company_id) == [shop.authorization_id]
    assert sync.authorizations_of_company(10**6) == []
    assert sync.due_authorizations() == [shop.authorization_id]
    sync.sync_authorization(shop.authorization_id)
    assert sync.due_authorizations() == []
    assert sync.due_authorizations(utcnow() + timedelta(minutes=16)) == [shop.authorization_id]
    assert sync.sync_states([shop.authorization_id])[shop.authorization_id].status == SYNC_OK
    assert sync.describe_state(None)[0] == "Orders not synced yet."
    assert sync.sync_authorization(10**6).status == sync.MISSING
    assert db.session.get(SellerAuthorization, shop.authorization_id) is not None


def _parse(value):
    return parse_time(value)


CONSUMER = """
import json, os, sys
sys.path.insert(0, os.getcwd())
from config import Config
from portal import create_app
from portal.orders_sync import sync_authorization
app = create_app(type("KilledConfig", (Config,), json.loads(os.environ["SYNC_TEST_CONFIG"])))
with app.app_context():
    sync_authorization(int(sys.argv[1]), owner="victim")
"""


def test_a_consumer_killed_mid_sync_loses_nothing(sync_app, admin, standin):
    shop = bind(admin, standin)
    for n in range(8):
        put(standin, n, minutes=n)
    standin.latency = 0.4
    keys = [k for k in sync_app.config if k.startswith(("AMAZON_", "ORDERS_", "SQLALCHEMY_"))]
    keys += ["SECRET_KEY", "TOKEN_ENC_KEYS", "INSTANCE_PATH", "TESTING", "PASSWORD_HASH_METHOD"]
    config = {k: sync_app.config[k] for k in keys if _jsonable(sync_app.config[k])}
    process = subprocess.Popen([sys.executable, "-c", CONSUMER, str(shop.authorization_id)],
                               env={**os.environ, "SYNC_TEST_CONFIG": json.dumps(config)})
    try:
        deadline = time.monotonic() + 60
        while (state(shop.authorization_id) is None or state(shop.authorization_id).run_pages < 2) \
                and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, "the consumer finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    row = state(shop.authorization_id)
    assert row.lease_owner == "victim" and row.run_token and row.cursor_at is None
    kept = len(stored())
    assert 4 <= kept < 8
    standin.latency = 0
    result = sync.sync_authorization(shop.authorization_id, now=utcnow() + timedelta(minutes=11))
    assert result.status == SYNC_OK and result.complete
    assert sorted(stored()) == [f"111-{n:07d}-0000000" for n in range(8)]
    assert db.session.scalar(select(func.count(Order.id))) == 8
    assert result.created == 8 - kept  # resumed at the stored token: nothing fetched twice is new
    assert state(shop.authorization_id).orders_total == 8


def _jsonable(value):
    try:
        json.dumps(value)
    except TypeError:
        return False
    return True
