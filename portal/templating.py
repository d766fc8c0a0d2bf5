"""Every template global and filter of the portal is registered here (called by create_app)."""
from flask import Flask

from .other_stores.catalog import country_name, platform_label
from .texts import ago, day, fast_gettext, fast_ngettext, join_list, list_separator, minute, money, ymd


def register(app: Flask) -> None:
    # Jinja's i18n extension (installed by Flask-Babel) formats and escapes the variables itself.
    app.jinja_env.install_gettext_callables(fast_gettext, fast_ngettext, newstyle=True)
    # The one date and amount format of the portal (portal/texts.py): {{ x|day }} 2026-12-01,
    # {{ x|minute }} 2026-12-01 15:52 (in the portal's time zone), {{ total|money("TWD") }} 2,479.50 TWD.
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["ymd"] = ymd
    app.jinja_env.filters["minute"] = minute
    app.jinja_env.filters["money"] = money
    # Flask-Babel's own filters format by locale (2026年12月1日, "12/1/26, 3:52 PM"): the same format instead.
    app.jinja_env.filters["dateformat"] = day
    app.jinja_env.filters["datetimeformat"] = _minute_any_format
    app.jinja_env.globals["ago"] = ago
    app.jinja_env.globals["list_separator"] = list_separator
    app.jinja_env.filters["join_list"] = join_list
    app.jinja_env.globals["store_platform"] = store_platform
    app.jinja_env.globals["country_label"] = country_name


def _minute_any_format(value, format=None):  # Flask-Babel's signature; every format gives the one format
    return minute(value)


def store_platform(store) -> str:
    return platform_label(store.platform, store.platform_other)

