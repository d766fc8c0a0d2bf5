"""Stores on other platforms in a real browser (issue 5): the admin records an eBay store for two
countries through the htmx dialog and assigns it; the assigned member enters orders by hand and
sees exact totals; another member cannot see or open it. A store name made of htmx markup is
shown as text and never acted on."""
import re

import pytest

from .conftest import seed_company, sign_in
from .helpers import NOT_FOUND, SameDocument, dialog, flash, follow, main_nav

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect

STORE = "Bavaria Deals"
XSS_NAME = '<div hx-get="/admin/users" hx-trigger="load">x</div>'


def add_order(page, number, date, currency, total):
    same = SameDocument(page)
    page.get_by_role("button", name="Add order").click()
    box = dialog(page)
    expect(box).to_be_visible()
    expect(box.get_by_role("heading", name=f"New order for {STORE}")).to_be_visible()
    expect(box.get_by_role("textbox", name="Order number")).to_be_focused()
    assert same.holds()
    box.get_by_role("textbox", name="Order number").fill(number)
    box.get_by_label("Order date").fill(date)
    box.get_by_role("combobox", name="Status").select_option("paid")
    box.get_by_role("combobox", name="Currency").select_option(currency)
    box.get_by_label("Total amount").fill(total)
    box.get_by_role("button", name="Save order").click()
    expect(flash(page)).to_contain_text(f"Order {number} saved.")
    expect(box).to_be_hidden()


def test_store_assigned_to_one_member_with_manual_orders(live_server, new_page):
    url = live_server.url
    seed_company(live_server, members=[("Mei Member", "mei@example.com"), ("Max Member", "max@example.com")])

    # The admin adds the store through the "New shop" dialog.
    admin = new_page()
    sign_in(admin, live_server, "ada@example.com")
    expect(admin).to_have_url(url + "/shops")
    follow(admin, main_nav(admin).get_by_role("link", name="Other shops"))
    expect(admin).to_have_url(url + "/other-stores")
    expect(admin.get_by_role("heading", name="No other shops yet")).to_be_visible()

    same = SameDocument(admin)
    admin.get_by_role("button", name="New shop").click()
    box = dialog(admin)
    expect(box).to_be_visible()
    expect(box.get_by_role("heading", name="New shop on another platform")).to_be_visible()
    assert same.holds()
    box.get_by_role("combobox", name="Platform", exact=True).select_option("ebay")
    box.get_by_role("textbox", name="Shop name").fill(STORE)
    countries = box.get_by_role("group", name="Sites / countries")
    countries.get_by_label("Germany (DE)").check()
    countries.get_by_label("United Kingdom (GB)").check()
    box.get_by_role("textbox", name="Shop URL").fill("https://www.ebay.de/str/bavariadeals")
    box.get_by_role("button", name="Save").click()

    expect(admin).to_have_url(re.compile("^" + re.escape(url) + r"/other-stores/\d+$"))
    store_path = admin.url[len(url):]
    expect(flash(admin)).to_contain_text(f"Shop “{STORE}” added.")
    expect(admin.get_by_role("heading", name=STORE, level=1)).to_contain_text("eBay")
    facts = admin.locator("dl.facts")
    expect(facts).to_contain_text("Germany (DE)")
    expect(facts).to_contain_text("United Kingdom (GB)")
    expect(facts).to_contain_text("Nobody yet")

    # "Assign staff": Mei only.
    same = SameDocument(admin)
    admin.get_by_role("button", name="Assign staff").click()
    expect(box).to_be_visible()
    expect(box.get_by_role("heading", name=f"Staff for {STORE}")).to_be_visible()
    assert same.holds()
    mei = box.get_by_role("checkbox", name="Mei Member")
    # The label's text ticks it (the e-mail hint is laid over the box itself, see the shops tests).
    box.locator("label", has=admin.get_by_role("checkbox", name="Mei Member")).get_by_text("Mei Member").click()
    expect(mei).to_be_checked()
    expect(box.get_by_role("checkbox", name="Max Member")).not_to_be_checked()
    box.get_by_role("button", name="Save").click()
    expect(flash(admin)).to_contain_text(f"Staff for “{STORE}” saved.")
    expect(admin).to_have_url(url + store_path)
    expect(facts).to_contain_text("Mei Member")
    expect(facts).not_to_contain_text("Max Member")

    # Mei sees it in Other shops, opens it and enters two orders by hand.
    mei_page = new_page()
    sign_in(mei_page, live_server, "mei@example.com")
    expect(mei_page).to_have_url(url + "/my-shops")
    follow(mei_page, main_nav(mei_page).get_by_role("link", name="Other shops"))
    expect(mei_page).to_have_url(url + "/other-stores")
    rows = mei_page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("eBay")
    expect(rows.first.locator("abbr")).to_have_count(2)
    assert sorted(rows.first.locator("abbr").all_inner_texts()) == ["DE", "GB"]
    follow(mei_page, rows.first.get_by_role("link", name=STORE))
    expect(mei_page).to_have_url(url + store_path)
    expect(mei_page.get_by_role("button", name="Assign staff")).to_have_count(0)
    expect(mei_page.get_by_text("No orders yet.")).to_be_visible()

    add_order(mei_page, "EB-1001", "2025-03-01", "EUR", "0.10")
    add_order(mei_page, "EB-1002", "2025-03-02", "EUR", "0.20")
    expect(mei_page).to_have_url(url + store_path)
    orders = mei_page.locator("#orders tbody tr")
    expect(orders).to_have_count(2)
    expect(orders.nth(0)).to_contain_text("EB-1002")
    expect(orders.nth(0)).to_contain_text("0.20 EUR")
    expect(orders.nth(1)).to_contain_text("EB-1001")
    expect(orders.nth(1)).to_contain_text("0.10 EUR")
    totals = mei_page.locator("#orders .totals .badge")
    expect(totals).to_have_count(1)
    expect(totals).to_have_text("0.30 EUR · 2 orders")  # exact decimal sum, not 0.30000000000000004

    # Max sees nothing and cannot open it.
    max_page = new_page()
    sign_in(max_page, live_server, "max@example.com")
    expect(max_page).to_have_url(url + "/my-shops")
    follow(max_page, main_nav(max_page).get_by_role("link", name="Other shops"))
    expect(max_page.get_by_role("heading", name="No shops assigned to you")).to_be_visible()
    expect(max_page.locator("#results")).not_to_contain_text(STORE)
    response = max_page.goto(url + store_path)
    assert response.status == 404
    expect(max_page.get_by_role("heading", name=NOT_FOUND)).to_be_visible()
    expect(max_page.locator("main")).not_to_contain_text(STORE)
    response = max_page.goto(url + store_path + "/orders.csv")
    assert response.status == 404


def test_store_name_with_htmx_markup_is_shown_as_text(live_server, page):
    from portal.extensions import db
    from portal.models import User
    from portal.other_stores.services import save_store

    seed_company(live_server)
    with live_server.app.app_context():
        admin = db.session.scalars(db.select(User).where(User.email == "ada@example.com")).one()
        store = save_store(admin, None, platform="ebay", platform_other=None, name=XSS_NAME, countries=["US"],
                           url=None, login_name=None, notes=XSS_NAME)
        db.session.commit()
        store_id = store.id
        db.session.remove()

    requested = []
    page.on("request", lambda r: requested.append(r.url))
    sign_in(page, live_server, "ada@example.com")  # an admin: /admin/users would answer if asked
    expect(page).to_have_url(live_server.url + "/shops")
    page.goto(live_server.url + "/other-stores")
    link = page.locator("#results tbody tr").get_by_role("link")
    expect(link).to_have_text(XSS_NAME)

    # The list swapped in by htmx (a search) shows it as text too.
    with page.expect_response(lambda r: "/other-stores?" in r.url and "q=hx-get" in r.url):
        page.get_by_role("searchbox", name="Search by shop name or platform").fill("hx-get")
    expect(link).to_have_text(XSS_NAME)
    expect(page).to_have_url(re.compile(re.escape(live_server.url + "/other-stores?q=hx-get") + "(&|$)"))

    # And its own page: heading, breadcrumb and notes.
    link.click()
    expect(page).to_have_url(live_server.url + f"/other-stores/{store_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(XSS_NAME)
    expect(page.locator("dl.facts")).to_contain_text(XSS_NAME)
    assert page.title().startswith(XSS_NAME)

    # Nothing of it became markup, and nothing asked for /admin/users.
    expect(page.locator('[hx-trigger="load"]')).to_have_count(0)
    page.goto(live_server.url + "/other-stores")
    expect(link).to_have_text(XSS_NAME)
    expect(page.locator('[hx-get="/admin/users"]')).to_have_count(0)
    assert not [u for u in requested if "/admin/users" in u], requested
