"""Accounts in a real browser: first run, adding a member through the HTMX dialog, the forced password
change, roles, the language switch, and htmx loading from the CDN or its same-origin fallback — all
under the portal's strict Content-Security-Policy (the `new_page` fixture fails on any CSP report)."""
import json
import os
import re
from pathlib import Path

import pytest

from .conftest import seed_company, sign_in
from .helpers import follow

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "screenshot-users.png"
HTMX_LOCAL = "/static/vendor/htmx-2.0.11.min.js"

ADMIN_PASSWORD = "a long enough passphrase"
TEMPORARY_PASSWORD = "river stone 7315"
MEMBER_PASSWORD = "my very own passphrase"


def path_is(live_server, path):
    """A URL matcher for expect(page).to_have_url: exactly this path, any query string."""
    return re.compile("^" + re.escape(live_server.url + path) + r"(\?.*)?$")


def count_navigations(page) -> list[str]:
    """URLs the main frame navigated to from now on (htmx swaps add nothing here)."""
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    return navigations


def csrf_header_token(page) -> str:
    return json.loads(page.locator("body").get_attribute("hx-headers"))["X-CSRFToken"]


def main_nav(page):
    return page.locator("header nav .main-nav")


def test_first_run_add_member_and_forced_password_change(live_server, page):
    url = live_server.url

    # A fresh portal sends every page to the set-up form.
    for path in ("/", "/login", "/my-shops", "/admin/users", "/account/password"):
        page.goto(url + path)
        expect(page).to_have_url(url + "/setup")
    expect(page.get_by_role("heading", name="Set up the portal")).to_be_visible()

    page.get_by_label("Company name").fill("Acme Trading")
    page.get_by_label("Your name").fill("Ada Admin")
    page.get_by_label("Email").fill("Ada@Example.com")
    page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_label("Repeat the password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Create company and admin").click()

    # Signed in straight away, as the admin.
    expect(page).to_have_url(url + "/shops")
    expect(page.locator("#messages")).to_contain_text("Welcome! Your company and your admin account are ready.")
    expect(page.locator("details.dropdown summary")).to_have_text("Ada Admin")

    follow(page, main_nav(page).get_by_role("link", name="Users"))
    expect(page).to_have_url(url + "/admin/users")
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ada@example.com")

    # htmx is the same-origin copy (HTMX_SOURCE=local) and has started.
    expect(page.locator(f'head script[src="{HTMX_LOCAL}"]')).to_have_count(1)
    assert page.evaluate("window.htmx && window.htmx.version") == "2.0.11"

    # "New user" opens the form in the dialog: an htmx request, no page load.
    page.evaluate("window.__sameDocument = 1")
    navigations = count_navigations(page)
    with page.expect_request(lambda r: r.url == url + "/admin/users/new" and r.method == "GET") as opened:
        page.get_by_role("button", name="New user").click()
    dialog = page.locator("#dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="New user")).to_be_visible()
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    assert opened.value.header_value("HX-Request") == "true"
    assert page.evaluate("window.__sameDocument") == 1 and navigations == []

    # A refused password: the errors come back inside the still-open dialog.
    dialog.get_by_label("Name", exact=True).fill("Mei Member")
    dialog.get_by_label("Email").fill("mei@example.com")
    dialog.get_by_label("Role").select_option("member")
    dialog.get_by_label("Temporary password").fill("password")
    dialog.get_by_role("button", name="Add user").click()
    expect(dialog.locator(".field-error")).to_contain_text("too common")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Email")).to_have_value("mei@example.com")
    assert page.evaluate("window.__sameDocument") == 1 and navigations == []

    # The browser sends the CSRF token itself: htmx's X-CSRFToken header from <body hx-headers>.
    dialog.get_by_label("Temporary password").fill(TEMPORARY_PASSWORD)
    token = csrf_header_token(page)
    with page.expect_request(lambda r: r.url == url + "/admin/users/new" and r.method == "POST") as added:
        dialog.get_by_role("button", name="Add user").click()
    assert added.value.header_value("X-CSRFToken") == token

    # Added: the list reloads (HX-Redirect) without the dialog, and shows the member.
    expect(page.locator("#messages")).to_contain_text(
        "Mei Member can now sign in with the temporary password and will be asked to change it.")
    expect(page).to_have_url(url + "/admin/users")
    expect(dialog).to_be_hidden()
    expect(rows).to_have_count(2)
    member_row = rows.filter(has_text="mei@example.com")
    expect(member_row).to_contain_text("Mei Member")
    expect(member_row).to_contain_text("Must change password")
    expect(member_row.get_by_label("Role")).to_have_value("member")

    if os.environ.get("PORTAL_SCREENSHOTS") == "1":
        page.goto(url + "/admin/users")  # without the flash message
        expect(rows).to_have_count(2)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))

    # Sign out from the user menu.
    page.locator("details.dropdown summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(url + "/login")
    expect(page.locator("#messages")).to_contain_text("You have signed out.")
    page.goto(url + "/admin/users")
    expect(page).to_have_url(path_is(live_server, "/login"))

    # The member signs in with the temporary password and must choose a new one first.
    sign_in(page, live_server, "mei@example.com", TEMPORARY_PASSWORD)
    expect(page).to_have_url(url + "/account/password")
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()
    expect(page.get_by_text("You signed in with a temporary password.")).to_be_visible()
    follow(page, main_nav(page).get_by_role("link", name="Other shops"))
    expect(page).to_have_url(url + "/account/password")
    page.goto(url + "/my-shops")
    expect(page).to_have_url(url + "/account/password")

    page.get_by_label("Current password").fill(TEMPORARY_PASSWORD)
    page.get_by_label("New password", exact=True).fill(MEMBER_PASSWORD)
    page.get_by_label("Repeat the new password").fill(MEMBER_PASSWORD)
    page.get_by_role("button", name="Change password").click()

    expect(page).to_have_url(url + "/my-shops")
    expect(page.get_by_role("heading", name="My shops")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("Your password has been changed.")
    expect(page.locator("details.dropdown summary")).to_have_text("Mei Member")


def test_member_sees_no_admin_links_and_gets_403(live_server, page):
    seed_company(live_server, members=[("Mei Member", "mei@example.com")])
    sign_in(page, live_server, "mei@example.com")
    expect(page).to_have_url(live_server.url + "/my-shops")

    nav = main_nav(page)
    expect(nav.get_by_role("link", name="My shops")).to_be_visible()
    expect(nav.get_by_role("link", name="Other shops")).to_be_visible()
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    expect(nav.get_by_role("link", name="Shop list")).to_have_count(0)

    for path in ("/admin/users", "/admin/users/new", "/shops"):
        response = page.goto(live_server.url + path)
        assert response.status == 403, path
        expect(page).to_have_url(live_server.url + path)
        expect(page.get_by_role("heading", name="You do not have permission to do this.")).to_be_visible()
        expect(page.locator("#results")).to_have_count(0)


def test_language_switch_to_chinese_sticks(live_server, page):
    seed_company(live_server)
    sign_in(page, live_server, "ada@example.com")
    url = live_server.url
    expect(page).to_have_url(url + "/shops")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "en")
    language = page.locator("#lang-select")
    expect(language).to_have_value("en")
    expect(main_nav(page).get_by_role("link", name="Users")).to_be_visible()

    # Choosing 中文 submits the form on its own and comes back to the same page, in Chinese.
    navigations = count_navigations(page)
    language.select_option(label="中文")
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page).to_have_url(url + "/shops")
    expect(language).to_have_value("zh")
    expect(main_nav(page).get_by_role("link", name="店铺列表")).to_be_visible()
    expect(main_nav(page).get_by_role("link", name="Users")).to_have_count(0)
    assert navigations, "the language switch should reload the page"

    # The choice is a cookie that beats the browser's Accept-Language (en-US) on later pages.
    assert {"name": "lang", "value": "zh"}.items() <= next(
        c for c in page.context.cookies() if c["name"] == "lang").items()
    follow(page, main_nav(page).get_by_role("link", name="用户"))
    expect(page).to_have_url(url + "/admin/users")
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="用户")).to_be_visible()
    expect(page.get_by_role("button", name="新增用户")).to_be_visible()
    page.reload()
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(language).to_have_value("zh")
    expect(page.get_by_role("heading", name="用户")).to_be_visible()


def test_chinese_browser_gets_chinese_until_english_is_chosen(live_server, new_page):
    seed_company(live_server)
    page = new_page(locale="zh-CN")
    page.goto(live_server.url + "/login")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()

    page.wait_for_load_state("load")  # the select submits itself once the deferred app.js has run
    page.locator("#lang-select").select_option(label="English")
    expect(html).to_have_attribute("lang", "en")
    expect(page).to_have_url(live_server.url + "/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(live_server.url + "/login")
    expect(html).to_have_attribute("lang", "en")


def _serve_vendored_htmx(route):
    """Answer for the CDN with the vendored bytes (what the CDN serves, if the pinned SRI hash holds)."""
    route.fulfill(status=200, body=(ROOT / "portal" / HTMX_LOCAL.lstrip("/")).read_bytes(),
                  headers={"Content-Type": "application/javascript", "Access-Control-Allow-Origin": "*"})


@pytest.mark.parametrize("cdn", ["unreachable", "reachable"])
def test_htmx_from_cdn_or_same_origin_fallback(live_server_factory, page, cdn):
    """HTMX_SOURCE=cdn (the production default): offline, htmx-loader.js loads the local copy;
    online, the pinned CDN file passes its integrity check and the CSP lets it run."""
    live_server = live_server_factory(HTMX_SOURCE="cdn")
    cdn_url = live_server.app.config["HTMX_CDN_URL"]
    if cdn == "unreachable":
        page.route(cdn_url, lambda route: route.abort("internetdisconnected"))
    else:
        page.route(cdn_url, _serve_vendored_htmx)
    seed_company(live_server)
    htmx_sources = []  # every htmx file the browser got, and "failed <url>" for each CDN failure
    copies = (cdn_url, live_server.url + HTMX_LOCAL)
    page.on("requestfinished", lambda r: htmx_sources.append(r.url) if r.url in copies else None)
    page.on("requestfailed", lambda r: htmx_sources.append("failed " + r.url) if r.url == cdn_url else None)

    sign_in(page, live_server, "ada@example.com")
    response = page.goto(live_server.url + "/admin/users")
    assert "script-src 'self' " + cdn_url + ";" in response.header_value("Content-Security-Policy")
    expect(page.locator(f'head link[rel=preload][href="{cdn_url}"]')).to_have_count(1)
    expect(page.locator(f'head script[src="{cdn_url}"]')).to_have_count(1 if cdn == "reachable" else 0)
    for _ in range(60):  # the loader may add the same-origin copy just after the load event
        if page.evaluate("window.htmx && window.htmx.version") == "2.0.11":
            break
        page.wait_for_timeout(50)
    assert page.evaluate("window.htmx && window.htmx.version") == "2.0.11"

    page.evaluate("window.__sameDocument = 1")
    navigations = count_navigations(page)
    page.get_by_role("button", name="New user").click()
    dialog = page.locator("#dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name="New user")).to_be_visible()
    assert page.evaluate("window.__sameDocument") == 1 and navigations == []
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    if cdn == "unreachable":
        assert "failed " + cdn_url in htmx_sources
        assert live_server.url + HTMX_LOCAL in htmx_sources
    else:
        assert cdn_url in htmx_sources
        assert not any(HTMX_LOCAL in source for source in htmx_sources)
