import csv
import io
from datetime import date

from flask import Response, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..access import admin_required, deny, get_visible_store_or_404, visible_other_stores
from ..audit import record
from ..assignments import company_staff, set_assignees
from ..extensions import db
from ..htmx import hx_redirect, render_page
from ..models import ORDER_STATUSES, Order, OtherStore, OtherStoreAssignment, OtherStoreCountry
from ..pagination import paginate
from . import bp
from .catalog import PLATFORMS, OTHER, country_choices, country_codes, country_name, platform_choices, platform_label
from .forms import OrderForm, StoreForm, status_labels
from .services import (StoreError, delete_store, get_order, save_order, save_store, store_orders,
                       totals_by_currency)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _store_filters():
    args = request.args
    platform = args.get("platform", "")
    country = args.get("country", "").upper()
    return {"q": args.get("q", "").strip()[:100],
            "platform": platform if platform in PLATFORMS or platform == OTHER else "",
            "country": country if country in country_codes() else ""}


@bp.route("/other-stores")
@login_required
def index():
    filters = _store_filters()
    query = visible_other_stores(current_user).options(selectinload(OtherStore.countries))
    if current_user.is_admin:
        query = query.options(selectinload(OtherStore.assignments).selectinload(OtherStoreAssignment.user))
    if filters["q"]:
        like = f"%{filters['q'].casefold()}%"
        query = query.where(or_(OtherStore.name_key.like(like), OtherStore.platform_key.like(like)))
    if filters["platform"]:
        query = query.where(OtherStore.platform == filters["platform"])
    if filters["country"]:
        query = query.where(OtherStore.id.in_(select(OtherStoreCountry.store_id)
                                              .where(OtherStoreCountry.country_code == filters["country"])))
    page = paginate(query.order_by(OtherStore.name_key, OtherStore.id), request.args.get("page"))
    args = {k: v for k, v in filters.items() if v}
    return render_page("other_stores/index.html", "results", page=page, filters=filters, args=args,
                       platforms=platform_choices(), countries=country_choices(), nav="other_stores")


def _store_form_response(form, store=None):
    return render_page("other_stores/form.html", "dialog", form=form, store=store, nav="other_stores")


def _apply_store_error(form, error: StoreError):
    field = getattr(form, error.field or "name")
    field.errors = list(field.errors) + [error.message]


def _store_values(form):
    return dict(platform=form.platform.data, platform_other=form.platform_other.data, name=form.name.data,
                countries=form.countries.data, url=form.url.data, login_name=form.login_name.data,
                notes=form.notes.data)


@bp.route("/other-stores/new", methods=["GET", "POST"])
@login_required
def new():
    return _save_store_view(StoreForm(), None)


def _save_store_view(form, store):
    """Validate, save (create when `store` is None), audit, commit; or show the form with its errors."""
    if form.validate_on_submit():
        try:
            saved = save_store(current_user, store, **_store_values(form))
            db.session.flush()
        except (StoreError, IntegrityError) as error:
            db.session.rollback()
            if store is not None:
                store = get_visible_store_or_404(current_user, store.id)
            _apply_store_error(form, error if isinstance(error, StoreError) else StoreError(
                _("Your company already has a store with this name on this platform."), "name"))
        else:
            record("store.updated" if store else "store.created", target=saved, object_type="other_store")
            db.session.commit()
            flash(_("Store “%(name)s” saved.", name=saved.name) if store else
                  _("Store “%(name)s” added.", name=saved.name), "success")
            return hx_redirect(url_for("other_stores.detail", store_id=saved.id))
    return _store_form_response(form, store)


@bp.route("/other-stores/<int:store_id>")
@login_required
def detail(store_id: int):
    store = get_visible_store_or_404(current_user, store_id, selectinload(OtherStore.countries),
                                     selectinload(OtherStore.assignments).selectinload(OtherStoreAssignment.user))
    filters, query = _order_query(store)
    page = paginate(query.order_by(Order.order_date.desc(), Order.id.desc()), request.args.get("page"))
    args = {k: v for k, v in filters.items() if v}
    return render_page("other_stores/detail.html", "orders", store=store, page=page, filters=filters, args=args,
                       totals=totals_by_currency(query), statuses=status_labels(), nav="other_stores")


def _parse_date(raw: str | None):
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _order_query(store):
    args = request.args
    filters = {"status": args.get("status") if args.get("status") in ORDER_STATUSES else "",
               "start": args.get("start", "")[:10], "end": args.get("end", "")[:10]}
    query = store_orders(store)
    if filters["status"]:
        query = query.where(Order.status == filters["status"])
    start, end = _parse_date(filters["start"]), _parse_date(filters["end"])
    filters["bad_dates"] = bool(filters["start"] and not start or filters["end"] and not end)
    if start:
        query = query.where(Order.order_date >= start)
    if end:
        query = query.where(Order.order_date <= end)
    return filters, query


@bp.route("/other-stores/<int:store_id>/edit", methods=["GET", "POST"])
@login_required
def edit(store_id: int):
    store = get_visible_store_or_404(current_user, store_id, selectinload(OtherStore.countries))
    form = StoreForm(obj=store if request.method == "GET" else None)
    if request.method == "GET":
        form.countries.data = store.country_codes
    return _save_store_view(form, store)


@bp.route("/other-stores/<int:store_id>/delete", methods=["POST"])
@admin_required
def delete(store_id: int):
    from ..admin.forms import ConfirmForm

    store = get_visible_store_or_404(current_user, store_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    name = store.name
    record("store.deleted", target=store, object_type="other_store")
    delete_store(store)
    db.session.commit()
    flash(_("Store “%(name)s” and its orders deleted.", name=name), "success")
    return hx_redirect(url_for("other_stores.index"))


@bp.route("/other-stores/<int:store_id>/assign", methods=["GET", "POST"])
@admin_required
def assign(store_id: int):
    from ..shops.forms import AssignForm

    store = get_visible_store_or_404(current_user, store_id, selectinload(OtherStore.assignments))
    form = AssignForm()
    if form.validate_on_submit():
        set_assignees(store, OtherStoreAssignment, selected=set(form.selected.data or []),
                      shown=set(form.shown.data or []))
        record("store.assignments_changed", target=store, object_type="other_store",
               detail="users=" + ",".join(str(a.user_id) for a in store.assignments))
        db.session.commit()
        flash(_("Staff for “%(name)s” saved.", name=store.name), "success")
        return hx_redirect(url_for("other_stores.detail", store_id=store.id))
    members = list(db.session.scalars(company_staff(current_user.company_id)))
    return render_page("assign.html", "dialog", title=_("Staff for %(name)s", name=store.name), members=members,
                       assigned={a.user_id for a in store.assignments},
                       action=url_for("other_stores.assign", store_id=store.id),
                       intro=_("Ticked staff see this store and its orders. Admins see every store anyway."),
                       nav="other_stores")


def _order_values(form):
    return dict(order_number=form.order_number.data, order_date=form.order_date.data, status=form.status.data,
                currency=form.currency.data, total=form.total.data, buyer_name=form.buyer_name.data,
                notes=form.notes.data)


def _save_order_view(store, order):
    form = OrderForm(obj=order if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            saved = save_order(current_user, store, order, **_order_values(form))
            db.session.flush()
        except (StoreError, IntegrityError) as error:
            db.session.rollback()
            message = error.message if isinstance(error, StoreError) else \
                _("This store already has an order with this number.")
            form.order_number.errors = list(form.order_number.errors) + [message]
        else:
            record("order.updated" if order else "order.created", target=saved, object_type="order",
                   label=f"{store.name} #{saved.order_number}")
            db.session.commit()
            flash(_("Order %(number)s saved.", number=saved.order_number), "success")
            return hx_redirect(url_for("other_stores.detail", store_id=store.id))
    return render_page("other_stores/order_form.html", "dialog", form=form, store=store, order=order,
                       nav="other_stores")


@bp.route("/other-stores/<int:store_id>/orders/new", methods=["GET", "POST"])
@login_required
def new_order(store_id: int):
    store = get_visible_store_or_404(current_user, store_id)
    return _save_order_view(store, None)


@bp.route("/other-stores/<int:store_id>/orders/<int:order_id>/edit", methods=["GET", "POST"])
@login_required
def edit_order(store_id: int, order_id: int):
    store = get_visible_store_or_404(current_user, store_id)
    order = get_order(store, order_id)
    if order is None:
        deny("store_order", order_id)
    return _save_order_view(store, order)


@bp.route("/other-stores/<int:store_id>/orders/<int:order_id>/delete", methods=["POST"])
@login_required
def delete_order(store_id: int, order_id: int):
    from ..admin.forms import ConfirmForm

    store = get_visible_store_or_404(current_user, store_id)
    order = get_order(store, order_id)
    if order is None:
        deny("store_order", order_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    number = order.order_number
    record("order.deleted", target=order, object_type="order", label=f"{store.name} #{number}")
    db.session.delete(order)
    db.session.commit()
    flash(_("Order %(number)s deleted.", number=number), "success")
    return hx_redirect(url_for("other_stores.detail", store_id=store.id, **request.args))


def csv_cell(value) -> str:
    """Text for a spreadsheet cell: a leading = + - @ (or tab/CR) would start a formula, so quote it."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@bp.route("/other-stores/<int:store_id>/orders.csv")
@login_required
def export_orders(store_id: int):
    store = get_visible_store_or_404(current_user, store_id)
    _filters, query = _order_query(store)
    labels = status_labels()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("Order number"), _("Order date"), _("Status"), _("Currency"), _("Total amount"),
                     _("Buyer name"), _("Notes"), _("Source")])
    for order in db.session.scalars(query.order_by(Order.order_date, Order.id)):
        writer.writerow([csv_cell(order.order_number), order.order_date.isoformat(), csv_cell(str(labels[order.status])),
                         order.currency, f"{order.total:.2f}", csv_cell(order.buyer_name), csv_cell(order.notes),
                         order.source])
    filename = f"orders-store-{store.id}-{date.today().isoformat()}.csv"
    # UTF-8 with BOM so that Excel opens Chinese text correctly.
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.app_template_global()
def store_platform(store) -> str:
    return platform_label(store.platform, store.platform_other)


@bp.app_template_global()
def country_label(code: str) -> str:
    return country_name(code)
