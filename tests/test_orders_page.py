"""The Orders page (issue 14, item 4): Amazon and manual orders together, scoped like shops and stores,
with filters, per-currency totals, pagination and a CSV export; Amazon orders are read-only."""
import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from portal.extensions import db
from portal.models import Order, OtherStoreAssignment, utcnow
from portal.other_stores.services import save_order, save_store

HX = {"HX-Request": "true"}
US, CA, DE_MP = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9"
NOT_TRANSACTION = ("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def amazon_order(shop, number, *, day=date(2026, 11, 10), status="shipped", currency="USD", total="10.00",
                 marketplace=US, amazon_status="SHIPPED", items=1):
    """An order as the sync stores it (source "amazon", linked to its shop)."""
    order = Order(company_id=shop.company_id, source="amazon", shop_id=shop.id, order_number=number,
                  amazon_order_id=number, order_date=day, status=status, currency=currency, total=Decimal(total),
                  marketplace_id=marketplace, amazon_status=amazon_status, fulfillment_channel="AMAZON",
                  item_count=items, ordered_at=datetime.combine(day, datetime.min.time(), UTC),
                  last_updated_at=utcnow(), synced_at=utcnow())
    db.session.add(order)
    return order


def store_of(user, name, countries=("DE",), assign=()):
    store = save_store(user, None, platform="ebay", platform_other=None, name=name, countries=list(countries),
                       url=None, login_name=None, notes=None)
    for member in assign:
        store.assignments.append(OtherStoreAssignment(user_id=member.id))
    db.session.flush()
    return store


def manual_order(user, store, number, *, day=date(2026, 11, 5), status="paid", currency="EUR", total="20.00",
                 buyer=None):
    return save_order(user, store, None, order_number=number, order_date=day, status=status, currency=currency,
                      total=Decimal(total), buyer_name=buyer, notes=None)


@pytest.fixture
def world(app, admin_a, member_a, admin_b, make_shop):
    """Company A: an assigned shop (US+CA) and an unassigned one, an assigned store (DE) and an unassigned
    one; company B: a shop with an order. Every order number is a unique canary."""
    mine = make_shop(admin_a, name="Mine Shop", marketplaces=(US, CA), assign=[member_a])
    other = make_shop(admin_a, name="Hidden Shop")
    b_shop = make_shop(admin_b, name="B Shop")
    amazon_order(mine, "111-MINE-US", day=date(2026, 11, 10))
    amazon_order(mine, "111-MINE-CA", day=date(2026, 11, 11), marketplace=CA, currency="CAD", total="30.00")
    amazon_order(other, "111-HIDDEN", day=date(2026, 11, 12))
    amazon_order(b_shop, "111-COMPANY-B", day=date(2026, 11, 12))
    store = store_of(admin_a, "Mine Store", assign=[member_a])
    hidden_store = store_of(admin_a, "Hidden Store", countries=("FR",))
    manual_order(admin_a, store, "M-MINE", day=date(2026, 11, 1))
    manual_order(admin_a, hidden_store, "M-HIDDEN", day=date(2026, 11, 2))
    db.session.commit()
    return {"mine": mine, "other": other, "b_shop": b_shop, "store": store, "hidden_store": hidden_store}


ALL_A = {"111-MINE-US", "111-MINE-CA", "111-HIDDEN", "M-MINE", "M-HIDDEN"}
CANARIES = ALL_A | {"111-COMPANY-B"}


def numbers(body):
    return {number for number in CANARIES if number in body}


def page(client, login, user, query="", headers=None):
    login(client, user)
    response = client.get("/orders" + query, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


# --- scope ---------------------------------------------------------------------------------------------

def test_admin_sees_every_order_of_the_company_and_none_of_another(client, login, admin_a, world):
    body = page(client, login, admin_a)
    assert numbers(body) == ALL_A
    assert "B Shop" not in body


def test_member_sees_only_orders_of_assigned_shops_and_stores(client, login, member_a, world):
    body = page(client, login, member_a)
    assert numbers(body) == {"111-MINE-US", "111-MINE-CA", "M-MINE"}
    assert "Hidden Shop" not in body and "Hidden Store" not in body  # not even as filter options


def test_unassigning_takes_effect_on_the_next_request(client, login, member_a, world):
    login(client, member_a)
    world["mine"].assignments.clear()
    db.session.commit()
    body = client.get("/orders").get_data(as_text=True)
    assert numbers(body) == {"M-MINE"}


@pytest.mark.parametrize("key", ["other", "b_shop"])
def test_out_of_scope_shop_filter_is_ignored_and_leaks_nothing(client, login, member_a, world, key):
    body = page(client, login, member_a, f"?shop=shop-{world[key].id}")
    assert numbers(body) == {"111-MINE-US", "111-MINE-CA", "M-MINE"}
    assert "Hidden Shop" not in body and "B Shop" not in body


def test_out_of_scope_store_filter_and_country_are_ignored(client, login, member_a, world):
    body = page(client, login, member_a, f"?shop=store-{world['hidden_store'].id}&country=FR")
    assert numbers(body) == {"111-MINE-US", "111-MINE-CA", "M-MINE"}
    assert 'value="FR"' not in body  # the hidden store's country is not an option


def test_a_member_without_assignments_gets_the_empty_state(client, login, make_user, company_a, world):
    lonely = make_user(company_a, role="member", email="lonely@example.com")
    body = page(client, login, lonely)
    assert numbers(body) == set()
    assert "No orders yet" in body and "arrive here by themselves" in body and "entered by hand" in body


def test_the_page_needs_sign_in(client, world):
    response = client.get("/orders")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/orders", headers=HX).status_code == 401
    assert client.get("/orders.csv").status_code == 302


# --- filters ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ("?source=amazon", {"111-MINE-US", "111-MINE-CA", "111-HIDDEN"}),
    ("?source=manual", {"M-MINE", "M-HIDDEN"}),
    ("?country=CA", {"111-MINE-CA"}),
    ("?country=US", {"111-MINE-US", "111-HIDDEN"}),
    ("?country=de", {"M-MINE"}),
    ("?status=paid", {"M-MINE", "M-HIDDEN"}),
    ("?start=2026-11-10&end=2026-11-11", {"111-MINE-US", "111-MINE-CA"}),
    ("?start=2026-11-12", {"111-HIDDEN"}),
    ("?q=mine", {"111-MINE-US", "111-MINE-CA", "M-MINE"}),
    ("?q=-ca", {"111-MINE-CA"}),
    ("?q=%25", set()),  # a literal %, not a wildcard
    ("?q=_", set()),
    ("?source=amazon&country=US&q=hidden", {"111-HIDDEN"}),
])
def test_each_filter_narrows_the_list(client, login, admin_a, world, query, expected):
    body = page(client, login, admin_a, query, headers=HX)
    assert numbers(body) == expected


def test_shop_filter_picks_an_amazon_shop_or_an_other_store(client, login, admin_a, world):
    assert numbers(page(client, login, admin_a, f"?shop=shop-{world['mine'].id}", HX)) == {"111-MINE-US",
                                                                                           "111-MINE-CA"}
    assert numbers(client.get(f"/orders?shop=store-{world['store'].id}", headers=HX).get_data(as_text=True)) == {
        "M-MINE"}


def test_shop_select_groups_amazon_shops_and_other_stores(client, login, member_a, world):
    body = page(client, login, member_a, f"?shop=shop-{world['mine'].id}")
    amazon = body.index('<optgroup label="Amazon shops">')
    others = body.index('<optgroup label="Other shops">')
    assert amazon < body.index("Mine Shop") < others < body.index(">Mine Store<")
    assert f'value="shop-{world["mine"].id}" selected' in body
    assert 'value="CA"' in body and 'value="US"' in body and 'value="DE"' in body


def test_htmx_gets_the_results_block_alone(client, login, admin_a, world):
    login(client, admin_a)
    response = client.get("/orders?source=manual", headers=HX)
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'id="filter-shop"' not in body and "M-MINE" in body
    assert "HX-Request" in response.headers.get("Vary", "")
    full = client.get("/orders?source=manual").get_data(as_text=True)
    assert "<html" in full and 'aria-current="page">Orders<' in full


# --- totals -----------------------------------------------------------------------------------------------

def test_totals_per_currency_leave_refunded_and_cancelled_out(client, login, admin_a, make_shop):
    shop = make_shop(admin_a, name="Totals Shop")
    store = store_of(admin_a, "Totals Store")
    amazon_order(shop, "A-1", currency="USD", total="100.10")
    amazon_order(shop, "A-2", currency="USD", total="0.20", status="cancelled", amazon_status="CANCELLED")
    manual_order(admin_a, store, "M-1", currency="USD", total="1000.00")
    manual_order(admin_a, store, "M-2", currency="EUR", total="5.00", status="refunded")
    manual_order(admin_a, store, "M-3", currency="EUR", total="7.50")
    db.session.commit()
    body = page(client, login, admin_a)
    assert "1,100.10 USD · 2 orders (1 refunded/cancelled: 0.20 USD, not counted)" in body
    assert "7.50 EUR · 1 order (1 refunded/cancelled: 5.00 EUR, not counted)" in body
    filtered = client.get("/orders?source=amazon", headers=HX).get_data(as_text=True)
    assert "100.10 USD · 1 order (1 refunded/cancelled: 0.20 USD, not counted)" in filtered
    assert "EUR" not in filtered


# --- pagination ---------------------------------------------------------------------------------------------

def test_pages_newest_first_with_filters_kept(client, login, admin_a, make_shop):
    shop = make_shop(admin_a, name="Paged Shop")
    first = date(2026, 1, 1)
    for n in range(120):
        amazon_order(shop, f"P-{n:04d}", day=first + timedelta(days=n))
    db.session.commit()
    body = page(client, login, admin_a, "?source=amazon")
    assert "P-0119" in body and "P-0070" in body and "P-0069" not in body
    assert body.index("P-0119") < body.index("P-0070")
    assert "1–50 of 120" in body and "page=2" in body and "source=amazon" in body
    second = client.get("/orders?source=amazon&page=2", headers=HX).get_data(as_text=True)
    assert "P-0069" in second and "P-0020" in second and "P-0070" not in second
    last = client.get("/orders?page=99", headers=HX).get_data(as_text=True)  # clamped to the last page
    assert "P-0000" in last and "101–120 of 120" in last


# --- CSV --------------------------------------------------------------------------------------------------

def test_csv_of_the_filtered_list_is_spreadsheet_safe(client, login, admin_a, world):
    manual_order(admin_a, world["store"], "=1+2", day=date(2026, 12, 1), buyer='=HYPERLINK("http://x.example")',
                 total="1234.50")
    db.session.commit()
    login(client, admin_a)
    response = client.get("/orders.csv?source=manual")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header, rows = table[0], {row[0]: row for row in table[1:]}
    assert header == ["Order number", "Order date", "Source", "Shop", "Country", "Status", "Amazon status",
                      "Fulfillment", "Items", "Currency", "Total amount", "Buyer name"]
    assert set(rows) == {"'=1+2", "M-MINE", "M-HIDDEN"}  # the filter applies; a formula is quoted
    row = rows["'=1+2"]
    assert row[1] == "2026-12-01" and row[2] == "Manual entry" and row[3] == "Mine Store" and row[4] == "DE"
    assert row[10] == "1234.50" and row[11] == "'=HYPERLINK(\"http://x.example\")"
    assert list(rows) == ["'=1+2", "M-HIDDEN", "M-MINE"]  # newest first, as on the page


def test_csv_is_scoped_and_names_amazon_in_words(client, login, member_a, world):
    login(client, member_a)
    table = list(csv.reader(io.StringIO(client.get("/orders.csv").get_data(as_text=True).lstrip("\ufeff"))))
    rows = {row[0]: row for row in table[1:]}
    assert set(rows) == {"111-MINE-US", "111-MINE-CA", "M-MINE"}
    assert rows["111-MINE-CA"][2:10] == ["Amazon", "Mine Shop", "CA", "Shipped", "SHIPPED", "AMAZON", "1", "CAD"]


def test_csv_in_chinese_translates_the_header_and_source(client, login, admin_a, world):
    login(client, admin_a)
    response = client.get("/orders.csv?source=amazon", headers={"Accept-Language": "zh"})
    header = next(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert header[0] == "订单号"


# --- Amazon orders are read-only -----------------------------------------------------------------------

def test_amazon_orders_have_no_edit_or_delete_and_manual_ones_link_to_their_store(client, login, admin_a, world):
    body = page(client, login, admin_a)
    amazon_id = db.session.scalar(select(Order.id).where(Order.order_number == "111-MINE-US"))
    manual_id = db.session.scalar(select(Order.id).where(Order.order_number == "M-MINE"))
    amazon_row = body[body.index(f'id="order-{amazon_id}"'):]
    amazon_row = amazon_row[:amazon_row.index("</tr>")]
    assert "Read-only" in amazon_row and "edit" not in amazon_row.lower().replace("cannot be edited", "")
    assert f'href="/shops/{world["mine"].id}"' in amazon_row
    manual_row = body[body.index(f'id="order-{manual_id}"'):]
    manual_row = manual_row[:manual_row.index("</tr>")]
    assert f'href="/other-stores/{world["store"].id}">Edit on the shop' in manual_row


def test_store_order_routes_refuse_an_amazon_order_id(client, login, admin_a, world):
    login(client, admin_a)
    amazon_id = db.session.scalar(select(Order.id).where(Order.order_number == "111-MINE-US"))
    store_id = world["store"].id
    assert client.get(f"/other-stores/{store_id}/orders/{amazon_id}/edit").status_code == 404
    assert client.post(f"/other-stores/{store_id}/orders/{amazon_id}/edit",
                       data={"order_number": "X", "order_date": "2026-11-01", "status": "paid", "currency": "USD",
                             "total": "1"}).status_code == 404
    assert client.post(f"/other-stores/{store_id}/orders/{amazon_id}/delete").status_code == 404
    order = db.session.get(Order, amazon_id)
    db.session.refresh(order)
    assert order.order_number == "111-MINE-US" and order.total == Decimal("10.00")


def test_a_member_cannot_edit_a_manual_order_of_a_store_not_assigned(client, login, member_a, world):
    login(client, member_a)
    hidden = db.session.scalar(select(Order.id).where(Order.order_number == "M-HIDDEN"))
    assert client.get(f"/other-stores/{world['hidden_store'].id}/orders/{hidden}/edit").status_code == 404
    assert client.post(f"/other-stores/{world['store'].id}/orders/{hidden}/delete").status_code == 404
    assert db.session.get(Order, hidden) is not None


# --- bad input ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "?page=x", "?page=-5", "?page=99999999999999999999", "?start=9999-99-99", "?end=２０２６-01-01",
    "?start=2999-01-01", "?shop=shop-99999999999", "?shop=store-0", "?shop=shop-", "?shop=nonsense",
    "?shop=shop-12%00", "?country=ZZZ", "?country=%00%00", "?status=lost", "?source=ebay",
    "?q=" + "x" * 5000, "?q=%F0%9F%92%A9", "?shop=shop-１２",
])
def test_bad_input_never_fails(client, login, admin_a, world, query):
    login(client, admin_a)
    for path in ("/orders", "/orders.csv"):
        for headers in (None, HX):
            response = client.get(path + query, headers=headers)
            # A NUL byte is refused for the whole portal by the input guard (400), before this page.
            assert response.status_code == (400 if "%00" in query else 200), (path, query, response.status_code)


def test_a_bad_date_is_ignored_with_a_message(client, login, admin_a, world):
    body = page(client, login, admin_a, "?start=9999-99-99", HX)
    assert "A date filter was not understood" in body and numbers(body) == ALL_A


# --- statements per page --------------------------------------------------------------------------------

def _count(app, client, path):
    statements = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(NOT_TRANSACTION):
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(statements)


def _fill(admin, shop, store, n, start):
    for i in range(n):
        amazon_order(shop, f"S-{start + i:05d}", day=date(2026, 1, 1) + timedelta(days=i % 300),
                     currency=("USD", "CAD")[i % 2], status=("shipped", "cancelled")[i % 7 == 0])
        db.session.add(Order(company_id=admin.company_id, source="manual", other_store_id=store.id,
                             order_number=f"SM-{start + i:05d}", order_date=date(2026, 2, 1), status="paid",
                             currency="EUR", total=Decimal("1.00")))
    db.session.commit()


@pytest.mark.parametrize("role", ["admin", "member"])
def test_statements_per_page_do_not_grow_with_the_orders(app, client, login, admin_a, member_a, make_shop, role):
    shop = make_shop(admin_a, name="Busy Shop", assign=[member_a])
    store = store_of(admin_a, "Busy Store", assign=[member_a])
    login(client, admin_a if role == "admin" else member_a)
    _fill(admin_a, shop, store, 25, 0)
    counts = {}
    for path in ("/orders", "/orders?page=2&source=amazon&country=US", "/orders.csv"):
        small = _count(app, client, path)
        _fill(admin_a, shop, store, 225, 100_000 + len(counts) * 1000)  # 50 orders → 500 and more
        counts[path] = (small, _count(app, client, path))
    assert db.session.scalar(select(func.count(Order.id))) >= 500
    for path, (small, large) in counts.items():
        assert small == large, (path, small, large)
    assert counts["/orders"][0] <= 8


# --- orders pulled from Amazon through the sync -------------------------------------------------------------

def test_orders_pulled_by_the_sync_appear_on_the_page(amazon_app, standin, people, login):
    from devtools.standin import make_order
    from portal import orders_sync
    from portal.shops.services import create_shop

    admin, member = people
    token, seller = "Atzr|orders-page-seller-0123456789", "A1PAGE00000001"
    standin.register(token, seller_id=seller, scenario="valid", marketplaces=(US,), region="NA")
    shop = create_shop(admin, name="Synced Shop", region="NA", mode="single", marketplace_ids=[US],
                       seller_id=seller, token=token).shop
    db.session.commit()
    created = utcnow() - timedelta(days=2)
    standin.put_order(seller, make_order("111-0000001-0000001", created=created, status="SHIPPED", amount="42.50"))
    standin.put_order(seller, make_order("111-0000001-0000002", created=created, status="CANCELLED", amount="9.00"))
    assert orders_sync.sync_authorization(shop.authorization_id).created == 2
    client = amazon_app.test_client()
    login(client, admin)
    body = client.get("/orders").get_data(as_text=True)
    assert "111-0000001-0000001" in body and "111-0000001-0000002" in body and "Synced Shop" in body
    assert "42.50 USD · 1 order (1 refunded/cancelled: 9.00 USD, not counted)" in body
    client = amazon_app.test_client()
    login(client, member)  # not assigned to the shop
    assert "111-0000001-0000001" not in client.get("/orders").get_data(as_text=True)


def test_the_page_in_chinese(client, login, admin_a, world):
    body = page(client, login, admin_a, headers={"Accept-Language": "zh"})
    assert "<html lang=\"zh-CN\"" in body and numbers(body) == ALL_A
    assert "30.00 CAD · 1 笔订单" in body and "2026-11-11" in body


# --- a company with more shops than a select can hold -------------------------------------------------------

@pytest.fixture
def many(app, world):
    """ORDERS_PLACE_SELECT_LIMIT below the company's count: the shop filter becomes a search by name."""
    app.config["ORDERS_PLACE_SELECT_LIMIT"] = 1
    yield world
    app.config["ORDERS_PLACE_SELECT_LIMIT"] = 300


def _get(client, query=""):
    response = client.get("/orders" + query)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


def test_many_shops_filter_by_name_instead_of_a_select(client, login, admin_a, many):
    body = page(client, login, admin_a)
    assert 'id="filter-shop"' not in body and 'name="shop_q"' in body
    assert numbers(body) == ALL_A
    assert "Mine Shop" in body and "Hidden Store" in body  # the rows still name their shops
    assert 'value="FR"' in body and 'value="DE"' in body and 'value="CA"' in body  # every visible country
    assert numbers(_get(client, "?shop_q=mine")) == {"111-MINE-US", "111-MINE-CA", "M-MINE"}
    assert numbers(_get(client, "?shop_q=hidden%20store")) == {"M-HIDDEN"}
    assert numbers(_get(client, "?country=FR")) == {"M-HIDDEN"}
    chosen = _get(client, f"?shop=shop-{many['other'].id}")
    assert numbers(chosen) == {"111-HIDDEN"} and f'name="shop" value="shop-{many["other"].id}"' in chosen


def test_many_shops_name_search_stays_in_scope(client, login, member_a, many):
    assert numbers(page(client, login, member_a, "?shop_q=hidden")) == set()
    assert numbers(_get(client, "?shop_q=b%20shop")) == set()
    body = _get(client, f"?shop=shop-{many['other'].id}&country=FR")
    assert numbers(body) == {"111-MINE-US", "111-MINE-CA", "M-MINE"}  # out of scope: both ignored
    assert "Hidden Shop" not in body and 'value="FR"' not in body
