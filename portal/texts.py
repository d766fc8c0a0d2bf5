"""Texts and dates for long lists, kept cheap: they run once per row.

Flask-Babel's gettext looks up the request's translations on every call (hundreds per list page);
here they are looked up once per request. Dates are shown as ISO dates in the portal's time zone.
"""
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app, g
from flask_babel import get_locale, get_translations, ngettext


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


def _zone() -> ZoneInfo:
    zone = current_app.extensions.get("portal_zone")
    if zone is None:
        zone = current_app.extensions["portal_zone"] = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return zone


def ymd(value: datetime | None, tz: ZoneInfo | None = None) -> str:
    """2026-11-26, in the portal's time zone (readable in both languages, sorts as text); `tz`: zone() at hand."""
    return value.astimezone(tz or _zone()).strftime("%Y-%m-%d") if value else ""


def ago(value: datetime | None, now: datetime, catalog=None) -> str:
    """"5 minutes ago" style text for how long ago `value` was (`catalog`: translations() already at hand)."""
    if value is None:
        return ""
    ngettext = (catalog or translations()).ungettext
    seconds = max(int((now - value).total_seconds()), 0)
    for size, singular, plural in ((86400, "%(num)d day ago", "%(num)d days ago"),
                                   (3600, "%(num)d hour ago", "%(num)d hours ago"),
                                   (60, "%(num)d minute ago", "%(num)d minutes ago")):
        if seconds >= size:
            return ngettext(singular, plural, seconds // size) % {"num": seconds // size}
    return ngettext("%(num)d second ago", "%(num)d seconds ago", seconds) % {"num": seconds}


# Extraction markers: these texts are looked up at run time by ago().
def _messages_for_extraction():  # pragma: no cover
    ngettext("%(num)d day ago", "%(num)d days ago", 1)
    ngettext("%(num)d hour ago", "%(num)d hours ago", 1)
    ngettext("%(num)d minute ago", "%(num)d minutes ago", 1)
    ngettext("%(num)d second ago", "%(num)d seconds ago", 1)
