"""Small helpers shared by the browser journeys (fixtures live in conftest.py)."""
import re

NOT_FOUND = "This page does not exist, or you do not have access to it."
FORBIDDEN = "You do not have permission to do this."


def path_is(live_server, path):
    """A URL matcher for expect(page).to_have_url: exactly this path, any query string."""
    return re.compile("^" + re.escape(live_server.url + path) + r"(\?.*)?$")


def count_navigations(page) -> list[str]:
    """URLs the main frame navigates to from now on (htmx swaps add nothing here)."""
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    return navigations


class SameDocument:
    """Proof that no page load happened: a value on `window` (gone after any navigation) plus the
    main frame's navigations since `start()`."""

    def __init__(self, page):
        self.page = page
        self.navigations = count_navigations(page)
        page.evaluate("window.__sameDocument = 1")

    def holds(self) -> bool:
        return self.page.evaluate("window.__sameDocument") == 1 and self.navigations == []


def main_nav(page):
    return page.locator("header nav .main-nav")


def dialog(page):
    return page.locator("#dialog")


def flash(page):
    return page.locator("#messages")


def row_id(row) -> int:
    """The database id in a table row's id attribute ("shop-12", "store-3")."""
    return int(row.get_attribute("id").rsplit("-", 1)[1])


def outer_html(locator) -> str:
    return locator.evaluate("element => element.outerHTML")



def follow(page, locator):
    """Click a link that loads another page, and wait for that page's "load": its deferred scripts (htmx,
    app.js) have run by then, so an htmx button on it works at once (a click before would do nothing)."""
    with page.expect_navigation(wait_until="load"):
        locator.click()
