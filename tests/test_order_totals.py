"""Order totals of an other store: per currency, refunded and cancelled orders shown apart and never counted."""
import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event

from portal.extensions import db
from portal.other_stores.queries import (
    CurrencyTotal,
    OrderFilters,
    filtered_orders,
    order_totals,
)
from portal.other_stores.services import save_order, save_store

HX = {"HX-Request": "true"}

# number, status, currency, total
ORDERS = [
    ("T-1", "paid", "TWD", "1000.00"),
    ("T-2", "delivered", "TWD", "1179.50"),
    ("T-3", "refunded", "TWD", "300.00"),
    ("U-1", "shipped", "USD", "12345.60"),
    ("U-2", "pending", "USD", "0.10"),
    ("U-3", "cancelled", "USD", "0.20"),
    ("U-4", "refunded", "USD", "4.70"),
    ("E-1", "cancelled", "EUR", "20.00"),
]


@pytest.fixture
def store(app, admin_a):
    shop = save_store(admin_a, None, platform="shopee", platform_other=None, name="Shopee TW", countries=["TW"],
                      url=None, login_name=None, notes=None)
    for n, (number, status, currency, total) in enumerate(ORDERS):
        save_order(admin_a, shop, None, order_number=number, order_date=date(2026, 11, 1 + n), status=status,
                   currency=currency, total=Decimal(total), buyer_name=None, notes=None)
    db.session.commit()
    return shop


@pytest.fixture
def admin_client(client, admin_a, login):
    login(client, admin_a)
    return client


class StatementCounter:
    def __init__(self):
        self.statements = []

    def __call__(self, conn, cursor, statement, *args):
        self.statements.append(statement)


@pytest.fixture
def statements(app):
    counter = StatementCounter()
    engine = db.engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


def test_totals_leave_refunded_and_cancelled_out_in_one_query(app, store, statements):
    with app.test_request_context("/"):
        query = filtered_orders(store, OrderFilters())
        statements.statements.clear()
        totals = order_totals(query)
    assert len(statements.statements) == 1  # one aggregate, whatever the number of orders or currencies
    assert totals == [
        CurrencyTotal("EUR", Decimal("0.00"), 0, Decimal("20.00"), 1),
        CurrencyTotal("TWD", Decimal("2179.50"), 2, Decimal("300.00"), 1),
        CurrencyTotal("USD", Decimal("12345.70"), 2, Decimal("4.90"), 2),  # exact: 0.10 + 0.20 style sums
    ]


def test_totals_follow_the_filters(app, store):
    with app.test_request_context("/", query_string={"status": "refunded"}):
        totals = order_totals(filtered_orders(store, OrderFilters()))
    assert totals == [CurrencyTotal("TWD", Decimal("0.00"), 0, Decimal("300.00"), 1),
                      CurrencyTotal("USD", Decimal("0.00"), 0, Decimal("4.70"), 1)]
    with app.test_request_context("/", query_string={"start": "2026-11-02", "end": "2026-11-04"}):
        totals = order_totals(filtered_orders(store, OrderFilters()))
    assert totals == [CurrencyTotal("TWD", Decimal("1179.50"), 1, Decimal("300.00"), 1),
                      CurrencyTotal("USD", Decimal("12345.60"), 1, Decimal("0.00"), 0)]


def test_the_page_shows_the_counted_total_and_the_left_out_orders_apart(admin_client, store):
    body = admin_client.get(f"/other-stores/{store.id}").get_data(as_text=True)
    assert "2,179.50 TWD · 2 orders (1 refunded/cancelled: 300.00 TWD, not counted)" in body
    assert "12,345.70 USD · 2 orders (2 refunded/cancelled: 4.90 USD, not counted)" in body
    assert "0.00 EUR · 0 orders (1 refunded/cancelled: 20.00 EUR, not counted)" in body
    assert "2479.50" not in body and "2,479.50" not in body  # the refunded order is not in the TWD total
    # Rows: the locale's grouping and the currency code; dates as 2026-11-04.
    assert "12,345.60 USD" in body and "2026-11-04" in body


def test_a_currency_without_left_out_orders_says_nothing_about_them(admin_client, admin_a):
    other = save_store(admin_a, None, platform="ebay", platform_other=None, name="eBay", countries=["DE"],
                       url=None, login_name=None, notes=None)
    save_order(admin_a, other, None, order_number="A", order_date=date(2026, 11, 1), status="paid",
               currency="EUR", total=Decimal("0.10"), buyer_name=None, notes=None)
    db.session.commit()
    body = admin_client.get(f"/other-stores/{other.id}", headers=HX).get_data(as_text=True)
    assert "0.10 EUR · 1 order</span>" in body and "not counted" not in body


def test_the_page_in_chinese_groups_amounts_the_same_way(admin_client, store):
    body = admin_client.get(f"/other-stores/{store.id}", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "2,179.50 TWD · 2 笔订单" in body and "12,345.60 USD" in body and "2026-11-04" in body


def test_csv_keeps_plain_numbers_and_iso_dates(admin_client, store):
    response = admin_client.get(f"/other-stores/{store.id}/orders.csv")
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header, rows = table[0], {row[0]: row for row in table[1:]}
    amount, day = header.index("Total amount"), header.index("Order date")
    assert rows["U-1"][amount] == "12345.60"  # no grouping: spreadsheets read it as a number
    assert rows["T-2"][day] == "2026-11-02"
    assert len(rows) == len(ORDERS)  # the CSV lists every order, refunded and cancelled ones too
