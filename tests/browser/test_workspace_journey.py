"""The Shop list as a workspace, in a real browser against a stand-in Amazon (issue 13): on page 2 of a
filtered list the admin adds a shop (its row appears first, highlighted, no page load), verifies it
inline (focus stays on that row's button, the outcome is announced), verifies a revoked shop (the
attention banner follows, the row offers Re-authorize), and verifies three ticked rows at once."""
import pytest

from .conftest import seed_company, sign_in
from .helpers import SameDocument, dialog, flash, outer_html, row_id

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect

US = "ATVPDKIKX0DER"
DE = "A1PA6795UKMFR9"
AUTHORIZED = "I have authorized the third-party application in Seller Central"
ADDED_SELLER, ADDED_TOKEN = "A1ADDEDSELLER1", "Atzr|IwEBIadded-workspace-token-0001"
PAGE_SIZE = 5


@pytest.fixture
def standin():
    from devtools.standin import StandinAmazon

    server = StandinAmazon(latency=0.2).start()
    yield server
    server.stop()


@pytest.fixture
def amazon_server(live_server_factory, standin):
    live = live_server_factory(PAGE_SIZE=PAGE_SIZE, **standin.portal_settings())
    yield live
    client = live.app.extensions.get("portal_amazon_client")
    if client is not None:
        client.close()


def seed_shops(live_server, standin):
    """NA shop 01..09 (06 revoked, the others valid) and two EU shops, each its own seller; with the
    NA filter and 5 rows a page, page 2 shows NA shop 06..09."""
    from portal.extensions import db
    from portal.models import User
    from portal.shops.services import create_shop

    shops = [(f"NA shop {n:02d}", f"A1NASELLER{n:04d}", "NA", US, "revoked" if n == 6 else "valid")
             for n in range(1, 10)]
    shops += [(f"EU shop {n}", f"A1EUSELLER{n:04d}", "EU", DE, "valid") for n in (1, 2)]
    standin.register(ADDED_TOKEN, seller_id=ADDED_SELLER, scenario="valid", marketplaces=[US], region="NA",
                     store_name="Added Store")
    with live_server.app.app_context():
        admin = db.session.scalars(db.select(User).where(User.email == "ada@example.com")).one()
        for name, seller, region, marketplace, scenario in shops:
            token = f"Atzr|IwEBIworkspace-{seller}-token"
            standin.register(token, seller_id=seller, scenario=scenario, marketplaces=[marketplace], region=region)
            create_shop(admin, name=name, region=region, mode="single", marketplace_ids=[marketplace],
                        seller_id=seller, token=token)
        db.session.commit()
        db.session.remove()


def focused_row_id(page):
    """The id of the table row holding the focused element ("" when focus is elsewhere)."""
    return page.evaluate("(document.activeElement && document.activeElement.closest('tr[id]') || {}).id || ''")


def test_shop_list_as_a_workspace(amazon_server, standin, new_page):
    live_server, url = amazon_server, amazon_server.url
    seed_company(live_server)
    seed_shops(live_server, standin)
    page = new_page(viewport={"width": 1280, "height": 420})
    sign_in(page, live_server, "ada@example.com")
    page.goto(url + "/shops?region=NA")
    rows = page.locator("#results table.shops tbody tr")
    expect(rows).to_have_count(PAGE_SIZE)
    banner = page.locator("#attention")
    expect(banner).to_have_text("")

    # Paging: the view goes to the top of page 2 and focus onto its heading.
    results_top = "document.getElementById('results').getBoundingClientRect().top"
    page.get_by_role("link", name="Next").scroll_into_view_if_needed()
    page.mouse.wheel(0, 2000)
    page.wait_for_timeout(300)
    assert page.evaluate(results_top) < 0  # scrolled down to the pager, the top of the results out of view
    page.get_by_role("link", name="Next").click()
    expect(page).to_have_url(url + "/shops?page=2&region=NA")
    expect(rows.first).to_contain_text("NA shop 06")
    heading = page.locator(".results-heading")
    expect(heading).to_have_text("Shops: page 2 of 2")
    expect(page.locator(":focus")).to_have_class("visually-hidden results-heading")
    top = page.evaluate(results_top)
    assert 0 <= top < 200, top  # at the top (below the sticky header), as far as the page's height allows
    expect(rows).to_have_count(4)

    # New shop from page 2 of the filtered list: no page load, its row first and highlighted.
    same = SameDocument(page)
    page.get_by_role("button", name="New shop").click()
    box = dialog(page)
    expect(box.get_by_label("Shop name")).to_be_focused()
    box.get_by_label("Shop name").fill("Added shop")
    box.get_by_role("combobox", name="Country", exact=True).select_option(label="United States (US)")
    box.get_by_label("Seller ID").fill(ADDED_SELLER)
    box.get_by_label("Authorization token (refresh token)").fill(ADDED_TOKEN)
    box.get_by_label(AUTHORIZED).check()
    with page.expect_response(lambda r: r.url == url + "/shops/new" and r.request.method == "POST") as posted:
        box.get_by_role("button", name="Add shop").click()
    assert posted.value.request.header_value("X-Shop-List") == "all"
    expect(box).to_be_hidden()
    expect(flash(page)).to_contain_text("Shop “Added shop” added. Click Verify to check the binding with Amazon.")
    expect(rows).to_have_count(5)
    added = rows.first
    expect(added).to_contain_text("Added shop")
    expect(added).to_have_class("row-added")
    expect(added).to_contain_text("Not verified")
    assert page.url == url + "/shops?page=2&region=NA"
    assert same.holds()
    added_id = f"shop-{row_id(added)}"

    # Its Verify works inline; focus stays on that row's Verify button; the outcome is announced.
    added.get_by_role("button", name="Verify").click()
    expect(added.locator(".badge")).to_have_text("Verified")
    expect(added).to_contain_text("Amazon store: Added Store")
    expect(page.locator(":focus")).to_have_text("Verify")
    assert focused_row_id(page) == added_id
    announcer = page.locator("#list-announcer")
    expect(announcer).to_contain_text("Added shop: Verified")
    expect(banner).to_have_text("")

    # A failing shop: the banner follows at once, and the row offers Re-authorize.
    revoked = rows.filter(has_text="NA shop 06")
    revoked.get_by_role("button", name="Verify").click()
    expect(revoked.locator(".badge")).to_have_text("Failed")
    expect(banner).to_contain_text("Needs attention: 1 failed its check")
    expect(banner.get_by_role("link", name="1 failed its check")).to_have_attribute("href", "/shops?status=failed")
    expect(announcer).to_contain_text("NA shop 06: Failed")
    assert focused_row_id(page) == f"shop-{row_id(revoked)}"
    expect(page.locator(":focus")).to_have_text("Verify")
    expect(revoked.get_by_role("link", name="Re-authorize")).to_be_visible()
    assert same.holds()

    # Bulk Verify of three ticked rows: one request each, every row updates (and stays ticked).
    standin.reset_counts()
    names = ["NA shop 07", "NA shop 08", "NA shop 09"]
    for name in names:
        page.get_by_label(f"Select {name}").check()
    before = {name: outer_html(rows.filter(has_text=name)) for name in names}
    verify_posts = []
    page.on("request", lambda r: verify_posts.append(r.url) if r.url.endswith("/verify") else None)
    page.get_by_role("button", name="Verify ticked").click()
    for name in names:
        row = rows.filter(has_text=name)
        expect(row.locator(".badge")).to_have_text("Verified")
        expect(page.get_by_label(f"Select {name}")).to_be_checked()
        assert outer_html(row) != before[name]
    expect(page.get_by_role("button", name="Verify ticked")).not_to_have_attribute("aria-busy", "true")
    assert sorted(verify_posts) == sorted(f"{url}/shops/{row_id(rows.filter(has_text=n))}/verify" for n in names)
    assert standin.counts["participations"] == 3
    expect(banner).to_contain_text("1 failed its check")
    expect(rows.filter(has_text="Added shop").locator(".badge")).to_have_text("Verified")  # untouched

    # Select all ticks the page's rows (and unticks them).
    select_all = page.get_by_label("Select all shops on this page")
    select_all.check()
    for box_ in page.locator("table.shops input[name=shop_ids]").all():
        expect(box_).to_be_checked()
    select_all.uncheck()
    expect(page.locator("table.shops input[name=shop_ids]:checked")).to_have_count(0)

    # Re-authorize opens the existing dialog.
    revoked.get_by_role("link", name="Re-authorize").click()
    expect(box.get_by_role("heading", name="Re-authorize NA shop 06")).to_be_visible()
    assert same.holds()
    assert page.log.console_errors == [] and page.log.page_errors == []


def test_new_shop_over_an_empty_list_reloads_it(amazon_server, new_page):
    """No rows to put the new one into: the page navigates to the list, as before."""
    live_server = amazon_server
    seed_company(live_server)
    page = new_page()
    sign_in(page, live_server, "ada@example.com")
    expect(page.get_by_role("heading", name="No shops yet")).to_be_visible()
    page.get_by_role("button", name="New shop").click()
    box = dialog(page)
    box.get_by_label("Shop name").fill("First shop")
    box.get_by_role("combobox", name="Country", exact=True).select_option(label="United States (US)")
    box.get_by_label("Seller ID").fill(ADDED_SELLER)
    box.get_by_label("Authorization token (refresh token)").fill(ADDED_TOKEN)
    box.get_by_label(AUTHORIZED).check()
    with page.expect_navigation():
        box.get_by_role("button", name="Add shop").click()
    expect(page.locator("#results table.shops tbody tr")).to_have_count(1)
    expect(flash(page)).to_contain_text("Shop “First shop” added.")
