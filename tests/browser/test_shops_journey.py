"""Amazon shops in a real browser (issue 3): the admin binds a single-country US shop and a
multi-country EU shop through the htmx "New shop" dialog (region and mode switches swap only the
country fields, in place), a duplicate binding is refused inside the dialog, and the EU shop is
assigned to a member, who then sees exactly that shop and nothing else."""
import pytest

from .conftest import seed_company, sign_in
from .helpers import FORBIDDEN, NOT_FOUND, SameDocument, dialog, flash, follow, main_nav, path_is, row_id

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect

US_SELLER = "A2USSELLER0001"
EU_SELLER = "A3EUSELLER0002"
US_TOKEN = "Atzr|IwEBIUS-browser-test-refresh-token-0001"
EU_TOKEN = "Atzr|IwEBIEU-browser-test-refresh-token-0002"
AUTHORIZED = "I have authorized the third-party application in Seller Central"


def open_new_shop_dialog(page, live_server):
    with page.expect_request(lambda r: r.url == live_server.url + "/shops/new" and r.method == "GET") as opened:
        page.get_by_role("button", name="New shop").click()
    assert opened.value.header_value("HX-Request") == "true"
    box = dialog(page)
    expect(box).to_be_visible()
    expect(box.get_by_role("heading", name="New Amazon shop")).to_be_visible()
    expect(box.get_by_label("Shop name")).to_be_focused()
    return box


def test_admin_binds_us_and_eu_shops_and_member_sees_only_the_assigned_one(live_server, new_page):
    url = live_server.url
    seed_company(live_server, members=[("Mei Member", "mei@example.com")])
    page = new_page()
    sign_in(page, live_server, "ada@example.com")
    expect(page).to_have_url(url + "/shops")
    expect(page.get_by_role("heading", name="No shops yet")).to_be_visible()
    rows = page.locator("#results table.shops tbody tr")

    # 1. A single-country US shop, through the dialog (no page load until it is saved).
    same = SameDocument(page)
    box = open_new_shop_dialog(page, live_server)
    region = box.get_by_role("combobox", name="Region", exact=True)
    expect(region).to_have_value("NA")
    expect(box.get_by_label("Single country")).to_be_checked()
    expect(box.locator("details.guidance")).to_contain_text("Develop Apps > the app > Authorize app")
    box.get_by_label("Shop name").fill("US main store")
    box.get_by_role("combobox", name="Country", exact=True).select_option(label="United States (US)")
    box.get_by_label("Seller ID").fill(US_SELLER.lower())  # normalised to upper case by the portal
    box.get_by_label("Authorization token (refresh token)").fill(US_TOKEN)
    box.get_by_label(AUTHORIZED).check()
    assert same.holds()
    box.get_by_role("button", name="Add shop").click()

    expect(page).to_have_url(url + "/shops")
    expect(flash(page)).to_contain_text("Shop “US main store” added. Click Verify to check the binding with Amazon.")
    expect(box).to_be_hidden()
    expect(rows).to_have_count(1)
    us_row = rows.filter(has_text="US main store")
    expect(us_row).to_contain_text(US_SELLER)
    expect(us_row).to_contain_text("NA")
    expect(us_row.locator("abbr")).to_have_text(["US"])
    expect(us_row).to_contain_text("Not verified")
    us_id = row_id(us_row)

    # 2. A multi-country EU shop: name and Seller ID typed first, then region and mode switched.
    same = SameDocument(page)
    box = open_new_shop_dialog(page, live_server)
    box.get_by_label("Shop name").fill("EU store DE+FR")
    box.get_by_label("Seller ID").fill(EU_SELLER)
    market_fields = box.locator("#market-fields")
    with page.expect_response(lambda r: "/shops/form-fields?" in r.url and "region=EU" in r.url) as switched:
        region.select_option("EU")
    assert switched.value.request.header_value("HX-Request") == "true"
    guidance = box.locator("details.guidance")
    expect(guidance).to_contain_text("Open Seller Central (EU)")
    expect(guidance).not_to_contain_text("Open Seller Central (NA)")
    expect(guidance.locator("summary")).to_have_text("How to get a refresh token to paste (Europe)")
    # The single-country select now offers the EU countries only.
    expect(market_fields.get_by_role("combobox", name="Country", exact=True).locator("option", has_text="Germany (DE)")).to_have_count(1)
    expect(market_fields.get_by_role("combobox", name="Country", exact=True).locator("option", has_text="United States")).to_have_count(0)

    with page.expect_response(lambda r: "/shops/form-fields?" in r.url and "mode=multi" in r.url):
        box.get_by_label("Multi country").check()
    expect(market_fields.get_by_role("group", name="Countries (pick at least two)")).to_be_visible()
    expect(market_fields.get_by_role("combobox", name="Country", exact=True)).to_have_count(0)
    expect(market_fields.get_by_label("United States (US)")).to_have_count(0)
    expect(guidance).to_contain_text("Open Seller Central (EU)")

    # The switches were htmx swaps of #market-fields: same document, typed values kept.
    assert same.holds()
    expect(box).to_be_visible()
    expect(box.get_by_label("Shop name")).to_have_value("EU store DE+FR")
    expect(box.get_by_label("Seller ID")).to_have_value(EU_SELLER)
    expect(region).to_have_value("EU")
    expect(box.get_by_label("Multi country")).to_be_checked()

    market_fields.get_by_label("Germany (DE)").check()
    market_fields.get_by_label("France (FR)").check()
    box.get_by_label("Authorization token (refresh token)").fill(EU_TOKEN)
    box.get_by_label(AUTHORIZED).check()
    assert same.holds()
    box.get_by_role("button", name="Add shop").click()

    expect(flash(page)).to_contain_text("Shop “EU store DE+FR” added.")
    expect(box).to_be_hidden()
    expect(rows).to_have_count(2)
    eu_row = rows.filter(has_text="EU store DE+FR")
    expect(eu_row).to_contain_text(EU_SELLER)
    expect(eu_row.locator("abbr")).to_have_count(2)
    assert sorted(eu_row.locator("abbr").all_inner_texts()) == ["DE", "FR"]
    eu_id = row_id(eu_row)
    assert eu_id != us_id

    # 3. The same seller and US again: refused, with the reason inside the still-open dialog.
    same = SameDocument(page)
    box = open_new_shop_dialog(page, live_server)
    box.get_by_label("Shop name").fill("US copy")
    box.get_by_role("combobox", name="Country", exact=True).select_option("ATVPDKIKX0DER")
    box.get_by_label("Seller ID").fill(US_SELLER)
    box.get_by_label("Authorization token (refresh token)").fill(US_TOKEN)
    box.get_by_label(AUTHORIZED).check()
    with page.expect_response(lambda r: r.url == url + "/shops/new" and r.request.method == "POST") as refused:
        box.get_by_role("button", name="Add shop").click()
    assert refused.value.status == 200 and refused.value.header_value("HX-Redirect") is None
    expect(box.locator(".field-error")).to_have_text(
        f"Seller {US_SELLER} is already bound for US in the shop “US main store”.")
    expect(box).to_be_visible()
    expect(box.get_by_label("Shop name")).to_have_value("US copy")
    expect(box.get_by_label("Seller ID")).to_have_value(US_SELLER)
    assert same.holds()
    box.get_by_role("button", name="Cancel").click()
    expect(box).to_be_hidden()
    page.reload()
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="US copy")).to_have_count(0)

    # 4. Shop detail → "Assign staff" dialog: tick the member, Save.
    follow(page, eu_row.get_by_role("link", name="EU store DE+FR"))
    expect(page).to_have_url(url + f"/shops/{eu_id}")
    same = SameDocument(page)
    page.get_by_role("button", name="Assign staff").click()
    box = dialog(page)
    expect(box).to_be_visible()
    expect(box.get_by_role("heading", name="Staff for EU store DE+FR")).to_be_visible()
    assert same.holds()
    mei = box.get_by_role("checkbox", name="Mei Member")
    expect(mei).not_to_be_checked()
    # A click on the member's name (the label) ticks the box. (The box itself is partly covered by
    # the e-mail hint: see test_assign_dialog_hint_does_not_cover_the_checkbox.)
    box.locator("label", has=page.get_by_role("checkbox", name="Mei Member")).get_by_text("Mei Member").click()
    expect(mei).to_be_checked()
    box.get_by_role("button", name="Save").click()
    expect(page).to_have_url(url + f"/shops/{eu_id}")
    expect(flash(page)).to_contain_text("Staff for “EU store DE+FR” saved.")
    expect(box).to_be_hidden()
    expect(page.locator("dl.facts")).to_contain_text("Mei Member")
    follow(page, main_nav(page).get_by_role("link", name="Shop list"))
    expect(eu_row).to_contain_text("Mei Member")
    expect(us_row).to_contain_text("Nobody yet")

    # 5. The member, in a browser of her own, sees the EU shop only.
    member = new_page()
    sign_in(member, live_server, "mei@example.com")
    expect(member).to_have_url(url + "/my-shops")
    expect(member.get_by_role("heading", name="My shops")).to_be_visible()
    member_rows = member.locator("#results table.shops tbody tr")
    expect(member_rows).to_have_count(1)
    expect(member_rows.first).to_have_id(f"shop-{eu_id}")
    expect(member_rows.first).to_contain_text("EU store DE+FR")
    expect(member.locator("#results")).not_to_contain_text("US main store")
    expect(member.get_by_label("Select EU store DE+FR")).to_have_count(0)  # no bulk bar for members
    expect(main_nav(member).get_by_role("link", name="Shop list")).to_have_count(0)

    follow(member, member_rows.first.get_by_role("link", name="EU store DE+FR"))
    expect(member).to_have_url(url + f"/shops/{eu_id}")
    expect(member.get_by_role("heading", name="EU store DE+FR", level=1)).to_be_visible()
    countries = member.locator("dl.facts dd").nth(1)
    expect(countries).to_contain_text("Germany (DE)")
    expect(countries).to_contain_text("France (FR)")
    expect(countries).to_contain_text("Multi country")

    response = member.goto(url + "/shops")
    assert response.status == 403
    expect(member.get_by_role("heading", name=FORBIDDEN)).to_be_visible()
    expect(member.locator("#results")).to_have_count(0)

    response = member.goto(url + f"/shops/{us_id}")
    assert response.status == 404
    expect(member).to_have_url(path_is(live_server, f"/shops/{us_id}"))
    expect(member.get_by_role("heading", name=NOT_FOUND)).to_be_visible()
    expect(member.locator("main")).not_to_contain_text("US main store")
    expect(member.locator("main")).not_to_contain_text(US_SELLER)


def test_bulk_bar_assigns_the_ticked_shops_to_the_chosen_member(live_server, new_page):
    """Shop list bulk bar, in the natural order: tick the shop, choose the member, Apply ("Assign to").

    Choosing the member must not reload the list (which would drop the tick and reset the member
    select): the toolbar's `hx-trigger="... change from:select ..."` listens to every <select> on
    the page, the bulk bar's included."""
    url = live_server.url
    seed_company(live_server, members=[("Mei Member", "mei@example.com")])
    seed_shops(live_server, [("Shop A", US_SELLER, "NA", ["ATVPDKIKX0DER"], US_TOKEN),
                             ("Shop B", EU_SELLER, "EU", ["A1PA6795UKMFR9"], EU_TOKEN)])
    page = new_page()
    sign_in(page, live_server, "ada@example.com")
    expect(page).to_have_url(url + "/shops")
    rows = page.locator("#results table.shops tbody tr")
    expect(rows).to_have_count(2)

    htmx_requests = []
    page.on("request", lambda r: htmx_requests.append(f"{r.method} {r.url}") if r.header_value("HX-Request") else None)
    same = SameDocument(page)
    tick = page.get_by_label("Select Shop B")
    tick.check()
    expect(page.get_by_label("Staff change")).to_have_value("assign")
    member = page.get_by_label("Staff member")
    member.select_option(label="Mei Member")
    expect(tick).to_be_checked()
    mei_id = user_id(live_server, "mei@example.com")
    expect(member).to_have_value(str(mei_id))
    assert same.holds()
    with page.expect_request(lambda r: r.url == url + "/shops/bulk-assign") as posted:
        page.get_by_role("button", name="Apply", exact=True).click()
    body = posted.value.post_data
    expect(flash(page)).to_contain_text("1 shop newly assigned to Mei Member.")
    assert htmx_requests == [f"POST {url}/shops/bulk-assign"], "choosing the member reloaded the list"
    assert f"shop_ids={row_id(rows.filter(has_text='Shop B'))}" in body and f"user_id={mei_id}" in body
    expect(rows.filter(has_text="Shop B")).to_contain_text("Mei Member")
    expect(rows.filter(has_text="Shop A")).to_contain_text("Nobody yet")


def seed_shops(live_server, shops):
    """[(name, seller_id, region, marketplace_ids, token)] bound by the company's admin."""
    from portal.extensions import db
    from portal.models import User
    from portal.shops.services import create_shop

    with live_server.app.app_context():
        admin = db.session.scalars(db.select(User).where(User.role == "admin")).one()
        for name, seller_id, region, marketplaces, token in shops:
            create_shop(admin, name=name, region=region, mode="multi" if len(marketplaces) > 1 else "single",
                        marketplace_ids=marketplaces, seller_id=seller_id, token=token)
        db.session.commit()
        db.session.remove()


def user_id(live_server, email) -> int:
    from portal.extensions import db
    from portal.models import User

    with live_server.app.app_context():
        try:
            return db.session.scalars(db.select(User.id).where(User.email == email)).one()
        finally:
            db.session.remove()


def test_assign_dialog_hint_does_not_cover_the_checkbox(live_server, page):
    """In the "Assign staff" dialog each member's e-mail (the <small> in the label) sits beside the
    name; it must not be laid over the checkbox, so the box itself can be clicked."""
    seed_company(live_server, members=[("Mei Member", "mei@example.com")])
    seed_shops(live_server, [("Shop A", US_SELLER, "NA", ["ATVPDKIKX0DER"], US_TOKEN)])
    sign_in(page, live_server, "ada@example.com")
    follow(page, page.get_by_role("link", name="Shop A").first)
    page.get_by_role("button", name="Assign staff").click()
    box = dialog(page)
    expect(box).to_be_visible()
    for name, email in (("Ada Admin", "ada@example.com"), ("Mei Member", "mei@example.com")):
        checkbox = box.get_by_role("checkbox", name=name)
        hint = box.locator("label", has=page.get_by_role("checkbox", name=name)).locator("small", has_text=email)
        assert not overlaps(checkbox.bounding_box(), hint.bounding_box()), f"the hint of {name} covers the checkbox"
    mei = box.get_by_role("checkbox", name="Mei Member")
    mei.check(timeout=2_000)
    expect(mei).to_be_checked()


def overlaps(a, b) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])
