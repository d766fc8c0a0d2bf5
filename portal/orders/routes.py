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
from .queries import filtered_orders, order_csv_rows, orders_page, visible_places
from .rows import RowBuilder, RowTexts


def _filtered():
    places = visible_places(current_user)
    filters = OrderListFilters().restrict(places)
    return places, filters, filtered_orders(visible_orders(current_user), filters, places)


@bp.route("/orders")
@login_required
def index():
    places, filters, query = _filtered()
    totals = order_totals(query)
    page = orders_page(query, orders_counted(totals), request.args.get("page"))
    build = RowBuilder(places)
    return render_page("orders/index.html", "results", page=page, rows=[build(order) for order in page.items],
                       texts=build.texts, totals=totals, filters=filters, args=filters.args(), places=places,
                       nav="orders")


@bp.route("/orders.csv")
@login_required
def export():
    places, _filters, query = _filtered()
    texts = RowTexts()
    return csv_response(f"orders-{day(utcnow())}.csv", texts.csv_header, order_csv_rows(query, places, texts))
