"""The other-store country picker in a real browser (issue 13, item 9): a filter above plain checkboxes
(by name, English name, pinyin or code), common markets first, the chosen countries in one line, and the
order currency following the first country until the user picks one by hand. Without JavaScript the same
form is plain checkboxes and the server picks the currency."""
import pytest
from sqlalchemy import select

from .conftest import seed_company, sign_in
from .helpers import SameDocument, dialog, flash

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect


def stored_store(live_server, name):
    from portal.extensions import db
    from portal.models import OtherStore

    with live_server.app.app_context():
        store = db.session.scalar(select(OtherStore).where(OtherStore.name == name))
        result = (store.currency, store.country_codes) if store else None
        db.session.remove()
        return result


def open_new_store(page, live_server):
    sign_in(page, live_server, "ada@example.com")
    expect(page).to_have_url(live_server.url + "/shops")
    page.goto(live_server.url + "/other-stores")
    page.get_by_role("button", name="New shop").click()
    box = dialog(page)
    expect(box).to_be_visible()
    return box


def test_filter_by_pinyin_code_and_english_name_in_chinese(live_server, new_page):
    seed_company(live_server)
    page = new_page()
    sign_in(page, live_server, "ada@example.com")
    expect(page).to_have_url(live_server.url + "/shops")
    page.wait_for_load_state("load")  # the select submits itself once the deferred app.js has run
    page.locator("#lang-select").select_option("zh")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.goto(live_server.url + "/other-stores/new")
    picker = page.locator("[data-country-picker]")
    labels = picker.locator("label[data-search]")
    expect(labels.first).to_contain_text("美国 (US)")  # common markets first, not 阿富汗 or 爱尔兰
    expect(labels.nth(1)).to_contain_text("英国 (GB)")
    search = picker.locator("[data-country-filter]")
    expect(search).to_be_visible()
    assert labels.count() > 240

    for query in ("taiwan", "tai wan", "台湾", "tw", "TW"):
        search.fill(query)
        expect(picker.get_by_label("台湾 (TW)")).to_be_visible()
        expect(picker.get_by_label("美国 (US)")).to_be_hidden()
    search.fill("mei")  # pinyin: 美国 (mei guo) and more
    expect(picker.get_by_label("美国 (US)")).to_be_visible()
    expect(picker.get_by_label("台湾 (TW)")).to_be_hidden()
    search.fill("qqqq")
    expect(picker.locator("[data-country-none]")).to_be_visible()
    search.fill("")
    expect(picker.get_by_label("台湾 (TW)")).to_be_visible()
    expect(picker.locator("[data-country-none]")).to_be_hidden()


def test_pick_countries_and_the_currency_follows(live_server, new_page):
    seed_company(live_server)
    page = new_page()
    box = open_new_store(page, live_server)
    same = SameDocument(page)
    box.get_by_role("combobox", name="Platform", exact=True).select_option("shopee")
    box.get_by_role("textbox", name="Shop name").fill("Shopee Taiwan")
    picker = box.get_by_role("group", name="Sites / countries")
    currency = box.get_by_role("combobox", name="Order currency")
    chosen = picker.locator("[data-country-chosen]")
    expect(chosen).to_have_text("No country chosen yet.")
    expect(currency).to_have_value("")

    search = picker.get_by_role("searchbox", name="Find a country")
    search.fill("taiw")
    search.press("Enter")  # does not submit the form
    picker.get_by_label("Taiwan (TW)").check()
    expect(chosen).to_have_text("Chosen: Taiwan (TW)")
    expect(currency).to_have_value("TWD")
    search.press("Escape")  # clears the filter, keeps the dialog open
    expect(search).to_have_value("")
    expect(box).to_be_visible()
    expect(picker.get_by_label("Taiwan (TW)")).to_be_checked()

    # Thailand comes before Taiwan in the list (common markets order): it is the first country now.
    picker.get_by_label("Thailand (TH)").check()
    expect(chosen).to_have_text("Chosen: Thailand (TH), Taiwan (TW)")
    expect(currency).to_have_value("THB")
    picker.get_by_label("Thailand (TH)").uncheck()
    expect(currency).to_have_value("TWD")
    box.get_by_role("button", name="Save").click()
    expect(flash(page)).to_contain_text("Shop “Shopee Taiwan” added.")
    assert same.holds() or page.url.endswith("/other-stores/1")
    assert stored_store(live_server, "Shopee Taiwan") == ("TWD", ["TW"])

    # The store's first order starts in TWD.
    page.get_by_role("button", name="Add order").click()
    expect(dialog(page).get_by_role("combobox", name="Currency")).to_have_value("TWD")


def test_a_currency_chosen_by_hand_stays(live_server, new_page):
    seed_company(live_server)
    page = new_page()
    box = open_new_store(page, live_server)
    box.get_by_role("combobox", name="Platform", exact=True).select_option("shopee")
    box.get_by_role("textbox", name="Shop name").fill("Shopee TW in dollars")
    picker = box.get_by_role("group", name="Sites / countries")
    currency = box.get_by_role("combobox", name="Order currency")
    picker.get_by_label("Taiwan (TW)").check()
    expect(currency).to_have_value("TWD")
    currency.select_option("USD")
    picker.get_by_label("Malaysia (MY)").check()  # before Taiwan in the list
    expect(currency).to_have_value("USD")
    box.get_by_role("button", name="Save").click()
    expect(flash(page)).to_contain_text("added")
    assert stored_store(live_server, "Shopee TW in dollars") == ("USD", ["MY", "TW"])

    # Editing it: the currency chosen by hand is kept when the countries change.
    page.get_by_role("button", name="Edit").click()
    box = dialog(page)
    picker = box.get_by_role("group", name="Sites / countries")
    expect(picker.locator("[data-country-chosen]")).to_have_text("Chosen: Malaysia (MY), Taiwan (TW)")
    picker.get_by_label("Malaysia (MY)").uncheck()
    expect(box.get_by_role("combobox", name="Order currency")).to_have_value("USD")


def test_without_javascript_plain_checkboxes_and_server_currency(live_server, new_page):
    seed_company(live_server)
    page = new_page(java_script_enabled=False)
    sign_in(page, live_server, "ada@example.com")
    page.goto(live_server.url + "/other-stores/new")
    picker = page.get_by_role("group", name="Sites / countries")
    expect(picker.locator("[data-country-filter]")).to_be_hidden()
    page.get_by_role("combobox", name="Platform", exact=True).select_option("shopee")
    page.get_by_role("textbox", name="Shop name").fill("Shopee no script")
    picker.get_by_label("Taiwan (TW)").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Shop “Shopee no script” added.")).to_be_visible()
    assert stored_store(live_server, "Shopee no script") == ("TWD", ["TW"])
