"""Layout in a real browser (issue 13): on a 390x844 phone the lists are cards whose actions are on
screen without horizontal scrolling and the header folds into a menu; at 1440x900 a very long status
message wraps inside its own column instead of squeezing the shop names."""
import pytest

from tests.conftest import PASSWORD

from .conftest import seed_company
from .helpers import follow, main_nav

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
US = "ATVPDKIKX0DER"
# What Amazon may put in a store name (up to 200 characters), here with a 60-character word in it.
LONG_STORE = ("Sunny Goods Official Flagship Store for Home Kitchen and Garden Supplies " * 2 + "X" * 60)[:200]  # the column holds 200
NAV_LABELS = {"en-US": ["Shop list", "My shops", "Other shops", "Users", "Activity"],
              "zh-CN": ["店铺列表", "我的店铺", "其他店铺", "用户", "操作记录"]}

# The number of lines an element's text occupies (distinct tops of its text's line boxes).
LINES = """element => {
  const range = document.createRange();
  range.selectNodeContents(element);
  return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size;
}"""
PAGE_WIDTH = "document.scrollingElement.scrollWidth"


def seed_shops(live_server, names, store_name=None):
    """Shops bound by the admin through the shop service; each one verified, with `store_name`."""
    from portal.extensions import db
    from portal.models import CHECK_VERIFIED, User, utcnow
    from portal.shops.services import create_shop

    with live_server.app.app_context():
        admin = db.session.scalars(db.select(User).where(User.email == "ada@example.com")).one()
        for n, name in enumerate(names, 1):
            shop = create_shop(admin, name=name, region="NA", mode="single", marketplace_ids=[US],
                               seller_id=f"A1LAYOUTSELL{n:02d}", token=f"Atzr|IwEBI-layout-test-token-{n:04d}").shop
            shop.check_status, shop.checked_at, shop.store_name = CHECK_VERIFIED, utcnow(), store_name
        db.session.commit()
        db.session.remove()


def seed_other_store(live_server):
    from portal.extensions import db
    from portal.models import User
    from portal.other_stores.services import save_store

    with live_server.app.app_context():
        admin = db.session.scalars(db.select(User).where(User.email == "ada@example.com")).one()
        save_store(admin, None, platform="shopee", platform_other=None, name="虾皮台湾站 Shopee Taiwan",
                   countries=["TW", "MY"], url="https://shopee.tw/" + "a-very-long-shop-path-" * 4,
                   login_name=None, notes=None)
        db.session.commit()
        db.session.remove()


def sign_in(page, live_server, email):
    """Through the sign-in page, in whatever language the browser asks for."""
    page.goto(live_server.url + "/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(live_server.url + "/shops")


def assert_no_horizontal_scroll(page):
    assert page.evaluate(PAGE_WIDTH) <= PHONE["width"], f"page is {page.evaluate(PAGE_WIDTH)} px wide"


def assert_inside_the_screen(locator):
    """On screen once the page is scrolled down to it: no horizontal scrolling, of the page or of a
    scrolling box around the element, is needed."""
    locator.evaluate("element => window.scrollTo(0, window.scrollY + element.getBoundingClientRect().top - 200)")
    assert locator.page.evaluate("window.scrollX") == 0
    expect(locator).to_be_in_viewport()
    box = locator.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_phone_shop_list_is_cards_with_verify_on_screen_and_a_menu(live_server, new_page, locale):
    seed_company(live_server)
    seed_shops(live_server, ["北美多国旗舰店 NA multi-country flagship", "美国主店 US main"], store_name=LONG_STORE)
    page = new_page(locale=locale, viewport=PHONE)
    sign_in(page, live_server, "ada@example.com")
    page.goto(live_server.url + "/shops")
    first = page.locator("#results table.shops tbody tr").first
    expect(first).to_contain_text("北美多国旗舰店")

    # The first shop's Verify button is on the screen without horizontal scrolling (none is possible).
    verify = first.get_by_role("button", name="Verify" if locale == "en-US" else "验证")
    assert_no_horizontal_scroll(page)
    assert_inside_the_screen(verify)
    # A card: the table's head is out of sight; each cell says what it is, in the user's language.
    assert page.locator("#results table.shops thead").bounding_box()["height"] <= 1
    seller = first.locator("td", has_text="A1LAYOUTSELL01")
    expect(seller).to_have_attribute("data-label", "Seller ID" if locale == "en-US" else "卖家编号")
    label = seller.evaluate("cell => getComputedStyle(cell, '::before').content")
    assert label == ('"Seller ID"' if locale == "en-US" else '"卖家编号"')
    card = first.bounding_box()
    assert card["x"] >= 0 and card["x"] + card["width"] <= PHONE["width"]
    name = first.locator("td.cell-name").bounding_box()  # a long name wraps inside the card
    assert name["x"] + name["width"] <= card["x"] + card["width"]

    # The header is one short line with a Menu; the nav links appear when it is opened, each on one line.
    header = page.locator("header.topbar")
    assert header.bounding_box()["height"] <= 80
    nav = main_nav(page)
    expect(nav).to_be_hidden()
    expect(page.locator("#lang-select")).to_be_hidden()
    menu = page.locator("header details.nav-toggle > summary")
    expect(menu).to_be_visible()
    assert menu.evaluate(LINES) == 1
    menu.click()
    expect(nav).to_be_visible()
    for name in NAV_LABELS[locale]:
        link = nav.get_by_role("link", name=name, exact=True)
        expect(link).to_be_visible()
        assert link.evaluate(LINES) == 1, f"{name!r} breaks over lines"
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (name, box)
    expect(page.locator("#lang-select")).to_be_visible()
    expect(page.locator("header details.dropdown > summary")).to_have_text("Ada Admin")
    assert_no_horizontal_scroll(page)
    follow(page, nav.get_by_role("link", name=NAV_LABELS[locale][1], exact=True))
    expect(page).to_have_url(live_server.url + "/my-shops")
    expect(main_nav(page)).to_be_hidden()  # a new page starts with the menu closed


def test_phone_users_and_other_stores_are_cards(live_server, new_page):
    seed_company(live_server, members=[("Mei Member 小美", "mei.member.with.a.long.address@example.com")])
    seed_other_store(live_server)
    page = new_page(viewport=PHONE)
    page.goto(live_server.url + "/login")  # signed out: no menu, the language stays at hand
    expect(page.locator("#lang-select")).to_be_visible()
    expect(page.locator("header details.nav-toggle")).to_have_count(0)
    assert_no_horizontal_scroll(page)
    sign_in(page, live_server, "ada@example.com")

    page.goto(live_server.url + "/admin/users")
    row = page.locator("#results tbody tr", has_text="Mei Member")
    expect(row.locator("td[data-label=Email]")).to_contain_text("mei.member.with.a.long.address@example.com")
    assert_no_horizontal_scroll(page)
    for action in (row.get_by_role("link", name="Set temporary password"),
                   row.get_by_role("button", name="Deactivate"), row.get_by_label("Role")):
        assert_inside_the_screen(action)

    page.goto(live_server.url + "/other-stores")
    row = page.locator("#results tbody tr").first
    expect(row.locator("td.cell-name")).to_have_text("虾皮台湾站 Shopee Taiwan")
    expect(row.locator("td[data-label=Platform]")).to_have_text("Shopee")
    assert_no_horizontal_scroll(page)
    assert_inside_the_screen(row.locator("td.cell-url a"))
    assert_inside_the_screen(row.get_by_role("link", name="虾皮台湾站 Shopee Taiwan"))


def test_desktop_long_status_message_does_not_squeeze_the_names(live_server, new_page):
    seed_company(live_server)
    names = ["美国主店 US main", "即将过期 Expiring in 10 days", "区域选错 Wrong region"]
    seed_shops(live_server, names, store_name=LONG_STORE)
    page = new_page(viewport=DESKTOP)
    sign_in(page, live_server, "ada@example.com")
    page.goto(live_server.url + "/shops")
    rows = page.locator("#results table.shops tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("header details.nav-toggle")).to_be_hidden()
    expect(main_nav(page).get_by_role("link", name="Shop list")).to_be_visible()

    for name in names:
        cell = rows.filter(has_text=name).locator("td.cell-name")
        assert cell.bounding_box()["width"] >= 160, name
        assert cell.get_by_role("link").evaluate(LINES) == 1, f"{name!r} is squeezed onto several lines"
    status = rows.first.locator("td.cell-status")
    expect(status).to_contain_text("X" * 20)  # the long message is there, wrapped inside its cell
    box, cell = status.locator(".status").bounding_box(), status.bounding_box()
    assert box["x"] + box["width"] <= cell["x"] + cell["width"] + 1
    assert cell["width"] <= 26 * 20  # 24rem and the cell's padding (1rem is 20 px here), whatever the message
    assert page.evaluate(PAGE_WIDTH) <= DESKTOP["width"]
