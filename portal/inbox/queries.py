"""The read side of the Alerts page: a page of the chosen tab's alerts. Every query starts in
portal/access.py (through portal/alerts/inbox.py). A page costs two statements: the COUNT and the page
itself (each event with its shop and seller authorization)."""
from __future__ import annotations

from datetime import datetime, timedelta

from ..alerts.inbox import closed_events, count_query, listing, open_events, unseen_open_events
from ..pagination import Page, paginate
from .forms import CLOSED, OPEN

CLOSED_DAYS = 7  # "Closed recently": the alerts closed in the last week


def tab_events(user, show: str, now: datetime):
    """Select of the events of the tab `show` (unseen, open or closed)."""
    if show == CLOSED:
        return closed_events(user, now - timedelta(days=CLOSED_DAYS))
    return open_events(user) if show == OPEN else unseen_open_events(user)


def alerts_page(user, show: str, raw_page, now: datetime) -> Page:
    """The page `raw_page` of the tab: items are (AlertEvent, seen) rows."""
    events = tab_events(user, show, now)
    return paginate(listing(events, user, closed=show == CLOSED), raw_page, scalars=False,
                    count_query=count_query(events))
