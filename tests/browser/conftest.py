"""Browser tests: the real portal served over HTTP on 127.0.0.1, driven by Debian's Chromium through
Playwright. Skipped (not failed) where the playwright package or the browser is missing.

Fixtures:
- `live_server_factory(**config_overrides)` / `live_server`: the app from `portal.create_app`, with the
  test configuration of tests/conftest.py (CSRF on, SQLite file or TEST_DATABASE_URL), HTMX_SOURCE
  "local" unless overridden; `.url` and `.app`.
- `browser` (one Chromium per run), `new_page(locale="en-US")` (a fresh context per call) and `page`.
  Every page records console errors, page errors and failed same-origin requests; at teardown no CSP
  violation may have been reported, and no same-origin request may have failed.
"""
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import PASSWORD, make_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 800}
HERE = Path(__file__).resolve().parent
CSP_MARKERS = ("Content Security Policy", "Refused to")


def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser is a `browser` test (`-m "not browser"` leaves them out)."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


# --- the live server -------------------------------------------------------------------------------


class QuietHandler(WSGIRequestHandler):
    """No access log: werkzeug would attach a stderr handler that outlives pytest's capture."""

    def log_request(self, *args, **kwargs):
        pass


@dataclass
class LiveServer:
    url: str
    app: object
    server: object = field(repr=False)
    thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server_factory(tmp_path, pg_schema):
    """Start a portal over HTTP with config overrides; each one gets an empty database (its own
    SQLite file; under TEST_DATABASE_URL the run's schema, so start only one server per test there)."""
    from portal import create_app
    from portal.extensions import db

    servers = []

    def start(**overrides) -> LiveServer:
        overrides.setdefault("HTMX_SOURCE", "local")
        folder = tmp_path / f"server{len(servers)}"
        folder.mkdir()
        app = create_app(make_config(folder, pg_schema, **overrides))
        with app.app_context():
            db.drop_all()
            db.create_all()
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        thread = threading.Thread(target=server.serve_forever, name=f"live-server-{server.server_port}",
                                  daemon=True)
        thread.start()
        live = LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app, server=server, thread=thread)
        servers.append(live)
        return live

    yield start
    for live in reversed(servers):
        live.stop()
        with live.app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


@pytest.fixture
def live_server(request, live_server_factory):
    """A portal with the default test configuration; `@pytest.mark.parametrize("live_server",
    [{"HTMX_SOURCE": "cdn"}], indirect=True)` passes config overrides."""
    return live_server_factory(**getattr(request, "param", {}))


def seed_company(live_server, *, company="Acme Trading", admin=("Ada Admin", "ada@example.com"),
                 members=(), password=PASSWORD):
    """Accounts straight in the database (for tests that are not about set-up): an admin and members
    [(name, email)], all with `password` and no forced password change."""
    from portal.accounts import add_user, create_company_with_admin
    from portal.extensions import db

    with live_server.app.app_context():
        user = create_company_with_admin(company_name=company, display_name=admin[0], email=admin[1],
                                         password=password)
        for name, email in members:
            add_user(user.company, display_name=name, email=email, password=password, role="member",
                     must_change_password=False)
        db.session.commit()
        db.session.remove()


def sign_in(page, live_server, email, password=PASSWORD):
    """Sign in through the sign-in page (the caller asserts where it lands)."""
    page.goto(live_server.url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    # Until the landing page's "load" its deferred scripts (htmx, app.js) may not have run, and a click on an
    # htmx button would do nothing; the form's POST always navigates (to the landing page or the error).
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="Sign in").click()


# --- the browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} — install Debian's chromium package to run browser tests")
    playwright = sync_api.sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except BaseException:
        playwright.stop()
        raise
    yield chromium
    chromium.close()
    playwright.stop()


class PageLog:
    """What went wrong in one page, as the browser saw it."""

    def __init__(self):
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.failed_requests: list[str] = []

    def attach(self, page) -> None:
        page.on("console", lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("requestfailed", lambda request: self._failed(page, request))

    def _failed(self, page, request) -> None:
        failure = request.failure or ""
        # A request cut short by the next navigation (net::ERR_ABORTED) is the browser's doing.
        if _same_origin(request.url, page.url) and "ERR_ABORTED" not in failure:
            self.failed_requests.append(f"{request.method} {request.url}: {failure}")

    def csp_violations(self) -> list[str]:
        return [text for text in self.console_errors + self.page_errors if any(m in text for m in CSP_MARKERS)]


def _same_origin(url: str, page_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(page_url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


@pytest.fixture
def new_page(browser, live_server_factory):
    """`new_page(locale="en-US")`: a page in a fresh browser context (its own cookies), 1280x800.
    `page.log` holds its console errors and failed requests. (Depends on live_server_factory so the
    contexts close before the servers stop.)"""
    opened = []

    def open_page(locale: str = "en-US", **context_options):
        context_options.setdefault("viewport", VIEWPORT)
        context = browser.new_context(locale=locale, **context_options)
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.log = PageLog()
        page.log.attach(page)
        opened.append((context, page))
        return page

    yield open_page
    problems = []
    for context, page in opened:
        context.close()
        problems += [f"CSP: {text}" for text in page.log.csp_violations()]
        problems += [f"request failed: {text}" for text in page.log.failed_requests]
    assert not problems, "\n".join(problems)


@pytest.fixture
def page(new_page):
    return new_page()
