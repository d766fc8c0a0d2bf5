from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from ..access import admin_required, assigned_shops, get_visible_shop_or_404, may_reauthorize, visible_shops
from ..amazon.marketplaces import REGIONS
from ..audit import record
from ..extensions import db
from ..forms import ConfirmForm
from ..htmx import hx_redirect, is_htmx, render_page
from ..models import AUTH_PURPOSE_NEW, AUTH_PURPOSE_REAUTHORIZE, Shop, ShopAssignment
from ..sync_view import job_status_label, shop_sync_view
from ..texts import join_list
from ..views import finish
from . import bp
from .authorize import amazon_context
from .forms import EditShopForm, ReauthorizeForm, ShopForm, guidance
from .lifecycle import lifecycle
from .queries import ShopFilters, attention_counts, bulk_members, list_page
from .rows import added_row, list_builder, shop_status, throttled_note
from .saving import save_shop, saved, token_saved
from .services import create_shop, delete_shop, replace_token, update_shop
from .verify import check_authorization


@bp.route("/shops")
@admin_required
def shop_list():
    return _list("all", visible_shops(current_user))


@bp.route("/my-shops")
@login_required
def my_shops():
    return _list("mine", assigned_shops(current_user))


def _list(view: str, base):
    everything, filters, builder = view == "all", ShopFilters(), list_builder(current_user, view)
    # The banner is outside the results block: htmx fragments (search, paging) skip its query.
    attention = None if is_htmx() else attention_counts(base, builder.limits)
    page = list_page(base, filters, request.args.get("page"), with_staff=everything, builder=builder,
                     total=attention and attention["total"])
    context = {"page": page, "labels": builder.texts, "filters": filters, "args": filters.args(), "view": view,
               "endpoint": "shops.shop_list" if everything else "shops.my_shops",
               "nav": "shop_list" if everything else "my_shops", "attention": attention}
    if everything:
        context["members"] = bulk_members(current_user.company_id)
    return render_page("shops/list.html", "results", **context)


def _region_from(form_region: str | None) -> str:
    return form_region if form_region in REGIONS else "NA"


def _shop_form_context(form, region):
    return {"form": form, "guide": guidance(region, form.selected_marketplaces()), "regions": REGIONS}


@bp.route("/shops/new", methods=["GET", "POST"])
@login_required
def new_shop():
    form = ShopForm()
    region = _region_from(form.region.data)
    form.bind_region(region)
    done = save_shop(form, lambda: create_shop(
        current_user, visible=visible_shops(current_user), name=form.name.data, region=region, mode=form.mode.data,
        marketplace_ids=form.selected_marketplaces(), seller_id=form.seller_id.data, token=form.token.data,
        authorized_at=form.authorized_at()), _created)
    if done is not None:
        return done
    return render_page("shops/new.html", "dialog", amazon=amazon_context(AUTH_PURPOSE_NEW),
                       **_shop_form_context(form, region))


def _created(result):
    """After create_shop: audit, commit, then messages from values read before the commit."""
    shop, replaced = result.shop, result.token_replaced
    record("shop.created", target=shop, detail=f"seller={shop.seller_id} region={shop.region}")
    if replaced:
        record("shop.token_replaced", target=shop, detail="new token entered with a new shop")
    name, seller, others = shop.name, shop.seller_id, result.other_shops
    under = _list_under_dialog()
    added = added_row(shop, under, current_user)  # built before the commit expires the shop
    db.session.commit()
    flash(_("Shop “%(name)s” added. Click Verify to check the binding with Amazon.", name=name), "success")
    if replaced and others:
        flash(_("The new token replaced the stored one for seller %(seller)s; it is now used by its other "
                "shops too: %(shops)s.", seller=seller, shops=join_list(others)), "info")
    if added is not None:
        return _row_added(under, *added)
    back = request.args.get("from") == "mine" or not current_user.is_admin
    return hx_redirect(url_for("shops.my_shops" if back else "shops.shop_list"))


# The list's rows, where a new shop's row goes (first) when the New shop dialog was opened over the list.
ROWS_TARGET = "#results table.shops > tbody"


def _row_added(view: str, builder, row):
    """The new shop's row, first in the open list (highlighted), the flash messages out of band, and the
    dialog closed (app.js listens to closeDialog): no page load, the list stays on its page and filters."""
    body = render_template("shops/_added.html", row=row, view=view, labels=builder.texts)
    return body, {"HX-Retarget": ROWS_TARGET, "HX-Reswap": "afterbegin", "HX-Trigger": "closeDialog"}


def _list_under_dialog() -> str | None:
    """The list ("all" / "mine") shown under the dialog, as list.js tells htmx requests (X-Shop-List),
    or None: no list there (a full page, an empty list). Only decides what to render, never access."""
    view = request.headers.get("X-Shop-List") if is_htmx() else None
    return view if view in ("all", "mine") else None


@bp.route("/shops/form-fields")
@login_required
def form_fields():
    """The part of the add/edit form that follows the region and mode (htmx swaps it in place)."""
    form_class = EditShopForm if request.args.get("edit") else ShopForm
    form = form_class(formdata=request.args, meta={"csrf": False})
    region = _region_from(request.args.get("region"))
    form.bind_region(region)
    return render_template("shops/_market_fields.html", **_shop_form_context(form, region))


@bp.route("/shops/<int:shop_id>/edit", methods=["GET", "POST"])
@login_required
def edit(shop_id: int):
    shop = get_visible_shop_or_404(current_user, shop_id, selectinload(Shop.marketplaces))
    form = EditShopForm(data=None if request.method == "POST" else {
        "name": shop.name, "mode": shop.mode, "marketplaces": shop.marketplace_ids,
        "marketplace": shop.marketplace_ids[0] if shop.marketplace_ids else ""})
    form.bind_region(shop.region)
    done = save_shop(form, lambda: update_shop(shop, name=form.name.data, mode=form.mode.data,
                                               marketplace_ids=form.selected_marketplaces(),
                                               visible=visible_shops(current_user)), lambda _: _edited(shop))
    if done is not None:
        return done
    shop = get_visible_shop_or_404(current_user, shop_id)  # after a refused save the session was rolled back
    return render_page("shops/edit.html", "dialog", shop=shop, **_shop_form_context(form, shop.region))


def _edited(shop):
    record("shop.updated", target=shop, detail="marketplaces=" + ",".join(shop.marketplace_ids))
    shop_id, name = shop.id, shop.name
    db.session.commit()
    flash(_("Shop “%(name)s” saved.", name=name), "success")
    return hx_redirect(url_for("shops.detail", shop_id=shop_id))


@bp.route("/shops/<int:shop_id>/reauthorize", methods=["GET", "POST"])
@login_required
def reauthorize(shop_id: int):
    shop = get_visible_shop_or_404(current_user, shop_id, selectinload(Shop.assignments))
    if not may_reauthorize(current_user, shop):
        abort(403)
    form = ReauthorizeForm()
    done = save_shop(form, lambda: replace_token(shop, current_user, form.token.data,
                                                 authorized_at=form.authorized_at(), visible=visible_shops(current_user)),
                     lambda others: _pasted(shop, others))
    if done is not None:
        return done
    return render_page("shops/reauthorize.html", "dialog", shop=shop, form=form,
                       guide=guidance(shop.region, shop.marketplace_ids),
                       amazon=amazon_context(AUTH_PURPOSE_REAUTHORIZE, shop))


def _pasted(shop, others):
    record("shop.token_replaced", target=shop, detail=f"re-authorized; shared with {len(others)} other shops")
    facts = saved(shop, others)
    db.session.commit()
    return token_saved(facts)


@bp.route("/shops/<int:shop_id>")
@login_required
def detail(shop_id: int):
    shop = get_visible_shop_or_404(current_user, shop_id, selectinload(Shop.marketplaces),
                                   selectinload(Shop.assignments).selectinload(ShopAssignment.user))
    return render_page("shops/detail.html", None, shop=shop, may_reauthorize=may_reauthorize(current_user, shop),
                       life=lifecycle(shop.authorization), status=shop_status(shop, panel=True),
                       sync=shop_sync_view(shop.authorization_id, period_minutes=current_app.config["ORDERS_SYNC_MINUTES"]),
                       job_status=job_status_label,
                       nav="shop_list" if current_user.is_admin else "my_shops")


@bp.route("/shops/<int:shop_id>/delete", methods=["POST"])
@admin_required
def delete(shop_id: int):
    shop = get_visible_shop_or_404(current_user, shop_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    message = _("Shop “%(name)s” deleted.", name=shop.name)
    record("shop.deleted", target=shop)
    if delete_shop(shop):
        message += " " + _("No other shop used its seller authorization, so the stored token was removed too.")
    return finish(message, url_for("shops.shop_list"))


@bp.route("/shops/<int:shop_id>/verify", methods=["POST"])
@login_required
def verify(shop_id: int):
    """Ask Amazon whether the binding works; htmx gets the shop's row (or status panel) back."""
    target = request.form.get("view", "all")
    view = "all" if target == "all" and current_user.is_admin else "mine"
    options = [selectinload(Shop.marketplaces)]
    if view == "all":
        options.append(selectinload(Shop.assignments).selectinload(ShopAssignment.user))
    shop = get_visible_shop_or_404(current_user, shop_id, *options)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    # The check updates the loaded shop (and its siblings) in place: the answer renders from them.
    report = check_authorization(shop.authorization_id)
    if not is_htmx():
        if not report.performed and report.retry_at is not None:
            flash(throttled_note(report), "info")
        return redirect(url_for("shops.detail", shop_id=shop.id), 303)
    if target == "detail":
        return render_template("shops/_status.html", status=shop_status(shop, report, panel=True))
    return _verified_row(shop, view, report, from_list=target in ("all", "mine"))


def _verified_row(shop, view: str, report, *, from_list: bool):
    """The shop's row after a Verify; from the list, with the attention banner counted afresh."""
    builder = list_builder(current_user, view)
    row = builder.from_shop(shop, with_staff=view == "all", report=report)
    if not from_list:
        return render_template("shops/_row.html", row=row, view=view, labels=builder.texts)
    base = visible_shops(current_user) if view == "all" else assigned_shops(current_user)
    return render_template("shops/_verified.html", row=row, view=view, labels=builder.texts,
                           attention=attention_counts(base, builder.limits),
                           endpoint="shops.shop_list" if view == "all" else "shops.my_shops")
