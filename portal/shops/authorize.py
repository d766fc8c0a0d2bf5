"""Authorize with Amazon: the website authorization workflow of the portal's public SP-API app.

POST /amazon/start → Seller Central's consent page → GET /amazon/callback (state checked and
consumed, code exchanged at once, countries asked from Amazon) → /amazon/finish?attempt=<id> (name and
countries) for a new shop, or straight back to the shop when re-authorizing it. GET /amazon/login
is the app's log-in URI for authorizations started in Seller Central ("Manage Your Apps").
"""
from __future__ import annotations

from functools import wraps

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..access import get_visible_shop_or_404, may_reauthorize, visible_shops
from ..amazon import client as amazon
from ..amazon.marketplaces import marketplaces_in
from ..audit import record
from ..database import write_intent
from ..extensions import db
from ..fields import parse_db_id
from ..htmx import hx_redirect, is_htmx, render_page
from ..models import AUTH_PURPOSE_NEW, AUTH_PURPOSE_REAUTHORIZE, SellerAuthorization, Shop
from ..texts import join_list
from . import bp
from .forms import FinishForm, StartForm
from .oauth import (EXPIRED, USED, AppSettings, consume, create_state, finish, held_token, hold_token,
                    participating, pending_finish, unfinished_attempt)
from .saving import save_shop, saved, token_saved
from .services import ShopError, create_shop, replace_token, shared_shop_names
from .validation import InputProblem, normalize_seller_id
from .verify import check_authorization, get_client


@bp.record
def _register_routes(state) -> None:
    """The Amazon routes exist only when the portal has a public app (AMAZON_APP_ID, read at start):
    without it only the paste path is offered. The callback and the log-in URI are GETs that write
    (they consume or create a state) because Amazon's protocol sends the browser there with a GET."""
    if not state.app.config.get("AMAZON_APP_ID"):
        return
    state.add_url_rule("/amazon/start", "amazon_start", amazon_start, methods=["POST"])
    state.add_url_rule("/amazon/callback", "amazon_callback", amazon_callback)
    state.add_url_rule("/amazon/finish", "amazon_finish", amazon_finish, methods=["GET", "POST"])
    state.add_url_rule("/amazon/login", "amazon_login", amazon_login)


def app_settings() -> AppSettings | None:
    """The public app's settings, or None when AMAZON_APP_ID is not set (only pasting is offered)."""
    cfg = current_app.config
    if not cfg.get("AMAZON_APP_ID"):
        return None
    return AppSettings(app_id=cfg["AMAZON_APP_ID"], draft=bool(cfg.get("AMAZON_APP_DRAFT")),
                       redirect_uri=cfg.get("AMAZON_REDIRECT_URI") or url_for("shops.amazon_callback", _external=True),
                       seller_central_url=cfg.get("AMAZON_SELLER_CENTRAL_URL"))


def amazon_context(purpose: str, shop: Shop | None = None) -> dict:
    """What a dialog needs for its "Authorize with Amazon" button."""
    if app_settings() is None:
        return {"enabled": False}
    return {"enabled": True, "form": StartForm(), "shop": shop,
            "unfinished": unfinished_attempt(current_user, purpose=purpose, shop_id=shop.id if shop else None)}


def _no_referrer(response):
    """The callback's URL holds Amazon's code: never send it on as a Referer."""
    response = make_response(response)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _outcome(message: str, *, shop_id: int | None = None, status: int = 400, detail: str = ""):
    """A page that says what happened and offers to start again (nothing is kept from the attempt)."""
    if detail:
        record("amazon.authorize_refused", outcome="failure", object_type="shop" if shop_id else None,
               object_id=shop_id, detail=detail)
    db.session.commit()
    again = url_for("shops.reauthorize", shop_id=shop_id) if shop_id else url_for("shops.new_shop")
    page = render_template("shops/amazon_result.html", message=message, again=again)
    return _no_referrer((page, status))


def _reauthorizable(shop_id: int) -> Shop:
    shop = get_visible_shop_or_404(current_user, shop_id)
    if not may_reauthorize(current_user, shop):
        abort(403)
    return shop


@login_required
def amazon_start():
    settings, form = app_settings() or abort(404), StartForm()
    if not form.validate_on_submit():
        abort(400)
    shop = _reauthorizable(form.shop_id.data) if form.shop_id.data else None
    try:
        if shop is not None:  # a member may not replace a token that hidden shops share
            shared_shop_names(shop.authorization, current_user, visible_shops(current_user), shop.id)
    except ShopError as error:
        return render_page("shops/amazon_result.html", "dialog", message=error.message, again=None), 403
    region = shop.region if shop else form.region.data
    marketplace = shop.marketplace_ids[0] if shop and shop.marketplace_ids else form.chosen_marketplace()
    purpose = AUTH_PURPOSE_REAUTHORIZE if shop else AUTH_PURPOSE_NEW
    state = create_state(current_user, purpose=purpose, region=region, marketplace_id=marketplace,
                         shop_id=shop.id if shop else None, shop_name=None if shop else (form.name.data or "")[:100],
                         minutes=current_app.config["AMAZON_AUTH_STATE_MINUTES"])
    record("amazon.authorize_started", target=shop, detail=f"purpose={purpose} region={region} via=portal")
    url = settings.consent_url(state, marketplace, region)
    db.session.commit()
    if is_htmx():
        return hx_redirect(url)
    return render_template("shops/amazon_continue.html", url=url)  # CSP form-action keeps a POST on this site


_STATE_MESSAGES = {
    USED: _l("This authorization was already used (the page was opened twice or reloaded). Nothing was changed."),
    EXPIRED: _l("This authorization was started more than %(minutes)d minutes ago and has expired. "
                "Nothing was changed."),
}


def _get_that_writes(view):
    """Amazon sends the browser to the callback and the log-in URI with GETs that write. End the
    sign-in check's read transaction first and take SQLite's write lock at BEGIN (a deferred
    read-then-write fails at once when another writer committed in between)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        db.session.commit()
        with write_intent():
            return view(*args, **kwargs)

    return wrapped


@login_required
@_get_that_writes
def amazon_callback():
    app_settings() or abort(404)
    args = request.args
    taken, why = consume(args.get("state"), current_user)
    db.session.commit()  # used up now, whatever Amazon answers; no transaction open while Amazon is asked
    if taken is None:
        message = _STATE_MESSAGES.get(why, _l("This authorization does not belong to your session or is unknown."))
        minutes = current_app.config["AMAZON_AUTH_STATE_MINUTES"]
        return _outcome(str(message) % {"minutes": minutes} + " " + _("Start again."), detail=f"state {why}")
    seller_id = _seller_id(args.get("selling_partner_id"))
    if args.get("error") or not args.get("spapi_oauth_code") or not seller_id:
        return _outcome(_("Amazon did not authorize the app (the seller cancelled or Seller Central refused). "
                          "Start again."), shop_id=taken.shop_id, detail=f"no code: {str(args.get('error'))[:40]}")
    exchange = get_client().exchange_authorization_code(code=args["spapi_oauth_code"],
                                                        redirect_uri=app_settings().redirect_uri)
    if not exchange.ok:
        return _outcome(_exchange_message(exchange.code), shop_id=taken.shop_id, detail=f"exchange {exchange.code}")
    if taken.purpose == AUTH_PURPOSE_REAUTHORIZE:
        return _no_referrer(_reauthorized(taken, seller_id, exchange.refresh_token))
    hold_token(taken.id, seller_id=seller_id, token=exchange.refresh_token,
               participating=_participating(taken.region, exchange.refresh_token))
    db.session.commit()
    return _no_referrer(redirect(url_for("shops.amazon_finish", attempt=taken.id), 303))


def _seller_id(raw: str | None) -> str | None:
    try:
        return normalize_seller_id(raw or "")
    except InputProblem:
        return None


def _exchange_message(code: str) -> str:
    if code == amazon.INVALID_GRANT:
        return _("Amazon's authorization code expired (it is valid for 5 minutes) or was already used. Start again.")
    if code in (amazon.INVALID_CLIENT, amazon.NOT_CONFIGURED):
        return _("Amazon refused the portal's app credentials. Ask the person who runs the portal to check "
                 "AMAZON_LWA_CLIENT_ID and AMAZON_LWA_CLIENT_SECRET.")
    if code in (amazon.THROTTLED, amazon.UNAVAILABLE, amazon.BAD_RESPONSE):
        return _("Amazon could not be reached or answered oddly. Wait a minute and start again.")
    return _("Amazon refused the request (code %(code)s). Start again.", code=code)


def _participating(region: str, token: str) -> list[str] | None:
    """The marketplaces of `region` the seller participates in, asked at once (None if Amazon did not say)."""
    mids = [m.marketplace_id for m in marketplaces_in(region)]
    outcome = get_client().check_authorization(auth_key="consent", refresh_token=token, region=region,
                                               marketplace_ids=mids)
    if not outcome.participations:
        return None
    return [p["marketplace_id"] for p in outcome.participations
            if p["is_participating"] and p["marketplace_id"] in mids]


def _reauthorized(taken, seller_id: str, token: str):
    """Re-authorize shop N: only with the same seller account; the old token stays otherwise."""
    shop = get_visible_shop_or_404(current_user, taken.shop_id)
    finish(taken.id)
    if seller_id != shop.seller_id:
        return _outcome(_("You signed in to Seller Central with another account: Amazon returned Seller ID %(got)s, "
                          "but this shop belongs to %(expected)s. The old authorization is kept. Sign in to Seller "
                          "Central as %(expected)s and start again.", got=seller_id, expected=shop.seller_id),
                        shop_id=shop.id, detail=f"other seller {seller_id} for {shop.seller_id}")
    try:
        others = replace_token(shop, current_user, token, visible=visible_shops(current_user))
    except ShopError as error:
        return _outcome(error.message, shop_id=shop.id, status=403, detail="shared with hidden shops")
    record("amazon.authorize_completed", target=shop, detail=f"re-authorized seller={seller_id}")
    record("shop.token_replaced", target=shop, detail=f"through Amazon; shared with {len(others)} other shops")
    facts = saved(shop, others)
    db.session.commit()
    return token_saved(facts)


@login_required
def amazon_finish():
    app_settings() or abort(404)
    row = pending_finish(parse_db_id(request.args.get("attempt")) or 0, current_user)
    if row is None:
        return _outcome(_("This authorization is finished or has expired. Start again."), status=410)
    countries = participating(row)
    form = FinishForm()
    form.bind_participations(row.region, countries)
    if request.method == "GET":
        form.preselect(countries)
        form.name.data = row.shop_name
    done = save_shop(form, lambda: _bind(row, form), lambda result: _bound(row, result))
    if done is not None:
        return done
    return render_page("shops/amazon_finish.html", "dialog", form=form, row=row, countries=countries)


def _bind(row, form):
    return create_shop(current_user, visible=visible_shops(current_user), name=form.name.data, region=row.region,
                       mode=form.mode.data, marketplace_ids=form.selected_marketplaces(), seller_id=row.seller_id,
                       token=held_token(row))


def _bound(row, result):
    """The shop is bound: close the attempt, audit, commit, check every shop of the authorization."""
    finish(row.id)
    shop = result.shop
    record("shop.created", target=shop, detail=f"seller={row.seller_id} region={row.region} via=amazon")
    record("amazon.authorize_completed", target=shop, detail=f"new shop seller={row.seller_id}")
    if result.token_replaced:
        record("shop.token_replaced", target=shop, detail="new token from Amazon with a new shop")
    facts = saved(shop, result.other_shops)
    db.session.commit()
    check_authorization(facts.authorization_id, force=True)  # a consent is single-use: no flood possible
    return _finished_message(facts)


def _finished_message(facts):
    flash(_("Shop “%(name)s” bound through Amazon.", name=facts.name), "success")
    if facts.others:
        flash(_("The new authorization replaced the stored one; it is now used by its other shops too: %(shops)s.",
                shops=join_list(facts.others)), "info")
    return hx_redirect(url_for("shops.detail", shop_id=facts.shop_id))


@login_required
@_get_that_writes
def amazon_login():
    """The app's log-in URI: Seller Central sends the seller here, we send them back with a state."""
    settings = app_settings() or abort(404)
    callback, amazon_state = request.args.get("amazon_callback_uri", ""), request.args.get("amazon_state", "")
    region = settings.callback_region(callback)
    if region is None or not amazon_state or len(amazon_state) > 2000:
        return _outcome(_("This link does not come from Seller Central. Start the authorization from the portal."),
                        detail="log-in URI with a foreign callback")
    shop, region, marketplace = _login_target(request.args.get("selling_partner_id", ""), region)
    purpose = AUTH_PURPOSE_REAUTHORIZE if shop else AUTH_PURPOSE_NEW
    state = create_state(current_user, purpose=purpose, region=region, marketplace_id=marketplace,
                         shop_id=shop.id if shop else None, minutes=current_app.config["AMAZON_AUTH_STATE_MINUTES"])
    record("amazon.authorize_started", target=shop, detail=f"purpose={purpose} region={region} via=seller-central")
    db.session.commit()
    return redirect(settings.login_redirect(callback, amazon_state, state, request.args.get("version") == "beta"), 302)


def _login_target(selling_partner_id: str, region: str):
    """(shop to re-authorize or None, region, marketplace) for a log-in URI visit."""
    seller_id = _seller_id(selling_partner_id)
    query = visible_shops(current_user).join(Shop.authorization).where(SellerAuthorization.seller_id == seller_id)
    if region != "override":
        query = query.where(SellerAuthorization.region == region)
    shop = db.session.scalar(query.order_by(Shop.id).limit(1)) if seller_id else None
    if shop is not None and may_reauthorize(current_user, shop):
        first = shop.marketplace_ids[0] if shop.marketplace_ids else marketplaces_in(shop.region)[0].marketplace_id
        return shop, shop.region, first
    region = "NA" if region == "override" else region
    return None, region, marketplaces_in(region)[0].marketplace_id
