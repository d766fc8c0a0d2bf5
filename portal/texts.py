"""Texts, dates and amounts for long lists, kept cheap: they run once per row.

Flask-Babel's gettext looks up the request's translations on every call (hundreds per list page);
here they are looked up once per request.

One format for dates and times on every page and in every CSV, the same in both languages (readable in
Chinese and English, sorts as text), always in the portal's time zone (BABEL_DEFAULT_TIMEZONE):
  day(value)     2026-12-01
  minute(value)  2026-12-01 15:52        (pages)
  second(value)  2026-12-01 15:52:07     (CSV: the column header names the zone, see zone_name())
  clock(value)   15:53                   ("you can check again at ..."; rounded up to the next minute)
Amounts: money(value, "TWD") is "2,479.50 TWD" with the request locale's grouping (Babel); CSV cells
keep plain machine numbers, csv_amount(value) is "2479.50", so spreadsheets read them as numbers.
"""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import parse_pattern
from flask import current_app, g
from flask_babel import get_locale, get_translations, ngettext

AMOUNT_PATTERN = parse_pattern("#,##0.00")  # parsed once; every amount has two decimals, as stored


def translations():
    """The request's translations, looked up once per request (Flask-Babel looks them up on every call)."""
    translations = g.get("_portal_translations")
    if translations is None:
        translations = g._portal_translations = get_translations()
    return translations


def N_(string: str) -> str:
    """Marks a text for extraction (a default keyword of pybabel); translate it later with fast_gettext."""
    return string


def fast_gettext(string: str) -> str:
    return translations().ugettext(string)


def fast_ngettext(singular: str, plural: str, num: int) -> str:
    return translations().ungettext(singular, plural, num)


def list_separator() -> str:
    """The separator of a list in running text: "、" in Chinese, ", " in English."""
    locale = get_locale()
    return "、" if locale is not None and locale.language == "zh" else ", "


def join_list(items) -> str:
    """Names in running text, joined with the request's list separator ("A、B" or "A, B")."""
    return list_separator().join(str(item) for item in items)


def zone() -> ZoneInfo:
    """The portal's time zone (BABEL_DEFAULT_TIMEZONE), looked up once per app."""
    return _zone()


def zone_name() -> str:
    """The portal's time zone name, e.g. Asia/Shanghai (for CSV headers)."""
    return _zone().key


def _zone() -> ZoneInfo:
    zone = current_app.extensions.get("portal_zone")
    if zone is None:
        zone = current_app.extensions["portal_zone"] = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return zone


def _local(value: datetime, tz: ZoneInfo | None) -> datetime:
    if value.tzinfo is None:  # the models store aware UTC times; a naive one is taken as UTC, never as server time
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(tz or _zone())


def day(value: date | datetime | None, tz: ZoneInfo | None = None) -> str:
    """2026-12-01; a datetime is taken in the portal's time zone (`tz`: zone() at hand)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _local(value, tz)
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


ymd = day  # the older name, kept for callers


def minute(value: datetime | None, tz: ZoneInfo | None = None) -> str:
    """2026-12-01 15:52 in the portal's time zone."""
    if value is None:
        return ""
    value = _local(value, tz)
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}"


def second(value: datetime | None, tz: ZoneInfo | None = None) -> str:
    """2026-12-01 15:52:07 in the portal's time zone (CSV exports: spreadsheets read it as a date-time)."""
    if value is None:
        return ""
    return f"{minute(value, tz)}:{_local(value, tz).second:02d}"


def clock(value: datetime, now: datetime, tz: ZoneInfo | None = None) -> str:
    """When something becomes possible: 15:53, rounded up to the whole minute (so the time shown is never
    too early); with the date in front when that is not today."""
    local = _local(value, tz)
    if local.second or local.microsecond:
        local = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if local.date() != _local(now, tz).date():
        return minute(local, tz)
    return f"{local.hour:02d}:{local.minute:02d}"


def money(value: Decimal | None, currency: str = "") -> str:
    """2,479.50 TWD: two decimals, the request locale's grouping (zh and en: 2,479.50), the ISO currency code."""
    if value is None:
        return ""
    amount = AMOUNT_PATTERN.apply(value, _locale())
    return f"{amount} {currency}" if currency else amount


def csv_amount(value: Decimal | None) -> str:
    """2479.50: a plain number for CSV cells (no grouping, '.' decimals), so spreadsheets can sum it."""
    return "" if value is None else f"{value:.2f}"


def _locale():
    locale = g.get("_portal_locale")
    if locale is None:
        locale = g._portal_locale = get_locale()
    return locale


def ago(value: datetime | None, now: datetime, catalog=None) -> str:
    """"5 minutes ago" style text for how long ago `value` was; "just now" under a minute
    (`catalog`: translations() already at hand)."""
    if value is None:
        return ""
    catalog = catalog or translations()
    seconds = int((now - value).total_seconds())
    for size, singular, plural in ((86400, "%(num)d day ago", "%(num)d days ago"),
                                   (3600, "%(num)d hour ago", "%(num)d hours ago"),
                                   (60, "%(num)d minute ago", "%(num)d minutes ago")):
        if seconds >= size:
            return catalog.ungettext(singular, plural, seconds // size) % {"num": seconds // size}
    return catalog.ugettext("just now")


# Extraction markers: these texts are looked up at run time by ago().
def _messages_for_extraction():  # pragma: no cover
    ngettext("%(num)d day ago", "%(num)d days ago", 1)
    ngettext("%(num)d hour ago", "%(num)d hours ago", 1)
    ngettext("%(num)d minute ago", "%(num)d minutes ago", 1)
    N_("just now")
