"""Who works on which shop: the assign dialog, bulk assignment from the list, and a user's shops page."""
from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ..access import admin_required, get_company_user_or_404, get_visible_shop_or_404, visible_shops
from ..assignments import bulk_change, set_assignees
from ..audit import record
from ..forms import AssignForm, BulkAssignForm, parse_id
from ..htmx import hx_redirect, render_page
from ..models import Shop, ShopAssignment
from ..urls import same_site_referrer
from ..views import assign_dialog, finish
from . import bp
from .queries import ShopFilters, user_shops_page
from .services import set_user_shops


@bp.route("/shops/<int:shop_id>/assign", methods=["GET", "POST"])
@admin_required
def assign(shop_id: int):
    shop = get_visible_shop_or_404(current_user, shop_id, selectinload(Shop.assignments))
    form = AssignForm()
    if form.validate_on_submit():
        set_assignees(shop, ShopAssignment, selected=set(form.selected.data or []), shown=set(form.shown.data or []))
        record("shop.assignments_changed", target=shop,
               detail="users=" + ",".join(str(a.user_id) for a in shop.assignments))
        return finish(_("Staff for “%(name)s” saved.", name=shop.name), url_for("shops.detail", shop_id=shop.id))
    return assign_dialog(shop, title=_("Staff for %(name)s", name=shop.name),
                         intro=_("Ticked staff see this shop in My shops. Admins see every shop in the Shop list anyway."),
                         action=url_for("shops.assign", shop_id=shop.id), nav="shop_list")


@bp.route("/shops/bulk-assign", methods=["POST"])
@admin_required
def bulk_assign_view():
    """Assign the ticked shops to a staff member, or remove them from the member (action=remove)."""
    form = BulkAssignForm()
    if not form.validate_on_submit():
        abort(400)
    user = get_company_user_or_404(current_user, form.user_id.data)
    back = same_site_referrer("/shops") or url_for("shops.shop_list")
    shop_ids, add = set(form.shop_ids.data or []), form.action.data != "remove"
    if not shop_ids:
        flash(_("Tick the shops to assign first.") if add else _("Tick the shops to remove first."), "warning")
        return hx_redirect(back)
    changed = bulk_change(Shop, ShopAssignment.shop_id, user, shop_ids, add=add)
    record("shop.assignments_changed", target=user, object_type="user_account",
           detail=f"bulk: {len(changed)} shops {'assigned' if add else 'unassigned'}; shops="
                  + ",".join(map(str, changed)))
    return finish(_bulk_message(len(changed), user.display_name, add), back)


def _bulk_message(changed: int, name: str, add: bool) -> str:
    if add:
        return ngettext("%(num)d shop newly assigned to %(name)s.", "%(num)d shops newly assigned to %(name)s.",
                        changed, name=name)
    if not changed:
        return _("None of the ticked shops was assigned to %(name)s; nothing changed.", name=name)
    return ngettext("%(num)d shop removed from %(name)s.", "%(num)d shops removed from %(name)s.", changed, name=name)


@bp.route("/admin/users/<int:user_id>/shops", methods=["GET", "POST"])
@admin_required
def user_shops(user_id: int):
    user = get_company_user_or_404(current_user, user_id)
    filters, form = ShopFilters(), AssignForm()
    args = {k: v for k, v in filters.args().items() if k != "sort"}
    if form.validate_on_submit():
        set_user_shops(user, selected=set(form.selected.data or []), shown=set(form.shown.data or []))
        record("shop.assignments_changed", target=user, object_type="user_account",
               detail="shops=" + ",".join(str(i) for i in sorted(form.selected.data or []))[:400])
        page = parse_id(request.args.get("page"))
        return finish(_("Shops of %(name)s saved.", name=user.display_name),
                      url_for("shops.user_shops", user_id=user.id, **args, **({"page": page} if page else {})), plain=True)
    page, assigned, total = user_shops_page(visible_shops(current_user), filters, request.args.get("page"), user)
    return render_page("shops/user_shops.html", "results", user=user, page=page, assigned=assigned, form=form,
                       filters=filters, args=args, total_assigned=total, nav="users")
