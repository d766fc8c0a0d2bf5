"""htmx from the CDN (HTMX_SOURCE=cdn) in a real browser, the "CDN" a local server on 127.0.0.1: one
that accepts the connection and never answers (a firewall dropping packets), one that answers late,
and one that serves the real file. The page never waits for the CDN, htmx works within 3 s, and only
one htmx copy ever initialises."""
import base64
import hashlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import PASSWORD, seed_company
from .test_verify_journey import seed_shops

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect

HTMX_FILE = Path(__file__).resolve().parents[2] / "portal" / "static" / "vendor" / "htmx-2.0.11.min.js"
LOCAL_SRC = "/static/vendor/htmx-2.0.11.min.js"
# Counts htmx start-ups: htmx triggers htmx:load on <body> once when it initialises (swapped content
# gets its own htmx:load, on the new element). Injected by Playwright, so outside the page's CSP.
COUNT_STARTS = """
document.addEventListener("htmx:load", function (event) {
  if (event.target === document.body) { window.__htmxStarts = (window.__htmxStarts || 0) + 1; }
});
"""


class HangingCDN:
    """Accepts every connection and never answers, holding it open until stopped."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.held: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/npm/htmx.org@2.0.11/dist/htmx.min.js"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def stop(self):
        self.sock.close()
        for conn in self.held:
            conn.close()
        self.thread.join(timeout=5)


class FileCDN:
    """Serves the htmx file (CORS-enabled, as a CDN does) after `delay` seconds; counts requests."""

    def __init__(self, delay: float = 0.0):
        body = HTMX_FILE.read_bytes()
        cdn = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                cdn.requests += 1
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Type", "text/javascript")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Cache-Control", "public, max-age=604800")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the browser stopped waiting (its page closed)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/npm/htmx.org@2.0.11/dist/htmx.min.js"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_pinned_integrity_is_the_vendored_file():
    """The same-origin copy is the very file the CDN serves: one integrity for both."""
    from config import Config

    digest = base64.b64encode(hashlib.sha384(HTMX_FILE.read_bytes()).digest()).decode()
    assert Config.HTMX_CDN_INTEGRITY == f"sha384-{digest}"


@pytest.mark.parametrize("url", ["", "cdn.example.com/htmx.min.js", "https://cdn.example.com/a.js; script-src *",
                                 "https://cdn.example.com/a.js 'unsafe-inline'", "javascript:alert(1)"])
def test_a_cdn_url_that_would_bend_the_csp_refuses_to_start(tmp_path, url):
    from portal import create_app
    from tests.conftest import make_config

    with pytest.raises(ValueError, match="HTMX_CDN_URL"):
        create_app(make_config(tmp_path, None, HTMX_SOURCE="cdn", HTMX_CDN_URL=url))


@pytest.fixture
def standin():
    from devtools.standin import StandinAmazon

    server = StandinAmazon(latency=0.1).start()
    yield server
    server.stop()


class AmazonClientCloser:
    def __init__(self, live):
        self.live = live

    def stop(self):
        client = self.live.app.extensions.get("portal_amazon_client")
        if client is not None:
            client.close()


def portal_with_cdn(live_server_factory, standin, cdn_url, closing):
    live = live_server_factory(
        HTMX_SOURCE="cdn", HTMX_CDN_URL=cdn_url,
        **standin.portal_settings())
    closing(AmazonClientCloser(live))
    return live


@pytest.fixture
def closing():
    """Stops what the test started, after its pages are closed."""
    things = []
    yield things.append
    for thing in reversed(things):
        thing.stop()


def open_signed_in(new_page, live):
    """A page signed in as the admin; never waiting for the window's load event, which a hanging CDN
    request may hold back."""
    page = new_page()
    page.add_init_script(COUNT_STARTS)
    page.goto(live.url + "/login", wait_until="domcontentloaded")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live.url + "/shops")
    return page


def wait_for_htmx_start(page, limit: float) -> float:
    """Seconds until htmx has initialised (polled with evaluate: no eval under the page's CSP)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if page.evaluate("window.__htmxStarts || 0") >= 1:
            return time.monotonic() - started
        time.sleep(0.05)
    return float("inf")


def htmx_scripts(page, cdn_url):
    return page.evaluate("""([cdn, local]) => {
        const srcs = Array.from(document.scripts, s => s.getAttribute("src"));
        return {cdn: srcs.filter(s => s === cdn).length, local: srcs.filter(s => s === local).length};
    }""", [cdn_url, LOCAL_SRC])


def verify_good_shop(page, good_id):
    row = page.locator(f"#shop-{good_id}")
    row.get_by_role("button", name="Verify").click()
    expect(row.locator(".badge")).to_have_text("Verified")


def test_hanging_cdn_does_not_delay_the_page(live_server_factory, standin, new_page, closing):
    cdn = HangingCDN()
    closing(cdn)
    live = portal_with_cdn(live_server_factory, standin, cdn.url, closing)
    seed_company(live)
    good_id, _ = seed_shops(live, standin)
    page = open_signed_in(new_page, live)

    started = time.monotonic()
    page.goto(live.url + "/shops", wait_until="domcontentloaded")
    visible = time.monotonic() - started
    expect(page.locator(f"#shop-{good_id}")).to_be_visible()
    htmx_ready = visible + wait_for_htmx_start(page, limit=5)
    verify_good_shop(page, good_id)
    usable = time.monotonic() - started
    print(f"hanging CDN: page visible {visible:.2f} s, htmx started {htmx_ready:.2f} s, "
          f"Verify done {usable:.2f} s")
    assert visible < 1.5
    assert htmx_ready < 3
    assert usable < 3 + 1.5  # the Verify itself: two stand-in calls with latency 0.1 s, on a busy machine
    assert page.evaluate("window.htmx.version") == "2.0.11"
    assert page.evaluate("window.__htmxStarts") == 1
    assert htmx_scripts(page, cdn.url) == {"cdn": 0, "local": 1}
    assert cdn.held, "the browser did ask the hanging CDN"
    # The CSRF header reached the server through hx-headers: the Verify above was a POST that passed.


def test_cdn_answering_loads_htmx_once(live_server_factory, standin, new_page, closing):
    cdn = FileCDN()
    closing(cdn)
    live = portal_with_cdn(live_server_factory, standin, cdn.url, closing)
    seed_company(live)
    good_id, _ = seed_shops(live, standin)
    page = open_signed_in(new_page, live)
    page.goto(live.url + "/shops")  # the load event comes: nothing is left hanging
    assert wait_for_htmx_start(page, limit=3) < 3
    verify_good_shop(page, good_id)
    page.wait_for_timeout(2500)  # past the fallback timer: it must not start a second copy
    assert page.evaluate("window.htmx.version") == "2.0.11"
    assert page.evaluate("window.__htmxStarts") == 1
    assert htmx_scripts(page, cdn.url) == {"cdn": 1, "local": 0}


def test_cdn_answering_late_is_not_used(live_server_factory, standin, new_page, closing):
    """The CDN answers after the fallback started: its file is fetched but never run."""
    cdn = FileCDN(delay=3.5)
    closing(cdn)
    live = portal_with_cdn(live_server_factory, standin, cdn.url, closing)
    seed_company(live)
    good_id, _ = seed_shops(live, standin)
    page = open_signed_in(new_page, live)
    page.goto(live.url + "/shops", wait_until="domcontentloaded")
    assert wait_for_htmx_start(page, limit=3) < 3
    page.wait_for_load_state("load")  # the CDN has answered by now
    page.wait_for_timeout(300)
    assert page.evaluate("window.__htmxStarts") == 1
    assert htmx_scripts(page, cdn.url) == {"cdn": 0, "local": 1}
    verify_good_shop(page, good_id)
