"""Sync now in a real browser: the shop's page queues the sync, the status polls itself every 2 s and shows
the result of the job (run by a real huey consumer) without a page load; a revoked seller shows its sync
stopped with the reason."""
from datetime import timedelta

import pytest

from tests.consumers import consumer

from .conftest import seed_company, sign_in
from .helpers import SameDocument

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect

US = "ATVPDKIKX0DER"


@pytest.fixture
def standin():
    from devtools.standin import StandinAmazon

    server = StandinAmazon().start()
    yield server
    server.stop()


@pytest.fixture
def server(live_server_factory, standin):
    from portal import queue

    live = live_server_factory(**standin.portal_settings(), ORDERS_PAGE_SIZE=2)
    queue.huey.storage.flush_all()
    yield live
    for name in ("portal_amazon_client", "portal_orders_client"):
        client = live.app.extensions.get(name)
        if client is not None:
            client.close()


def _shop(live, standin, n, scenario="valid", orders=0):
    from devtools.standin import make_order
    from portal.extensions import db
    from portal.models import User, utcnow
    from portal.shops.services import create_shop

    seller, token = f"A1BROWSYNC{n:04d}", f"Atzr|browser-sync-{n:04d}-0123456789"
    standin.register(token, seller_id=seller, scenario=scenario, marketplaces=[US], region="NA")
    for i in range(orders):
        created = utcnow() - timedelta(hours=i + 1)
        standin.put_order(seller, make_order(f"114-{n:07d}-{i:07d}", created=created, last_updated=created))
    with live.app.app_context():
        admin = db.session.scalars(db.select(User).where(User.email == "ada@example.com")).one()
        shop = create_shop(admin, name=f"Sync shop {n}", region="NA", mode="single", marketplace_ids=[US],
                           seller_id=seller, token=token).shop
        db.session.commit()
        shop_id = shop.id
        db.session.remove()
    return shop_id


def test_sync_now_shows_the_result_inline_when_the_job_has_finished(server, standin, page):
    seed_company(server)
    good = _shop(server, standin, 1, orders=3)
    revoked = _shop(server, standin, 2, scenario="revoked")
    sign_in(page, server, "ada@example.com")
    page.goto(f"{server.url}/shops/{good}")
    page.get_by_role("button", name="Verify", exact=True).click()  # a verified shop, as a seller has it
    expect(page.locator("#status-panel")).to_contain_text("Verified")
    status = page.locator("#sync-status")
    expect(status).to_contain_text("Orders not synced yet.")
    same = SameDocument(page)
    status.get_by_role("button", name="Sync now").click()
    expect(status).to_contain_text("Order sync queued.")
    expect(status).to_contain_text("Sync job queued")
    with consumer():  # the job runs only now: the page went on polling meanwhile
        expect(status).to_contain_text("Orders synced.", timeout=15_000)
        expect(status).to_contain_text("3 orders in all")
        expect(status).to_contain_text("Done")
        assert same.holds()
        page.goto(f"{server.url}/shops/{revoked}")
        page.locator("#sync-status").get_by_role("button", name="Sync now").click()
        expect(page.locator("#sync-status")).to_contain_text("Order sync stopped until the shop is re-authorized.",
                                                             timeout=15_000)
        expect(page.locator("#sync-status")).to_contain_text("revoked or has expired")
    page.goto(f"{server.url}/shops")
    expect(page.locator(f"#shop-{good} .sync-line")).to_contain_text("Orders synced.")
    expect(page.locator(f"#shop-{revoked} .sync-line")).to_contain_text("Order sync stopped")
    page.goto(f"{server.url}/jobs")
    expect(page.locator("#results")).to_contain_text("A1BROWSYNC0001 (NA)")
    # The pulled orders are on the Orders page, read-only, with their shop.
    page.goto(f"{server.url}/orders")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(3)
    for i in range(3):
        expect(page.locator("#results")).to_contain_text(f"114-0000001-{i:07d}")
    expect(rows.first).to_contain_text("Sync shop 1")
    expect(rows.first).to_contain_text("Read-only")
