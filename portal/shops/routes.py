from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import contains_eager, selectinload

from ..access import admin_required, assigned_shops, deny, get_visible_shop_or_404, may_reauthorize, visible_shops
from ..amazon.marketplaces import REGIONS
from ..extensions import db
from ..htmx import hx_redirect, is_htmx, render_page
from ..models import (AUTH_PURPOSE_NEW, AUTH_PURPOSE_REAUTHORIZE, CHECK_FAILED, CHECK_NEVER, CHECK_VERIFIED,
                      SellerAuthorization, Shop, ShopAssignment, User, utcnow)
from ..pagination import paginate
from . import bp
from .forms import AssignForm, BulkAssignForm, EditShopForm, ReauthorizeForm, ShopForm, guidance
from ..assignments import company_staff, set_assignees
from ..audit import record
from .services import bulk_assign, create_shop, delete_shop, replace_token, set_user_shops, update_shop
from .authorize import amazon_context
from .saving import save_shop, saved, token_saved

SORTS = {
    "name": (Shop.name_key, Shop.id),
    "-name": (Shop.name_key.desc(), Shop.id.desc()),
    "created": (Shop.created_at, Shop.id),
    "-created": (Shop.created_at.desc(), Shop.id.desc()),
    "expiry": (SellerAuthorization.authorized_at, Shop.id),
    "-expiry": (SellerAuthorization.authorized_at.desc(), Shop.id.desc()),
}
STATUS_FILTERS = ("attention", "verified", "failed", "never", "valid", "expiring", "expired")


def _filters():
    args = request.args
    return {
        "q": args.get("q", "").strip()[:100],
        "region": args.get("region") if args.get("region") in REGIONS else "",
        "status": args.get("status") if args.get("status") in STATUS_FILTERS else "",
        "sort": args.get("sort") if args.get("sort") in SORTS else "name",
    }


def _filtered(query, filters):
    query = query.join(Shop.authorization).options(contains_eager(Shop.authorization))
    if filters["q"]:
        like = f"%{filters['q'].casefold()}%"
        query = query.where(or_(Shop.name_key.like(like), SellerAuthorization.seller_id.like(like.upper())))
    if filters["region"]:
        query = query.where(SellerAuthorization.region == filters["region"])
    if filters["status"]:
        query = query.where(status_conditions()[filters["status"]])
    return query.order_by(*SORTS[filters["sort"]])


def status_conditions() -> dict:
    """SQL conditions for the status filters and the attention banner."""
    cfg = current_app.config
    expired_before = utcnow() - timedelta(days=cfg["AUTHORIZATION_VALIDITY_DAYS"])
    warn_before = expired_before + timedelta(days=cfg["AUTHORIZATION_WARN_DAYS"])
    column = SellerAuthorization.authorized_at
    conditions = {
        "expired": column <= expired_before,
        "expiring": (column > expired_before) & (column <= warn_before),
        "valid": column > warn_before,
        "verified": Shop.check_status == CHECK_VERIFIED,
        "failed": Shop.check_status == CHECK_FAILED,
        "never": Shop.check_status == CHECK_NEVER,
    }
    conditions["attention"] = or_(column <= warn_before, Shop.check_status == CHECK_FAILED)
    return conditions


def attention_counts(base) -> dict:
    """How many of these shops are expired, expiring or failing: one query for the banner."""
    conditions = status_conditions()
    sub = base.join(Shop.authorization).with_only_columns(
        *(func.coalesce(func.sum(case((conditions[key], 1), else_=0)), 0).label(key)
          for key in ("expired", "expiring", "failed"))).order_by(None)
    row = db.session.execute(sub).one()
    return {"expired": row.expired, "expiring": row.expiring, "failed": row.failed}


def _list(view: str, base):
    filters = _filters()
    options = [selectinload(Shop.marketplaces)]
    if view == "all":
        options.append(selectinload(Shop.assignments).selectinload(ShopAssignment.user))
    query = _filtered(base, filters).options(*options)
    count_query = None
    if not (filters["q"] or filters["region"] or filters["status"]):
        # Nothing filters on the seller authorization: count shops alone, from the company index,
        # instead of joining every row to its (large) authorization row.
        count_query = base.with_only_columns(func.count(Shop.id)).order_by(None)
    page = paginate(query, request.args.get("page"), count_query=count_query)
    endpoint = "shops.shop_list" if view == "all" else "shops.my_shops"
    args = {k: v for k, v in filters.items() if v and not (k == "sort" and v == "name")}
    context = {"page": page, "filters": filters, "args": args, "view": view, "endpoint": endpoint,
               "regions": REGIONS, "nav": "shop_list" if view == "all" else "my_shops",
               # The banner is outside the results block: htmx fragments (search, paging) skip its query.
               "attention": None if is_htmx() else attention_counts(base)}
    if view == "all":
        context["members"] = list(db.session.scalars(company_staff(current_user.company_id)))
        context["bulk_form"] = BulkAssignForm()
    return render_page("shops/list.html", "results", **context)


@bp.route("/shops")
@admin_required
def shop_list():
    return _list("all", visible_shops(current_user))


@bp.route("/my-shops")
@login_required
def my_shops():
    return _list("mine", assigned_shops(current_user))


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
    db.session.commit()
    flash(_("Shop “%(name)s” added. Click Verify to check the binding with Amazon.", name=name), "success")
    if replaced and others:
        flash(_("The new token replaced the stored one for seller %(seller)s; it is now used by its other "
                "shops too: %(shops)s.", seller=seller, shops="、".join(others)), "info")
    back = request.args.get("from") == "mine" or not current_user.is_admin
    return hx_redirect(url_for("shops.my_shops" if back else "shops.shop_list"))


@bp.route("/shops/form-fields")
@login_required
def form_fields():
    """The part of the add/edit form that follows the region and mode (htmx swaps it in place)."""
    form_class = EditShopForm if request.args.get("edit") else ShopForm
    form = form_class(formdata=request.args, meta={"csrf": False})
    region = _region_from(request.args.get("region"))
    form.bind_region(region)
    return render_template("shops/_market_fields.html", **_shop_form_context(form, region))


@bp.route("/shops/<int:shop_id>")
@login_required
def detail(shop_id: int):
    shop = get_visible_shop_or_404(current_user, shop_id, selectinload(Shop.marketplaces),
                                   selectinload(Shop.assignments).selectinload(ShopAssignment.user))
    return render_page("shops/detail.html", None, shop=shop, may_reauthorize=may_reauthorize(current_user, shop),
                       nav="shop_list" if current_user.is_admin else "my_shops")


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


@bp.route("/shops/<int:shop_id>/delete", methods=["POST"])
@admin_required
def delete(shop_id: int):
    from ..admin.forms import ConfirmForm

    shop = get_visible_shop_or_404(current_user, shop_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    name = shop.name
    record("shop.deleted", target=shop)
    token_removed = delete_shop(shop)
    db.session.commit()
    message = _("Shop “%(name)s” deleted.", name=name)
    if token_removed:
        message += " " + _("No other shop used its seller authorization, so the stored token was removed too.")
    flash(message, "success")
    return hx_redirect(url_for("shops.shop_list"))


@bp.route("/shops/<int:shop_id>/assign", methods=["GET", "POST"])
@admin_required
def assign(shop_id: int):
    shop = get_visible_shop_or_404(current_user, shop_id, selectinload(Shop.assignments))
    members = list(db.session.scalars(company_staff(current_user.company_id)))
    form = AssignForm()
    if form.validate_on_submit():
        set_assignees(shop, ShopAssignment, selected=set(form.selected.data or []), shown=set(form.shown.data or []))
        record("shop.assignments_changed", target=shop,
               detail="users=" + ",".join(str(a.user_id) for a in shop.assignments))
        db.session.commit()
        flash(_("Staff for “%(name)s” saved.", name=shop.name), "success")
        return hx_redirect(url_for("shops.detail", shop_id=shop.id))
    assigned = {a.user_id for a in shop.assignments}
    return render_page("assign.html", "dialog", title=_("Staff for %(name)s", name=shop.name), members=members,
                       assigned=assigned, action=url_for("shops.assign", shop_id=shop.id),
                       intro=_("Ticked staff see this shop in My shops. Admins see every shop in the Shop list anyway."),
                       nav="shop_list")


@bp.route("/shops/bulk-assign", methods=["POST"])
@admin_required
def bulk_assign_view():
    form = BulkAssignForm()
    if not form.validate_on_submit():
        abort(400)
    user = db.session.scalar(select(User).where(User.company_id == current_user.company_id,
                                                User.id == form.user_id.data))
    if user is None:
        deny("user_account", form.user_id.data)
    shop_ids = set(form.shop_ids.data or [])
    if not shop_ids:
        flash(_("Tick the shops to assign first."), "warning")
        return hx_redirect(request.referrer if _same_site(request.referrer) else url_for("shops.shop_list"))
    added = bulk_assign(current_user.company_id, user, shop_ids)
    record("shop.assignments_changed", target=user, object_type="user_account",
           detail=f"bulk: {added} shops assigned")
    db.session.commit()
    flash(ngettext("%(num)d shop newly assigned to %(name)s.", "%(num)d shops newly assigned to %(name)s.", added,
                   name=user.display_name), "success")
    return hx_redirect(request.referrer if _same_site(request.referrer) else url_for("shops.shop_list"))


def _same_site(url: str | None) -> bool:
    from urllib.parse import urlsplit

    if not url:
        return False
    parts = urlsplit(url)
    return parts.netloc == request.host and parts.path.startswith("/shops")


@bp.route("/admin/users/<int:user_id>/shops", methods=["GET", "POST"])
@admin_required
def user_shops(user_id: int):
    from ..admin.routes import get_company_user_or_404

    user = get_company_user_or_404(user_id)
    form = AssignForm()
    if form.validate_on_submit():
        set_user_shops(user, selected=set(form.selected.data or []), shown=set(form.shown.data or []))
        record("shop.assignments_changed", target=user, object_type="user_account",
               detail="shops=" + ",".join(str(i) for i in sorted(form.selected.data or []))[:400])
        db.session.commit()
        flash(_("Shops of %(name)s saved.", name=user.display_name), "success")
        keep = {k: v for k, v in _filters().items() if v and k != "sort"}
        page_number = request.args.get("page", "")
        if page_number.isdigit():
            keep["page"] = page_number
        return redirect(url_for("shops.user_shops", user_id=user.id, **keep), 303)
    filters = _filters()
    page = paginate(_filtered(visible_shops(current_user), filters), request.args.get("page"))
    assigned = set(db.session.scalars(select(ShopAssignment.shop_id).where(
        ShopAssignment.user_id == user.id, ShopAssignment.shop_id.in_([s.id for s in page.items]))))
    total_assigned = db.session.scalar(select(func.count(ShopAssignment.id)).where(ShopAssignment.user_id == user.id))
    args = {k: v for k, v in filters.items() if v and k != "sort"}
    return render_page("shops/user_shops.html", "results", user=user, page=page, assigned=assigned, form=form,
                       filters=filters, args=args, total_assigned=total_assigned, nav="users")


@bp.route("/shops/<int:shop_id>/verify", methods=["POST"])
@login_required
def verify(shop_id: int):
    """Ask Amazon whether the binding works; htmx gets the shop's row (or status panel) back."""
    from ..admin.forms import ConfirmForm
    from .verify import check_authorization

    target = request.form.get("view", "all")
    options = [selectinload(Shop.marketplaces)]
    if target != "mine":
        options.append(selectinload(Shop.assignments).selectinload(ShopAssignment.user))
    shop = get_visible_shop_or_404(current_user, shop_id, *options)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    # The check updates the loaded shop (and its siblings) in place: the answer renders from them.
    report = check_authorization(shop.authorization_id)
    if not is_htmx():
        if not report.performed and report.seconds_since is not None:
            flash(_("Checked %(seconds)d seconds ago; the next check with Amazon is possible in %(wait)d seconds.",
                    seconds=report.seconds_since, wait=report.wait_seconds), "info")
        return redirect(url_for("shops.detail", shop_id=shop.id), 303)
    if target == "detail":
        return render_template("shops/_status.html", shop=shop, report=report, panel=True)
    view = "all" if target == "all" and current_user.is_admin else "mine"
    return render_template("shops/_row.html", shop=shop, report=report, view=view)
