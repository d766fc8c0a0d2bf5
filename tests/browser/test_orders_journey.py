"""The Orders page in a real browser (issue 14): a verified shop's orders, pulled from the stand-in
Amazon by the sync, appear next to the orders typed in for another platform; filters swap the results
in place; a member sees only the orders of the shops and stores assigned to them."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from .conftest import seed_company, sign_in
from .helpers import SameDocument, follow, main_nav

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect

US = "ATVPDKIKX0DER"
MEI_TOKEN, OTHER_TOKEN = "Atzr|orders-journey-mei-0123456789", "Atzr|orders-journey-other-0123456789"


@pytest.fixture
def standin():
    from devtools.standin import StandinAmazon

    server = StandinAmazon().start()
    yield server
    server.stop()


@pytest.fixture
def amazon_server(live_server_factory, standin):
    live = live_server_factory(**standin.portal_settings())
    yield live
    for name in ("portal_amazon_client", "portal_orders_client"):
        client = live.app.extensions.get(name)
        if client is not None:
            client.close()


def seed(live, standin):
    """Two Amazon shops (Mei is assigned to "Mei Shop"), each with orders at the stand-in, and an eBay
    store assigned to Mei with one order typed in."""
    from devtools.standin import make_order
    from portal.extensions import db
    from portal.models import ShopAssignment, User, utcnow
    from portal.other_stores.services import save_order, save_store
    from portal.shops.services import create_shop

    standin.register(MEI_TOKEN, seller_id="A1ORDERSMEI001", scenario="valid", marketplaces=[US], region="NA")
    standin.register(OTHER_TOKEN, seller_id="A1ORDERSOTHR02", scenario="valid", marketplaces=[US], region="NA")
    created = utcnow() - timedelta(days=2)
    standin.put_order("A1ORDERSMEI001", make_order("111-1000001-0000001", created=created, status="SHIPPED",
                                                   amount="42.50"))
    standin.put_order("A1ORDERSMEI001", make_order("111-1000001-0000002", created=created, status="CANCELLED",
                                                   amount="9.00"))
    standin.put_order("A1ORDERSOTHR02", make_order("111-2000002-0000001", created=created, status="UNSHIPPED",
                                                   amount="77.00"))
    with live.app.app_context():
        admin = db.session.scalars(db.select(User).where(User.email == "ada@example.com")).one()
        mei = db.session.scalars(db.select(User).where(User.email == "mei@example.com")).one()
        mine = create_shop(admin, name="Mei Shop", region="NA", mode="single", marketplace_ids=[US],
                           seller_id="A1ORDERSMEI001", token=MEI_TOKEN).shop
        other = create_shop(admin, name="Other Shop", region="NA", mode="single", marketplace_ids=[US],
                            seller_id="A1ORDERSOTHR02", token=OTHER_TOKEN).shop
        mine.assignments.append(ShopAssignment(user_id=mei.id))
        store = save_store(mei, None, platform="ebay", platform_other=None, name="Mei eBay", countries=["DE"],
                           url=None, login_name=None, notes=None)  # a member's new store is assigned to her
        save_order(mei, store, None, order_number="EB-5001", order_date=date(2026, 11, 20), status="paid",
                   currency="EUR", total=Decimal("15.00"), buyer_name="Hans", notes=None)
        db.session.commit()
        ids = mine.id, other.id, mine.authorization_id, other.authorization_id
        db.session.remove()
    return ids


def pull(live, *authorization_ids):
    """What the job queue does on schedule: one sync of each seller authorization, in the server's process."""
    from portal import orders_sync
    from portal.extensions import db

    with live.app.app_context():
        for authorization_id in authorization_ids:
            assert orders_sync.sync_authorization(authorization_id).ok
        db.session.remove()


def test_synced_orders_appear_and_members_see_only_theirs(amazon_server, standin, new_page):
    live, url = amazon_server, amazon_server.url
    seed_company(live, members=[("Mei Member", "mei@example.com")])
    mine_id, other_id, *authorizations = seed(live, standin)

    # The admin verifies the shop, then its orders are pulled.
    admin = new_page()
    sign_in(admin, live, "ada@example.com")
    expect(admin).to_have_url(url + "/shops")
    row = admin.locator(f"#shop-{mine_id}")
    row.get_by_role("button", name="Verify").click()
    expect(admin.locator(f"#shop-{mine_id} .badge")).to_have_text("Verified")
    follow(admin, main_nav(admin).get_by_role("link", name="Orders"))
    expect(admin).to_have_url(url + "/orders")
    expect(admin.get_by_role("heading", name="No orders yet")).to_be_hidden()  # the eBay order is there
    expect(admin.locator("#results")).not_to_contain_text("111-1000001-0000001")

    pull(live, *authorizations)
    admin.reload()
    results = admin.locator("#results")
    for number in ("111-1000001-0000001", "111-1000001-0000002", "111-2000002-0000001", "EB-5001"):
        expect(results).to_contain_text(number)
    expect(results).to_contain_text("42.50 USD")
    expect(results.locator(".totals")).to_contain_text("119.50 USD · 2 orders (1 refunded/cancelled: 9.00 USD, "
                                                       "not counted)")
    amazon_row = results.locator("tr", has_text="111-1000001-0000001")
    expect(amazon_row).to_contain_text("Read-only")
    expect(amazon_row.get_by_role("link", name="Mei Shop")).to_have_attribute("href", f"/shops/{mine_id}")
    expect(results.locator("tr", has_text="EB-5001").get_by_role("link", name="Edit on the shop's page")).to_be_visible()

    # Filters swap the results in place.
    SameDocument(admin)
    admin.get_by_label("Shop").select_option(label="Other Shop")
    expect(results).not_to_contain_text("111-1000001-0000001")
    expect(results).to_contain_text("111-2000002-0000001")
    assert f"shop=shop-{other_id}" in admin.url
    admin.get_by_label("Shop").select_option("")
    admin.get_by_label("Source").select_option("manual")
    expect(results).not_to_contain_text("111-2000002-0000001")
    expect(results).to_contain_text("EB-5001")
    admin.get_by_label("Source").select_option("")
    admin.get_by_label("Status").select_option("cancelled")
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results).to_contain_text("111-1000001-0000002")
    admin.get_by_label("Status").select_option("")
    admin.get_by_role("searchbox").fill("2000002")
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results).to_contain_text("111-2000002-0000001")
    # hx-push-url changes the address (a same-document navigation); the document itself stays.
    assert admin.evaluate("window.__sameDocument") == 1

    # Mei sees the orders of her shop and her store, nothing of the other shop.
    mei = new_page()
    sign_in(mei, live, "mei@example.com")
    follow(mei, main_nav(mei).get_by_role("link", name="Orders"))
    expect(mei).to_have_url(url + "/orders")
    mine_results = mei.locator("#results")
    expect(mine_results).to_contain_text("111-1000001-0000001")
    expect(mine_results).to_contain_text("EB-5001")
    expect(mine_results.locator("tbody tr")).to_have_count(3)
    assert "111-2000002-0000001" not in mei.content() and "Other Shop" not in mei.content()
    mei.get_by_label("Country").select_option("DE")
    expect(mine_results.locator("tbody tr")).to_have_count(1)
    expect(mine_results).to_contain_text("EB-5001")
    mei.goto(url + f"/orders?shop=shop-{other_id}")  # another shop's id in the URL is ignored
    expect(mine_results.locator("tbody tr")).to_have_count(3)
    assert "Other Shop" not in mei.content()
