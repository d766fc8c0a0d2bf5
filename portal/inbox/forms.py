"""The Alerts page's filter (the tab) and the form of its buttons."""
from flask_wtf import FlaskForm
from wtforms import HiddenField

from ..pagination import page_number

UNSEEN, OPEN, CLOSED = "unseen", "open", "closed"
SHOWS = (UNSEEN, OPEN, CLOSED)


def parse_show(raw) -> str:
    """The tab asked for; anything else is the default tab (unseen)."""
    return raw if isinstance(raw, str) and raw in SHOWS else UNSEEN


class SeenForm(FlaskForm):
    """Mark seen / Mark all seen: the CSRF token, and the tab and page to come back to without htmx."""

    show = HiddenField()
    page = HiddenField()

    def back_to(self) -> dict:
        """The list's query arguments to return to (well-formed values only)."""
        args = {"show": parse_show(self.show.data)}
        number = page_number(self.page.data)
        if number > 1:
            args["page"] = number
        return args
