"""Verify in a real browser (issue 4): the portal asks a stand-in Amazon (a real HTTP server, with
latency so the busy button can be seen) and swaps only the clicked shop's row."""
import pytest

from .conftest import seed_company, sign_in
from .helpers import SameDocument, outer_html, row_id

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect

US = "ATVPDKIKX0DER"
GOOD_TOKEN = "Atzr|IwEBIgood-browser-verify-token-0001"
REVOKED_TOKEN = "Atzr|IwEBIrevoked-browser-verify-token-0002"
LATENCY = 0.5  # per stand-in request; a check makes two (LWA token, then participations)


@pytest.fixture
def standin():
    from devtools.standin import StandinAmazon

    server = StandinAmazon(latency=LATENCY).start()
    yield server
    server.stop()


@pytest.fixture
def amazon_server(live_server_factory, standin):
    """A live portal configured against the stand-in (its Amazon HTTP client closed at teardown)."""
    live = live_server_factory(
        **standin.portal_settings())
    yield live
    client = live.app.extensions.get("portal_amazon_client")
    if client is not None:
        client.close()


def seed_shops(live_server, standin):
    """Two NA shops bound by the admin through the shop service; their tokens known to the stand-in."""
    from portal.extensions import db
    from portal.models import User
    from portal.shops.services import create_shop

    standin.register(GOOD_TOKEN, seller_id="A1GOODSELLER01", scenario="valid", marketplaces=[US],
                     store_name="Sunny Goods US", region="NA")
    standin.register(REVOKED_TOKEN, seller_id="A1REVOKEDSELL2", scenario="revoked", marketplaces=[US], region="NA")
    with live_server.app.app_context():
        admin = db.session.scalars(db.select(User).where(User.email == "ada@example.com")).one()
        good = create_shop(admin, name="Good shop", region="NA", mode="single", marketplace_ids=[US],
                           seller_id="A1GOODSELLER01", token=GOOD_TOKEN).shop
        revoked = create_shop(admin, name="Revoked shop", region="NA", mode="single", marketplace_ids=[US],
                              seller_id="A1REVOKEDSELL2", token=REVOKED_TOKEN).shop
        db.session.commit()
        ids = good.id, revoked.id
        db.session.remove()
    return ids


def test_verify_swaps_only_the_clicked_row(amazon_server, standin, page):
    live_server = amazon_server
    url = live_server.url
    seed_company(live_server)
    good_id, revoked_id = seed_shops(live_server, standin)

    sign_in(page, live_server, "ada@example.com")
    expect(page).to_have_url(url + "/shops")
    good_row, revoked_row = page.locator(f"#shop-{good_id}"), page.locator(f"#shop-{revoked_id}")
    expect(good_row).to_contain_text("Not verified")
    expect(revoked_row).to_contain_text("Not verified")
    assert row_id(good_row) == good_id
    standin.reset_counts()

    # Verify the good shop: the button is marked busy (app.js; Pico's spinner) while the stand-in
    # takes its time. (That it is also disabled: test_verify_button_is_disabled_while_checking.)
    same = SameDocument(page)
    revoked_before = outer_html(revoked_row)
    revoked_row.evaluate("row => { row.__untouched = 1; }")  # lost if the row element is replaced
    button = good_row.get_by_role("button", name="Verify")
    with page.expect_response(lambda r: r.url == f"{url}/shops/{good_id}/verify") as answered:
        button.click()
        expect(button).to_have_attribute("aria-busy", "true")
        assert not answered.is_done()  # seen busy while the request was still running
    response = answered.value
    assert response.status == 200 and response.request.header_value("HX-Request") == "true"

    expect(good_row.locator(".badge")).to_have_text("Verified")
    expect(good_row).to_contain_text("Amazon store: Sunny Goods US")
    new_button = good_row.get_by_role("button", name="Verify")
    expect(new_button).to_be_enabled()
    expect(new_button).not_to_have_attribute("aria-busy", "true")
    assert standin.counts["token"] == 1 and standin.counts["participations"] == 1
    # Only that row changed: the other one is the very same element, with the same HTML.
    assert revoked_row.evaluate("row => row.__untouched") == 1
    assert outer_html(revoked_row) == revoked_before
    expect(page.locator("table.shops tbody tr")).to_have_count(2)
    assert same.holds()

    # Verify the revoked shop: Amazon refuses the token; the row says so and what to do.
    good_before = outer_html(good_row)
    good_row.evaluate("row => { row.__untouched = 1; }")
    button = revoked_row.get_by_role("button", name="Verify")
    with page.expect_response(lambda r: r.url == f"{url}/shops/{revoked_id}/verify"):
        button.click()
        expect(button).to_have_attribute("aria-busy", "true")
    expect(revoked_row.locator(".badge")).to_have_text("Failed")
    message = revoked_row.locator(".check-message")
    expect(message).to_contain_text("Amazon refused this shop's authorization")
    expect(message.locator("strong")).to_contain_text("Re-authorize the shop in Seller Central")
    expect(revoked_row).not_to_contain_text("Amazon store:")
    assert good_row.evaluate("row => row.__untouched") == 1
    assert outer_html(good_row) == good_before
    assert same.holds()

    # The answers were saved: a fresh page shows both results.
    page.reload()
    expect(good_row.locator(".badge")).to_have_text("Verified")
    expect(revoked_row.locator(".badge")).to_have_text("Failed")
    expect(page.locator(".attention")).to_contain_text("1 failed its check")


def test_verify_button_is_disabled_while_checking(amazon_server, standin, page):
    """The Verify button carries hx-disabled-elt="this", but the request belongs to its <form>
    (hx-post is on the form), and htmx reads hx-disabled-elt from the requesting element and its
    ancestors only: the button must still be disabled while the check runs (no second click)."""
    live_server = amazon_server
    seed_company(live_server)
    good_id, revoked_id = seed_shops(live_server, standin)
    sign_in(page, live_server, "ada@example.com")
    # In the Shop list row, and on the shop's page (another seller, so the throttle does not answer at once).
    for path, shop_id, button_of in (
            ("/shops", good_id, lambda: page.locator(f"#shop-{good_id}").get_by_role("button", name="Verify")),
            (f"/shops/{revoked_id}", revoked_id, lambda: page.locator("dl.facts").get_by_role("button", name="Verify"))):
        page.goto(live_server.url + path)
        button = button_of()
        verify_url = f"{live_server.url}/shops/{shop_id}/verify"
        with page.expect_response(lambda r, verify_url=verify_url: r.url == verify_url) as answered:
            button.click()
            expect(button).to_have_attribute("aria-busy", "true")
            expect(button).to_be_disabled()
            assert not answered.is_done()
        expect(button_of()).to_be_enabled()
