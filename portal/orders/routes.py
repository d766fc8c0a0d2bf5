"""The Orders page: Amazon and manual orders of the shops and stores the user sees, together."""
from flask import request
from flask_login import current_user, login_required

from ..access import visible_orders
from ..csv_export import csv_response
from ..htmx import render_page
from ..models import utcnow
from ..order_totals import order_totals, orders_counted
from ..texts import day
from . import bp
from .forms import OrderListFilters
from .queries import add_places_of, filter_places, filtered_orders, order_csv_rows, orders_page, visible_places
from .rows import RowBuilder, RowTexts


def _filtered(places):
    filters = OrderListFilters().restrict(places)
    return filters, filtered_orders(current_user, visible_orders(current_user), filters, places)


@bp.route("/orders")
@login_required
def index():
    places = filter_places(current_user, request.args.get("shop"))
    filters, query = _filtered(places)
    totals = order_totals(query)
    page = orders_page(query, orders_counted(totals), request.args.get("page"))
    build = RowBuilder(add_places_of(places, current_user, page.items))
    return render_page("orders/index.html", "results", page=page, rows=[build(order) for order in page.items],
                       texts=build.texts, totals=totals, filters=filters, args=filters.args(), places=places,
                       nav="orders")


@bp.route("/orders.csv")
@login_required
def export():
    places = visible_places(current_user)  # every row's shop name: an export is rare, the page is not
    _filters, query = _filtered(places)
    texts = RowTexts()
    return csv_response(f"orders-{day(utcnow())}.csv", texts.csv_header, order_csv_rows(query, places, texts))
