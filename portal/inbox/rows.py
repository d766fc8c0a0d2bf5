"""Row view-models of the Alerts page: every display value of a row computed once, in Python; the texts
every row repeats are translated once per request (Texts)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import ngettext
from flask_wtf.csrf import generate_csrf

from ..alerts.messages import (AUTH_EXPIRED, AUTH_EXPIRING, CHECK_FAILED, CHECK_RECOVERED, SEVERITY, SYNC_FAILING,
                               SYNC_STOPPED, days_left)
from ..models import AlertEvent
from ..texts import N_, ago, day, translations, zone
from ..urls import UrlBuilder

# The kind in one or two words (the badge) and in a sentence.
LABELS = {AUTH_EXPIRING: N_("Expiring soon"), AUTH_EXPIRED: N_("Expired"), CHECK_FAILED: N_("Check failed"),
          CHECK_RECOVERED: N_("Recovered"), SYNC_STOPPED: N_("Sync stopped"), SYNC_FAILING: N_("Sync failing")}
TITLES = {AUTH_EXPIRED: N_("Amazon authorization has expired"),
          CHECK_FAILED: N_("The shop's check with Amazon failed"),
          CHECK_RECOVERED: N_("The shop passes its check with Amazon again"),
          SYNC_STOPPED: N_("Order sync stopped: Amazon refused access"),
          SYNC_FAILING: N_("Order sync has been failing for over an hour")}
EXPIRING_TITLE = ("Amazon authorization expires in %(num)d day", "Amazon authorization expires in %(num)d days")
BADGES = {"warning": "badge-warn", "danger": "badge-bad", "ok": "badge-ok"}
# Kinds whose fix is a re-authorization, on the shop's page.
REAUTHORIZE_KINDS = {AUTH_EXPIRING, AUTH_EXPIRED, SYNC_STOPPED}


@dataclass(frozen=True)
class AlertRow:
    """What one row prints (plain strings: the template escapes them)."""
    id: int
    dom_id: str
    kind: str
    label: str
    badge: str  # the badge's CSS class, from the kind's severity
    title: str
    shop_id: int
    shop: str
    shop_url: str
    seller_id: str
    date: str
    raised: str  # how long ago the alert was raised
    closed: str  # "Closed on …", "" while open
    seen: bool
    seen_url: str
    reauthorize_url: str  # the shop's page (where re-authorizing happens), "" when not the fix


class Texts:
    """The texts (and the CSRF token) every row repeats, translated once per request; `show` and `page`
    are the tab and page the row's button comes back to without htmx."""

    def __init__(self, show: str, page: int):
        self.catalog = catalog = translations()
        _ = catalog.ugettext
        self.labels = {kind: _(text) for kind, text in LABELS.items()}
        self.titles = {kind: _(text) for kind, text in TITLES.items()}
        self.alert, self.seen, self.mark_seen = _("Alert"), _("Seen"), _("Mark seen")
        self.reauthorize = _("Re-authorize on the shop's page")
        self.expires_on, self.expired_on = _("Expires on %(date)s"), _("Expired on %(date)s")
        self.since, self.closed_on = _("Since %(date)s"), _("Closed on %(date)s")
        self.heading = {"shop": _("Shop"), "seller_id": _("Seller ID"), "date": _("Date"), "raised": _("Raised")}
        self.csrf = generate_csrf()
        self.show, self.page = show, page
        self.zone = zone()

    def title(self, event: AlertEvent, now: datetime) -> str:
        if event.kind == AUTH_EXPIRING:
            # The days left now (as the shop list counts them), not the threshold that raised the alert.
            days = days_left(event.due_at, now) if event.due_at else (event.days or 0)
            return self.catalog.ungettext(*EXPIRING_TITLE, days) % {"num": days}
        return self.titles.get(event.kind, self.alert)

    def date(self, event: AlertEvent) -> str:
        when = day(event.due_at or event.created_at, self.zone)
        text = {AUTH_EXPIRING: self.expires_on, AUTH_EXPIRED: self.expired_on}.get(event.kind, self.since)
        return text % {"date": when}


class RowBuilder:
    def __init__(self, show: str, page: int, now: datetime):
        self.texts, self.now = Texts(show, page), now
        self.shop_url = UrlBuilder("shops.detail", "shop_id")
        self.seen_url = UrlBuilder("inbox.mark_seen_view", "event_id")

    def __call__(self, event: AlertEvent, seen: bool) -> AlertRow:
        texts, shop = self.texts, event.shop
        open_ = event.closed_at is None
        return AlertRow(
            id=event.id, dom_id=f"alert-{event.id}", kind=event.kind,
            label=texts.labels.get(event.kind, texts.alert), badge=BADGES.get(SEVERITY.get(event.kind), "badge-muted"),
            title=texts.title(event, self.now), shop_id=shop.id, shop=shop.name, shop_url=self.shop_url(shop.id),
            seller_id=shop.seller_id, date=texts.date(event), raised=ago(event.created_at, self.now, texts.catalog),
            closed="" if open_ else texts.closed_on % {"date": day(event.closed_at, texts.zone)},
            seen=bool(seen), seen_url=self.seen_url(event.id),
            reauthorize_url=self.shop_url(shop.id) if open_ and event.kind in REAUTHORIZE_KINDS else "")


def _messages_for_extraction():  # pragma: no cover
    ngettext("Amazon authorization expires in %(num)d day", "Amazon authorization expires in %(num)d days", 1)
