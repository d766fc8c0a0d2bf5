"""Alert texts: one :class:`AlertMessage` per event, in the company's language (Chinese by default).

Built from plain values (no models), so the queue task and the "Send test" button can both call it:
``build_message(kind, shops, language=..., days=..., on=..., reason=..., path=...)``; a channel's daily
digest: ``build_digest_message(groups, language=..., path=...)`` with one :class:`DigestGroup` per kind.
Every message is short: a title, one line per shop (name · Seller ID · countries), the date, what to
do, and a link into the portal (``PORTAL_BASE_URL`` + path).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

AUTH_EXPIRING = "auth_expiring"
AUTH_EXPIRED = "auth_expired"
CHECK_FAILED = "check_failed"
CHECK_RECOVERED = "check_recovered"
SYNC_STOPPED = "sync_stopped"
SYNC_FAILING = "sync_failing"
TEST = "test"
KINDS: tuple[str, ...] = (AUTH_EXPIRING, AUTH_EXPIRED, CHECK_FAILED, CHECK_RECOVERED, SYNC_STOPPED,
                          SYNC_FAILING, TEST)
# How the platforms colour or mark it: "warning" (act soon), "danger" (act now), "ok" (recovered).
SEVERITY = {AUTH_EXPIRING: "warning", AUTH_EXPIRED: "danger", CHECK_FAILED: "danger",
            CHECK_RECOVERED: "ok", SYNC_STOPPED: "danger", SYNC_FAILING: "warning", TEST: "ok"}
MAX_SHOP_LINES = 10


@dataclass(frozen=True)
class ShopRef:
    name: str
    seller_id: str
    countries: Sequence[str] = ()


@dataclass(frozen=True)
class AlertMessage:
    """What a sender sends, language already applied. ``link`` is absolute (or empty)."""

    title: str
    lines: Sequence[str] = ()
    link: str = ""
    link_text: str = ""
    severity: str = "warning"
    kind: str = TEST

    def plain_text(self) -> str:
        parts = [self.title, *self.lines]
        if self.link:
            parts.append(f"{self.link_text}: {self.link}" if self.link_text else self.link)
        return "\n".join(parts)


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days until ``expires_at``, as the shop list counts them (portal/shops/lifecycle.py)."""
    return max(0, (expires_at - now).days)


def portal_link(path: str) -> str:
    """``PORTAL_BASE_URL`` + ``path``; just the path when no base URL is configured."""
    base = (current_app.config.get("PORTAL_BASE_URL") or "").rstrip("/")
    if not path:
        return base
    return f"{base}/{path.lstrip('/')}" if base else path


def _day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return value.isoformat()


def _shop_line(shop: ShopRef) -> str:
    parts = [shop.name, shop.seller_id]
    if shop.countries:
        parts.append(" ".join(shop.countries))
    return " · ".join(part for part in parts if part)


def _what(kind: str, count: int, days: int | None, on: str) -> tuple[str, str]:
    """(title, what to do) for ``kind``."""
    if kind == AUTH_EXPIRING:
        return (ngettext("Amazon authorization of %(num)d shop expires in %(days)s days",
                         "Amazon authorization of %(num)d shops expires in %(days)s days", count,
                         days=days if days is not None else "?"),
                _("Re-authorize before %(date)s, or orders stop syncing.", date=on))
    if kind == AUTH_EXPIRED:
        return (ngettext("Amazon authorization of %(num)d shop has expired",
                         "Amazon authorization of %(num)d shops has expired", count),
                _("Orders no longer sync. Re-authorize the shop in the portal."))
    if kind == CHECK_FAILED:
        return (ngettext("Check of %(num)d shop failed", "Check of %(num)d shops failed", count),
                _("Check the authorization in the portal and re-authorize if needed."))
    if kind == CHECK_RECOVERED:
        return (ngettext("%(num)d shop passes its check again", "%(num)d shops pass their check again",
                         count),
                _("No action needed."))
    if kind == SYNC_STOPPED:
        return (ngettext("Order sync stopped for %(num)d shop", "Order sync stopped for %(num)d shops",
                         count),
                _("Amazon refused access (authorization revoked or role missing). Re-authorize the shop."))
    if kind == SYNC_FAILING:
        return (ngettext("Order sync of %(num)d shop has been failing for over an hour",
                         "Order sync of %(num)d shops has been failing for over an hour", count),
                _("The portal keeps retrying. If it goes on, check the authorization."))
    return (_("Test message from Shop Portal"),
            _("This channel works: alerts will arrive here."))


# Why, in a few words, by the code the check or the order sync stored (portal/amazon/client.py,
# portal/orders_sync.py); codes without a text here add no line.
REASONS = {
    "invalid_grant": _l("Amazon refused the authorization: revoked in Seller Central, expired or mistyped."),
    "forbidden": _l("Amazon denied access: wrong region, or the portal's Amazon app lacks a role."),
    "not_participating": _l("The seller does not sell in some of the shop's countries."),
    "invalid_client": _l("Amazon rejected the portal's own app credentials: for the administrator, not the shop."),
    "secret_expired": _l("The portal's Amazon app secret has expired: for the administrator, not the shop."),
    "unavailable": _l("Amazon could not be reached or did not answer in time."),
    "token_unreadable": _l("The stored authorization cannot be read: re-authorize the shop."),
}


def reason_text(code: str | None) -> str:
    """The short reason for ``code`` in the current locale, or ""."""
    text = REASONS.get(code or "")
    return str(text) if text is not None else ""


def build_message(kind: str, shops: Sequence[ShopRef] = (), *, language: str = "zh",
                  days: int | None = None, on: date | datetime | None = None, reason: str = "",
                  reason_code: str = "",
                  path: str = "/shops") -> AlertMessage:
    """The message for one event (or one digest group) in ``language``.

    ``days``: days left (AUTH_EXPIRING); ``on``: the expiry date, or when the failure started;
    ``reason``: a short, already translated detail added as a line; ``reason_code``: a check or sync
    code (REASONS), translated here."""
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}")
    with force_locale(language or "zh"):
        day = _day(on)
        title, todo = _what(kind, len(shops), days, day)
        lines = [_shop_line(shop) for shop in shops[:MAX_SHOP_LINES]]
        if len(shops) > MAX_SHOP_LINES:
            lines.append(_("… and %(num)d more", num=len(shops) - MAX_SHOP_LINES))
        if reason:
            lines.append(reason)
        if reason_text(reason_code):
            lines.append(reason_text(reason_code))
        if day and kind == AUTH_EXPIRED:
            lines.append(_("Expired on %(date)s", date=day))
        elif day and kind == AUTH_EXPIRING:
            lines.append(_("Expires on %(date)s", date=day))
        elif day and kind in (SYNC_FAILING, CHECK_FAILED):
            lines.append(_("Since %(date)s", date=day))
        lines.append(todo)
        link_text = _("Open in Shop Portal")
    return AlertMessage(title=title, lines=tuple(lines), link=portal_link(path), link_text=link_text,
                        severity=SEVERITY[kind], kind=kind)


DIGEST = "digest"  # AlertMessage.kind of a daily digest
_SEVERITY_ORDER = {"ok": 0, "warning": 1, "danger": 2}


@dataclass(frozen=True)
class DigestGroup:
    """One section of a digest: the shops of one kind (and, for AUTH_EXPIRING, one threshold)."""

    kind: str
    shops: Sequence[ShopRef]
    days: int | None = None
    on: date | datetime | None = None


def build_digest_message(groups: Sequence[DigestGroup], *, language: str = "zh",
                         path: str = "/shops") -> AlertMessage:
    """A daily digest: the title counts the alerts; one section per group (its title, then its shops)."""
    for group in groups:
        if group.kind not in KINDS:
            raise ValueError(f"unknown alert kind {group.kind!r}")
    total = sum(len(group.shops) for group in groups)
    with force_locale(language or "zh"):
        title = ngettext("Shop Portal daily digest: %(num)d alert", "Shop Portal daily digest: %(num)d alerts",
                         total)
        lines: list[str] = []
        for group in groups:
            day = _day(group.on)
            heading, _todo = _what(group.kind, len(group.shops), group.days, day)
            if day and group.kind in (AUTH_EXPIRING, AUTH_EXPIRED):
                heading = _("%(title)s (%(date)s)", title=heading, date=day)
            lines.append(heading)
            lines.extend(f"• {_shop_line(shop)}" for shop in group.shops[:MAX_SHOP_LINES])
            if len(group.shops) > MAX_SHOP_LINES:
                lines.append(_("… and %(num)d more", num=len(group.shops) - MAX_SHOP_LINES))
        link_text = _("Open in Shop Portal")
    severity = max((SEVERITY[group.kind] for group in groups), key=_SEVERITY_ORDER.__getitem__, default="ok")
    return AlertMessage(title=title, lines=tuple(lines), link=portal_link(path), link_text=link_text,
                        severity=severity, kind=DIGEST)
