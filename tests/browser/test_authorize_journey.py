"""Authorize with Amazon in a real browser (issue 10): the admin binds a multi-country EU shop through
the stand-in's Seller Central consent page — the Seller ID and countries come from Amazon and the shop
shows Verified; re-authorizing while signed in to another seller account is refused with both IDs; a
replayed state, an expired state, an expired code and a cancelled consent each get their message."""
import re
from datetime import timedelta

import pytest

from .conftest import seed_company, sign_in
from .helpers import dialog

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect

DE, FR, IT = "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4"
SELLER, OTHER = "A2EUBROWSER001", "A3OTHERBROWSE2"


@pytest.fixture
def standin():
    from devtools.standin import StandinAmazon

    server = StandinAmazon().start()
    server.register("Atzr|browser-eu-seller-0123456789", seller_id=SELLER, marketplaces=[DE, FR, IT], region="EU",
                    store_name="Browser EU Store")
    server.register("Atzr|browser-other-seller-0123456789", seller_id=OTHER, marketplaces=[DE], region="EU")
    server.consent_seller_id = SELLER
    yield server
    server.stop()


@pytest.fixture
def portal(live_server_factory, standin):
    live = live_server_factory(
        **standin.portal_settings(),
        AMAZON_APP_ID=standin.app_id, AMAZON_SELLER_CENTRAL_URL=standin.url, AMAZON_MAX_TRIES=1)
    standin.redirect_uris = frozenset({live.url + "/amazon/callback"})
    seed_company(live)
    yield live
    client = live.app.extensions.get("portal_amazon_client")
    if client is not None:
        client.close()


def on_seller_central(page, standin):
    expect(page).to_have_url(re.compile("^" + re.escape(standin.url + "/apps/authorize/consent?")))


def start_new_shop(page, portal, standin, name="EU via Amazon"):
    page.goto(portal.url + "/shops")
    page.get_by_role("button", name="New shop").click()
    box = dialog(page)
    expect(box.get_by_role("heading", name="New Amazon shop")).to_be_visible()
    box.get_by_label("Shop name").fill(name)
    with page.expect_response(lambda r: "/shops/form-fields?" in r.url and "region=EU" in r.url):
        box.get_by_role("combobox", name="Region", exact=True).select_option("EU")
    box.get_by_role("combobox", name="Country", exact=True).select_option(label="Germany (DE)")
    box.get_by_role("button", name="Authorize with Amazon").click()
    on_seller_central(page, standin)
    return box


def result(page):
    return page.locator("#amazon-result")


def test_authorize_with_amazon_journey(portal, standin, new_page):
    page = new_page()
    sign_in(page, portal, "ada@example.com")
    callbacks = []
    page.on("request", lambda r: callbacks.append(r.url) if "/amazon/callback?" in r.url else None)

    # 1. A multi-country EU shop: Seller ID and countries come from Amazon; the shop is Verified.
    start_new_shop(page, portal, standin)
    expect(page.locator("#seller")).to_have_text(SELLER)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(re.escape(portal.url + "/amazon/finish?attempt=")))
    expect(page.get_by_text(f"Amazon confirmed Seller ID {SELLER} in EU.")).to_be_visible()
    expect(page.get_by_label("Shop name")).to_have_value("EU via Amazon")
    expect(page.get_by_label("Multi country")).to_be_checked()
    countries = page.locator("fieldset.marketplace-list")
    for label in ("Germany (DE)", "France (FR)", "Italy (IT)"):
        expect(countries.get_by_label(label)).to_be_checked()
    expect(countries.get_by_label("Spain (ES)")).to_have_count(0)  # the seller does not sell there
    expect(page.get_by_label("Seller ID")).to_have_count(0)  # never typed
    countries.get_by_label("Italy (IT)").uncheck()
    page.get_by_role("button", name="Add shop").click()
    expect(page).to_have_url(re.compile(re.escape(portal.url) + r"/shops/\d+$"))
    expect(page.locator("main")).to_contain_text(SELLER)
    expect(page.locator("#status-panel")).to_contain_text("Verified")
    shop_url = page.url

    # 2. A replayed callback (the same state again): refused, nothing exchanged.
    assert len(callbacks) == 1
    tokens = standin.counts["token"]
    page.goto(callbacks[0])
    expect(result(page)).to_contain_text("already used")
    expect(page.get_by_role("button", name="Start again")).to_be_visible()
    assert standin.counts["token"] == tokens

    # 3. Re-authorizing while signed in to another seller account: refused, both IDs shown.
    page.goto(shop_url)
    page.get_by_role("button", name="Re-authorize").click()
    dialog(page).get_by_role("button", name="Authorize with Amazon").click()
    on_seller_central(page, standin)
    page.get_by_label("Sign in as another seller account").select_option(OTHER)
    page.get_by_role("button", name="Switch account").click()
    expect(page.locator("#seller")).to_have_text(OTHER)
    page.get_by_role("button", name="Confirm").click()
    expect(result(page)).to_contain_text("another account")
    expect(result(page)).to_contain_text(OTHER)
    expect(result(page)).to_contain_text(SELLER)
    expect(result(page)).to_contain_text("The old authorization is kept")

    # 4. An approval so slow that Amazon's code expired (5 minutes).
    start_new_shop(page, portal, standin, name="Slow one")
    page.get_by_label("Approve slowly (the code expires)").check()
    page.get_by_role("button", name="Confirm").click()
    expect(result(page)).to_contain_text("expired (it is valid for 5 minutes)")

    # 5. A state older than ten minutes.
    start_new_shop(page, portal, standin, name="Late one")
    expire_latest_state(portal)
    page.get_by_role("button", name="Confirm").click()
    expect(result(page)).to_contain_text("has expired")

    # 6. A cancelled consent: Amazon does not come back; the dialog says so when the user returns.
    start_new_shop(page, portal, standin, name="Cancelled one")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#cancelled")).to_be_visible()
    page.goto(portal.url + "/shops")
    page.get_by_role("button", name="New shop").click()
    expect(dialog(page).locator("#amazon-unfinished")).to_contain_text("cancelled or not finished; start again")


def expire_latest_state(portal):
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import AmazonAuthState, utcnow

    with portal.app.app_context():
        row = db.session.scalar(select(AmazonAuthState).order_by(AmazonAuthState.id.desc()))
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        db.session.remove()
