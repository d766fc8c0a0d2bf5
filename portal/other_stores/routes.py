from flask import abort, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..access import (admin_required, get_visible_order_or_404, get_visible_store_or_404, visible_orders,
                      visible_other_stores)
from ..assignments import set_assignees
from ..audit import record
from ..csv_export import csv_response
from ..extensions import db
from ..forms import AssignForm, ConfirmForm, FormError, show_error
from ..htmx import render_page
from ..models import OtherStore, OtherStoreAssignment, utcnow
from ..texts import N_, day
from ..views import assign_dialog, finish
from . import bp
from ..order_texts import status_labels
from .forms import OrderForm, StoreForm
from .queries import (OrderFilters, StoreFilters, filtered_orders, order_csv_rows, order_totals, orders_page,
                      stores_page)
from .services import delete_order as remove_order
from .services import delete_store, save_order, save_store

ORDER_CSV_HEADER = (N_("Order number"), N_("Order date"), N_("Status"), N_("Currency"), N_("Total amount"),
                    N_("Buyer name"), N_("Notes"), N_("Source"))


@bp.route("/other-stores")
@login_required
def index():
    filters = StoreFilters()
    page = stores_page(visible_other_stores(current_user), filters, request.args.get("page"),
                       with_staff=current_user.is_admin)
    return render_page("other_stores/index.html", "results", page=page, filters=filters, args=filters.args(),
                       nav="other_stores")


@bp.route("/other-stores/new", methods=["GET", "POST"], endpoint="new")
@bp.route("/other-stores/<int:store_id>/edit", methods=["GET", "POST"], endpoint="edit")
@login_required
def save_store_view(store_id: int | None = None):
    """Add (no id) or edit a store: validate, save, audit, commit; or the form with its errors."""
    store = get_visible_store_or_404(current_user, store_id, selectinload(OtherStore.countries)) if store_id else None
    form = StoreForm(obj=store if request.method == "GET" else None)
    if store is not None and request.method == "GET":
        form.countries.data = store.country_codes
    if form.validate_on_submit():
        try:
            saved = save_store(current_user, store, **_store_values(form))
            db.session.flush()
        except (FormError, IntegrityError) as error:
            db.session.rollback()
            store = get_visible_store_or_404(current_user, store_id) if store_id else None
            show_error(form, error if isinstance(error, FormError) else FormError(
                _("Your company already has a store with this name on this platform.")), "name")
        else:
            record("store.updated" if store else "store.created", target=saved, object_type="other_store")
            message = (_("Store “%(name)s” saved.", name=saved.name) if store else
                       _("Store “%(name)s” added.", name=saved.name))
            return finish(message, url_for("other_stores.detail", store_id=saved.id))
    return render_page("other_stores/form.html", "dialog", form=form, store=store, nav="other_stores")


def _store_values(form) -> dict:
    return dict(platform=form.platform.data, platform_other=form.platform_other.data, name=form.name.data,
                countries=form.countries.data, url=form.url.data, login_name=form.login_name.data,
                notes=form.notes.data, currency=form.currency.data)


@bp.route("/other-stores/<int:store_id>")
@login_required
def detail(store_id: int):
    store = get_visible_store_or_404(current_user, store_id, selectinload(OtherStore.countries),
                                     selectinload(OtherStore.assignments).selectinload(OtherStoreAssignment.user))
    filters = OrderFilters()
    query = filtered_orders(store, filters, visible_orders(current_user))
    return render_page("other_stores/detail.html", "orders", store=store, filters=filters, args=filters.args(),
                       page=orders_page(query, request.args.get("page")), totals=order_totals(query),
                       statuses=status_labels(), nav="other_stores")


@bp.route("/other-stores/<int:store_id>/delete", methods=["POST"])
@admin_required
def delete(store_id: int):
    store = get_visible_store_or_404(current_user, store_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    message = _("Store “%(name)s” and its orders deleted.", name=store.name)
    record("store.deleted", target=store, object_type="other_store")
    delete_store(store)
    return finish(message, url_for("other_stores.index"))


@bp.route("/other-stores/<int:store_id>/assign", methods=["GET", "POST"])
@admin_required
def assign(store_id: int):
    store = get_visible_store_or_404(current_user, store_id, selectinload(OtherStore.assignments))
    form = AssignForm()
    if form.validate_on_submit():
        set_assignees(store, OtherStoreAssignment, selected=set(form.selected.data or []),
                      shown=set(form.shown.data or []))
        record("store.assignments_changed", target=store, object_type="other_store",
               detail="users=" + ",".join(str(a.user_id) for a in store.assignments))
        return finish(_("Staff for “%(name)s” saved.", name=store.name),
                      url_for("other_stores.detail", store_id=store.id))
    return assign_dialog(store, title=_("Staff for %(name)s", name=store.name),
                         intro=_("Ticked staff see this store and its orders. Admins see every store anyway."),
                         action=url_for("other_stores.assign", store_id=store.id), nav="other_stores")


@bp.route("/other-stores/<int:store_id>/orders/new", methods=["GET", "POST"], endpoint="new_order")
@bp.route("/other-stores/<int:store_id>/orders/<int:order_id>/edit", methods=["GET", "POST"], endpoint="edit_order")
@login_required
def save_order_view(store_id: int, order_id: int | None = None):
    """Add (no order id) or edit an order of a store the user sees."""
    store, order = get_visible_order_or_404(current_user, store_id, order_id) if order_id else \
        (get_visible_store_or_404(current_user, store_id), None)
    form = OrderForm(obj=order if request.method == "GET" else None, currency=store.currency)
    if form.validate_on_submit():
        try:
            saved = save_order(current_user, store, order, **_order_values(form))
            db.session.flush()
        except (FormError, IntegrityError) as error:
            db.session.rollback()
            show_error(form, error if isinstance(error, FormError) else FormError(
                _("This store already has an order with this number.")), "order_number")
        else:
            record("order.updated" if order else "order.created", target=saved, object_type="order",
                   label=f"{store.name} #{saved.order_number}")
            return finish(_("Order %(number)s saved.", number=saved.order_number),
                          url_for("other_stores.detail", store_id=store.id))
    return render_page("other_stores/order_form.html", "dialog", form=form, store=store, order=order,
                       nav="other_stores")


def _order_values(form) -> dict:
    return dict(order_number=form.order_number.data, order_date=form.order_date.data, status=form.status.data,
                currency=form.currency.data, total=form.total.data, buyer_name=form.buyer_name.data,
                notes=form.notes.data)


@bp.route("/other-stores/<int:store_id>/orders/<int:order_id>/delete", methods=["POST"])
@login_required
def delete_order(store_id: int, order_id: int):
    store, order = get_visible_order_or_404(current_user, store_id, order_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    message = _("Order %(number)s deleted.", number=order.order_number)
    record("order.deleted", target=order, object_type="order", label=f"{store.name} #{order.order_number}")
    back = url_for("other_stores.detail", store_id=store.id, **OrderFilters().args())  # only the known filters
    remove_order(order)
    return finish(message, back)


@bp.route("/other-stores/<int:store_id>/orders.csv")
@login_required
def export_orders(store_id: int):
    store = get_visible_store_or_404(current_user, store_id)
    rows = order_csv_rows(filtered_orders(store, OrderFilters(), visible_orders(current_user)))
    return csv_response(f"orders-store-{store.id}-{day(utcnow())}.csv",
                        [_(text) for text in ORDER_CSV_HEADER], rows)
