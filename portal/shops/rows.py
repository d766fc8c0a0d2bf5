"""Row view-models of the Shop list and My shops: every display value of a row computed once, in Python.

A page of 50 rows used to make ~30 template calls per row (gettext, url_for, lifecycle(), filters,
includes); now the template only prints prepared strings. Texts that are the same on every row are
translated once per request (`Texts`); URLs come from url_for through one cached builder per endpoint.
The status cell is shared by the row and the shop's page (`status_html`)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from ..amazon.client import DEFAULT_THROTTLE_SECONDS, THROTTLED
from ..amazon.marketplaces import display_name, in_list_order, marketplace_by_id
from ..models import CHECK_FAILED, CHECK_VERIFIED, utcnow
from .. import orders_sync  # the module: orders_sync imports this package
from ..sync_view import row_line, sync_view
from ..texts import ago, clock, join_list, translations, ymd, zone
from ..urls import UrlBuilder
from .lifecycle import EXPIRED, EXPIRING, Bounds, bounds, lifecycle_at
from .verify import status_view


@dataclass(frozen=True)
class Country:
    code: str
    title: str


@dataclass(frozen=True)
class ShopRow:
    """What one row of the list prints (plain strings are escaped by the template, Markup is ready HTML)."""
    id: int
    dom_id: str
    name: str
    select_label: str
    detail_url: str
    verify_url: str
    region: str
    countries: tuple[Country, ...]
    seller_id: str
    status_html: Markup
    authorized: str
    expires: str
    staff: str  # "" means nobody yet
    reauthorize_url: str = ""  # "" when the row offers no Re-authorize
    sync_html: Markup = Markup("")  # the order sync line (sync_view.row_line), "" when not prefetched


class Texts:
    """The texts every row repeats, translated once per request."""

    def __init__(self):
        self.catalog = catalog = translations()
        _ = catalog.ugettext
        self.ngettext = catalog.ungettext
        self.verified, self.failed, self.not_verified = _("Verified"), _("Failed"), _("Not verified")
        self.expired = _("Authorization expired")
        self.store = _("Amazon store: %(name)s")
        self.checked = _("Checked %(when)s")
        self.attempt = _("Latest attempt %(when)s did not get an answer:")
        self.last_good = _("Last good check: %(when)s.")
        self.request_id = _("Amazon request ID of the latest attempt (for Amazon support):")
        self.select = _("Select %(name)s")
        self.throttled = _("Already checked with Amazon %(when)s; you can check again at %(time)s.")
        self.retry_at = _("You can check again at %(time)s. The saved shop and its last status are unchanged.")
        self.retry_now = _("You can check again now. The saved shop and its last status are unchanged.")
        self.verify, self.details, self.nobody = _("Verify"), _("Details"), _("Nobody yet")
        # The column headings again, as the labels of a row's cells when the table shows as cards (phones).
        self.heading = {"region": _("Region"), "countries": _("Countries"), "seller_id": _("Seller ID"),
                        "status": _("Status"), "dates": _("Authorized / expires"), "staff": _("Staff")}
        self.reauthorize = _("Re-authorize")
        self.csrf = generate_csrf()
        self.zone = zone()
        self.locale = get_locale()


def status_html(shop, authorized_at: datetime, limits: Bounds, texts: Texts, report=None, panel: bool = False) -> Markup:
    """The status cell: last conclusive result, latest attempt, lifecycle (and a throttled Verify's note).

    `shop` is anything with the Shop's check columns (an ORM Shop or a row of the list query). Every
    value goes through escape(); plain f-strings because Markup's % formatting costs ~10x more per value."""
    now, catalog = limits.now, texts.catalog
    life = lifecycle_at(authorized_at, limits)
    parts = ['<div class="status" id="status-panel">' if panel else '<div class="status">']
    if shop.check_status == CHECK_VERIFIED:
        parts.append(f'<span class="badge badge-ok">{escape(texts.verified)}</span>')
    elif shop.check_status == CHECK_FAILED:
        parts.append(f'<span class="badge badge-bad">{escape(texts.failed)}</span>')
    else:
        parts.append(f'<span class="badge badge-muted">{escape(texts.not_verified)}</span>')
    if life.state == EXPIRED:
        parts.append(f' <span class="badge badge-bad">{escape(texts.expired)}</span>')
    elif life.state == EXPIRING:
        days = texts.ngettext("Expires in %(num)d day", "Expires in %(num)d days", life.days_left) % {"num": life.days_left}
        parts.append(f' <span class="badge badge-warn">{escape(days)}</span>')
    if shop.store_name:
        parts.append(f"<br><small>{escape(texts.store % {'name': shop.store_name})}</small>")
    view = status_view(shop)
    if view["result"]:
        message, step = view["result"]
        parts.append(f'<p class="check-message {"warn" if view["warning"] else "bad"}"><small>{escape(message)} '
                     f'<strong>{escape(step)}</strong></small></p>')
    if shop.checked_at:
        parts.append(f'<br><small class="muted">{escape(texts.checked % {"when": ago(shop.checked_at, now, catalog)})}</small>')
    if view["attempt"]:
        message, step = view["attempt"]
        if shop.attempt_code == THROTTLED:  # "try again in 63 seconds" would stay on the page for days
            step = amazon_retry_step(shop, now, texts)
        last_good = (" " + texts.last_good % {"when": ago(shop.last_good_at, now, catalog)}) if shop.last_good_at else ""
        parts.append(f'<p class="check-message warn"><small>{escape(texts.attempt % {"when": ago(shop.attempt_at, now, catalog)})} '
                     f'{escape(message)} <strong>{escape(step)}</strong>{escape(last_good)}</small></p>')
    if panel and getattr(shop, "attempt_request_id", None):
        parts.append(f'<br><small class="muted">{escape(texts.request_id)} <code>{escape(shop.attempt_request_id)}</code></small>')
    if report is not None and not report.performed and report.retry_at is not None:
        note = throttled_note(report, now, texts)
        parts.append(f'<p class="check-message info" role="status"><small>{escape(note)}</small></p>')
    parts.append("</div>")
    return Markup("".join(parts))


def throttled_note(report, now: datetime | None = None, texts: Texts | None = None) -> str:
    """Our own throttle held a Verify back: when Amazon was last asked, and the clock time of the next check
    (from the stored claim time, so the text is right whenever it is shown)."""
    now, texts = now or utcnow(), texts or Texts()
    return texts.throttled % {"when": ago(now - timedelta(seconds=report.seconds_since), now, texts.catalog),
                              "time": clock(report.retry_at, now, texts.zone)}


def amazon_retry_step(shop, now: datetime, texts: Texts) -> str:
    """Amazon throttled the latest attempt: the clock time it allows the next one, from the stored attempt."""
    try:
        seconds = json.loads(shop.attempt_data or "{}").get("retry_after") or DEFAULT_THROTTLE_SECONDS
        retry_at = shop.attempt_at + timedelta(seconds=float(seconds))
    except (ValueError, TypeError, AttributeError):
        retry_at = shop.attempt_at + timedelta(seconds=DEFAULT_THROTTLE_SECONDS)
    if retry_at <= now:
        return texts.retry_now
    return texts.retry_at % {"time": clock(retry_at, now, texts.zone)}


def needs_reauthorization(check_status: str, life_state: str) -> bool:
    """A row asks for a new authorization when Amazon refused the last check or the authorization
    expires soon or has expired."""
    return check_status == CHECK_FAILED or life_state in (EXPIRED, EXPIRING)


class RowBuilder:
    """Builds the rows of one request: URL builders and texts made once, then one call per row.

    `may_reauthorize`: whether the user may re-authorize the shops of these rows (access.may_reauthorize
    decided once for the whole list: admins always, members on My shops, where every shop is theirs)."""

    def __init__(self, limits: Bounds, *, may_reauthorize: bool = False):
        self.limits = limits
        self.texts = Texts()
        self.may_reauthorize = may_reauthorize
        self.detail_url = UrlBuilder("shops.detail", "shop_id")
        self.verify_url = UrlBuilder("shops.verify", "shop_id")
        self.reauthorize_url = UrlBuilder("shops.reauthorize", "shop_id")
        self._countries: dict[str, Country] = {}
        self._sync: dict | None = None

    def prefetch_sync(self, authorization_ids) -> None:
        """Read the order sync state of every row of the page with one query (before building the rows)."""
        self._sync = orders_sync.sync_states(sorted(set(authorization_ids)))

    def sync_line(self, authorization_id: int | None) -> Markup:
        if self._sync is None or authorization_id is None:
            return Markup("")
        return row_line(sync_view(self._sync.get(authorization_id), now=self.limits.now), self.limits.now)

    def country(self, marketplace_id: str) -> Country:
        found = self._countries.get(marketplace_id)
        if found is None:
            marketplace = marketplace_by_id(marketplace_id)
            found = Country(code=marketplace.country_code, title=display_name(marketplace, self.texts.locale)) \
                if marketplace else Country(code="?", title=marketplace_id)
            self._countries[marketplace_id] = found
        return found

    def row(self, shop, *, region: str, seller_id: str, authorized_at: datetime, marketplace_ids, staff=(),
            report=None) -> ShopRow:
        life = lifecycle_at(authorized_at, self.limits)
        reauthorize = self.may_reauthorize and needs_reauthorization(shop.check_status, life.state)
        return ShopRow(
            id=shop.id, dom_id=f"shop-{shop.id}", name=shop.name,
            select_label=self.texts.select % {"name": shop.name},
            detail_url=self.detail_url(shop.id), verify_url=self.verify_url(shop.id),
            region=region, countries=tuple(self.country(m) for m in in_list_order(marketplace_ids)),
            seller_id=seller_id,
            status_html=status_html(shop, authorized_at, self.limits, self.texts, report),
            authorized=ymd(life.authorized_at, self.texts.zone), expires=ymd(life.expires_at, self.texts.zone),
            staff=join_list(staff), reauthorize_url=self.reauthorize_url(shop.id) if reauthorize else "",
            sync_html=self.sync_line(getattr(shop, "authorization_id", None)))

    def from_shop(self, shop, *, with_staff: bool, report=None) -> ShopRow:
        """The row of a loaded ORM Shop (the Verify answer re-renders one row)."""
        if self._sync is None:
            self.prefetch_sync([shop.authorization_id])
        return self.row(shop, region=shop.region, seller_id=shop.seller_id,
                        authorized_at=shop.authorization.authorized_at, marketplace_ids=shop.marketplace_ids,
                        staff=[a.user.display_name for a in shop.assignments] if with_staff else (), report=report)


def list_builder(user, view: str) -> RowBuilder:
    """The row builder of the Shop list ("all", admins only) or My shops ("mine", the user's own shops):
    on both, the user may re-authorize every row's shop (access.may_reauthorize without a query per row)."""
    return RowBuilder(bounds(), may_reauthorize=user.is_admin or view == "mine")


def added_row(shop, view: str | None, user) -> tuple[RowBuilder, ShopRow] | None:
    """The row of a shop just created, for the list `view` the user is looking at; None when the shop
    does not belong in that list (no list, or My shops and the shop is not assigned to the user)."""
    if view == "all" and user.is_admin or view == "mine" and any(a.user_id == user.id for a in shop.assignments):
        builder = list_builder(user, view)
        return builder, builder.from_shop(shop, with_staff=view == "all")
    return None


def shop_status(shop, report=None, panel: bool = False) -> Markup:
    """The status cell of one loaded ORM Shop (its page, and the Verify answer there)."""
    return status_html(shop, shop.authorization.authorized_at, bounds(), Texts(), report, panel)


def member_options(members) -> Markup:
    """The <option>s of the bulk-assign select: (id, name, is_admin) rows, hundreds in a large company."""
    admin = escape(f' ({translations().ugettext("Admin")})')
    return Markup("".join(f'<option value="{int(member_id)}">{escape(name)}{admin if is_admin else ""}</option>'
                          for member_id, name, is_admin in members))
