"""A clean browser console over the main journeys (issue 13): no error of any kind, and no warning
from the CSP or htmx, from sign-in through the Shop list, the New shop dialog (with an htmx region
switch), an inline Verify, Other stores, Users and Activity."""
import pytest

from .conftest import seed_company, sign_in
from .helpers import dialog
from .test_htmx_cdn import FileCDN
from .test_verify_journey import seed_shops

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect

WARNING_MARKERS = ("Content Security Policy", "Refused to", "htmx")


def watch_console(page) -> list[str]:
    """Every console message that counts as a problem, as "type: text (url:line)"."""
    problems = []

    def seen(message):
        text = message.text
        if message.type == "error" or (message.type == "warning" and any(m in text for m in WARNING_MARKERS)):
            where = message.location or {}
            problems.append(f"{message.type}: {text} ({where.get('url')}:{where.get('lineNumber')})")

    page.on("console", seen)
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    return problems


@pytest.fixture
def standin():
    from devtools.standin import StandinAmazon

    server = StandinAmazon(latency=0.1).start()
    yield server
    server.stop()


@pytest.fixture(params=["local", "cdn"])
def console_server(request, live_server_factory, standin):
    """The portal with the same-origin htmx, and with htmx from a (local) CDN serving the real file."""
    overrides = {}
    if request.param == "cdn":
        cdn = FileCDN()
        request.addfinalizer(cdn.stop)
        overrides = {"HTMX_SOURCE": "cdn", "HTMX_CDN_URL": cdn.url}
    live = live_server_factory(
        **standin.portal_settings(),
        **overrides)
    yield live
    client = live.app.extensions.get("portal_amazon_client")
    if client is not None:
        client.close()


def test_main_journeys_leave_the_console_clean(console_server, standin, new_page):
    live = console_server
    seed_company(live)
    good_id, _ = seed_shops(live, standin)
    page = new_page()
    problems = watch_console(page)
    sign_in(page, live, "ada@example.com")
    expect(page).to_have_url(live.url + "/shops")
    page.wait_for_load_state("networkidle")  # htmx and the page scripts are in (a loaded machine is slow)

    # The New shop dialog, and a region switch (an htmx swap of the country fields).
    page.get_by_role("button", name="New shop").click()
    box = dialog(page)
    expect(box.get_by_role("heading", name="New Amazon shop")).to_be_visible()
    page.wait_for_load_state("networkidle")
    region = box.get_by_role("combobox", name="Region", exact=True)
    # Known intermittent: now and then (CDN variant, loaded machine) the first region change sends no request;
    # a second change always does. The console check below is what this test is about.
    try:
        with page.expect_response(lambda r: "/shops/form-fields?" in r.url and "region=EU" in r.url, timeout=10_000):
            region.select_option("EU")
    except sync_api.TimeoutError:
        region.select_option("FE")
        with page.expect_response(lambda r: "/shops/form-fields?" in r.url and "region=EU" in r.url, timeout=30_000):
            region.select_option("EU")
    page.wait_for_load_state("networkidle")
    box.get_by_role("button", name="Cancel").click()
    expect(box).to_be_hidden()

    # An inline Verify.
    row = page.locator(f"#shop-{good_id}")
    row.get_by_role("button", name="Verify").click()
    expect(row.locator(".badge")).to_have_text("Verified")

    # The shop's page, Other stores, Users, Activity.
    for path in (f"/shops/{good_id}", "/other-stores", "/admin/users", "/admin/activity"):
        response = page.goto(live.url + path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
    page.goto(live.url + "/admin/users")
    page.get_by_role("button", name="New user").click()
    expect(box).to_be_visible()
    box.get_by_role("button", name="Cancel").click()

    # The icon, linked and at /favicon.ico (fetched, not opened: Chromium's image viewer styles itself inline).
    for path in ("/static/favicon.svg", "/favicon.ico"):
        assert page.request.get(live.url + path).status == 200, path
    assert page.locator('head link[rel="icon"]').get_attribute("href") == "/static/favicon.svg"

    assert not problems, "\n".join(problems)
