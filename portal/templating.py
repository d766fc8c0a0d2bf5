"""Every template global and filter of the portal is registered here (called by create_app)."""
from flask import Flask

from .other_stores.catalog import country_name, platform_label
from .texts import ago, fast_gettext, fast_ngettext, join_list, list_separator, ymd


def register(app: Flask) -> None:
    # Jinja's i18n extension (installed by Flask-Babel) formats and escapes the variables itself.
    app.jinja_env.install_gettext_callables(fast_gettext, fast_ngettext, newstyle=True)
    app.jinja_env.filters["ymd"] = ymd
    app.jinja_env.globals["ago"] = ago
    app.jinja_env.globals["list_separator"] = list_separator
    app.jinja_env.filters["join_list"] = join_list
    app.jinja_env.globals["store_platform"] = store_platform
    app.jinja_env.globals["country_label"] = country_name


def store_platform(store) -> str:
    return platform_label(store.platform, store.platform_other)
