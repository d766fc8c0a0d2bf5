"""User-facing texts for verify outcomes: what happened, in plain words, and what to do next.

Texts are Flask-Babel lazy strings (English source; translations live in the catalog). Turning
them into ``str`` — which :func:`describe` does — translates for the current request's locale, so
call it inside a request or app context of an app with ``Babel(app)`` initialised. Outside any
context it falls back to the English source text; inside an app without Babel it fails.
"""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from portal.amazon import client
from portal.amazon.client import VerifyOutcome
from portal.amazon.marketplaces import display_name, marketplace_by_id

# code -> (message, next step)
MESSAGES: dict[str, tuple[Any, Any]] = {
    client.VERIFIED: (
        _l("Verified: Amazon accepted this shop's authorization for all selected marketplaces."),
        _l("Nothing to do. Authorizations last 365 days; re-authorize the shop before then."),
    ),
    client.INVALID_GRANT: (
        _l("Amazon refused this shop's authorization: it was revoked in Seller Central, has "
           "expired (authorizations last 365 days), or the token was mistyped."),
        _l("Re-authorize the shop in Seller Central and paste the new refresh token "
           "(Re-authorize)."),
    ),
    client.INVALID_CLIENT: (
        _l("Amazon rejected the portal's own application credentials. This is not a problem "
           "with this shop's authorization."),
        _l("Administrator: check the settings %(settings)s. The LWA client secret must be "
           "rotated every 180 days; an expired secret causes this. The shop needs no change."),
    ),
    client.FORBIDDEN: (
        _l("Amazon denied access to this shop's data. Either the shop was authorized in a "
           "different region than the one chosen here (a token works only at its own region's "
           "endpoint), or the portal's Amazon application lacks a role that allows this check "
           "(Amazon's guide for the Sellers API names the Finance and Accounting role)."),
        _l("Check the shop's region (North America, Europe or Far East) and fix it if it is "
           "wrong. If it is right, ask the administrator to add the missing role to the "
           "developer profile and the application in the Amazon developer console, then "
           "re-authorize the shop (a token only carries the roles the app had when it was "
           "authorized)."),
    ),
    client.NOT_PARTICIPATING: (
        _l("Amazon says this seller account does not sell in: %(marketplaces)s."),
        _l("Remove those marketplaces from the shop, or check that the authorization belongs "
           "to the right seller account."),
    ),
    client.THROTTLED: (
        _l("Amazon is limiting how often this shop can be checked (one check about every 63 "
           "seconds)."),
        _l("Try again in %(seconds)s seconds. The saved shop and its last status are "
           "unchanged."),
    ),
    client.UNAVAILABLE: (
        _l("Amazon could not be reached or did not answer in time."),
        _l("Try again in a few minutes. The saved shop and its last status are unchanged."),
    ),
    client.BAD_RESPONSE: (
        _l("Amazon answered with something unexpected instead of the shop's data."),
        _l("Try again later; if it keeps happening, tell the administrator. The saved shop and "
           "its last status are unchanged."),
    ),
    client.NOT_CONFIGURED: (
        _l("The portal is not connected to Amazon yet: these settings are missing: "
           "%(settings)s."),
        _l("Ask the administrator to set them and restart the portal. The saved shop is "
           "unchanged."),
    ),
    client.SECRET_EXPIRED: (
        _l("Amazon says the portal's own LWA client secret has expired. This is not a problem "
           "with this shop's authorization."),
        _l("Administrator: create a new client secret for the application in the Amazon "
           "developer console (secrets must be rotated every 180 days), set "
           "AMAZON_LWA_CLIENT_SECRET and restart the portal. The shop and its last status are "
           "unchanged."),
    ),
    client.REFUSED: (
        _l("Amazon refused the request (code %(code)s). This says nothing about the shop's "
           "authorization."),
        _l("Try again later. If it keeps happening, tell the administrator, with the Amazon "
           "request ID shown on the shop's page. The saved shop and its last status are "
           "unchanged."),
    ),
    client.BAD_REQUEST: (
        _l("Amazon rejected the check as invalid, or the shop's details cannot be checked as "
           "they are."),
        _l("Check the shop's region and marketplaces and the token you pasted. An old MWS "
           "token (starting with amzn.mws.) no longer works: paste the LWA refresh token "
           "(starting with Atzr|). If it keeps happening, tell the administrator."),
    ),
}

SUSPENDED: tuple[Any, Any] = (
    _l("Verified, but Amazon reports suspended (inactive) listings in: %(marketplaces)s."),
    _l("Check the listing status in Seller Central. The authorization itself is fine."),
)


def marketplace_list(marketplace_ids: list[str], locale: object = None) -> str:
    """Marketplace names for a message, in the given locale; unknown IDs are shown as-is."""
    names = []
    for mid in marketplace_ids:
        mp = marketplace_by_id(mid)
        names.append(display_name(mp, locale) if mp else mid)
    chinese = locale is not None and str(locale).lower().startswith("zh")
    return ("、" if chinese else ", ").join(names)


def describe(outcome: VerifyOutcome) -> tuple[str, str]:
    """Return ``(message, next_step)`` for an outcome, translated for the current locale.

    Needs a Flask request/app context with Babel for translation (see the module docstring).
    """
    locale = get_locale()
    params = {
        "marketplaces": marketplace_list(outcome.missing_marketplaces
                                         or outcome.suspended_marketplaces, locale),
        "seconds": outcome.retry_after or client.DEFAULT_THROTTLE_SECONDS,
        "settings": ", ".join(outcome.missing_settings
                              or ["AMAZON_LWA_CLIENT_ID", "AMAZON_LWA_CLIENT_SECRET"]),
        "code": outcome.amazon_code or "?",
    }
    if outcome.code == client.VERIFIED and outcome.suspended_marketplaces:
        message, next_step = SUSPENDED
    else:
        message, next_step = MESSAGES[outcome.code]
    # Formatting after translation keeps placeholders intact in the catalog.
    return str(message) % params, str(next_step) % params
