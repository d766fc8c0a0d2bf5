"""Other stores: records of shops on other platforms, and their orders entered by hand."""
import csv
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Order, OtherStore, OtherStoreAssignment

HX = {"HX-Request": "true"}
EBAY = {"platform": "ebay", "name": "eBay Germany", "countries": ["DE", "GB"], "url": "https://www.ebay.de/str/acme",
        "login_name": "acme-de", "notes": "Main EU store"}
ORDER = {"order_number": "12-34567-89012", "order_date": "2026-11-20", "status": "paid", "currency": "EUR",
         "total": "19.99", "buyer_name": "Max Mustermann", "notes": ""}


@pytest.fixture
def admin_client(client, admin_a, login):
    login(client, admin_a)
    return client


@pytest.fixture
def make_store(app):
    from portal.other_stores.services import save_store

    def make(user, name="Store", platform="ebay", countries=("DE",), assign=()):
        store = save_store(user, None, platform=platform, platform_other=None, name=name, countries=list(countries),
                           url=None, login_name=None, notes=None)
        for member in assign:
            store.assignments.append(OtherStoreAssignment(user_id=member.id))
        db.session.commit()
        return store

    return make


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_records_only_explained_and_empty_state(admin_client):
    body = admin_client.get("/other-stores").get_data(as_text=True)
    assert "records only" in body and "must be entered by hand" in body and "No other shops yet" in body


def test_add_store(admin_client, company_a):
    form = admin_client.get("/other-stores/new", headers=HX).get_data(as_text=True)
    assert "<html" not in form and "No password or API secret" in form and 'name="password"' not in form
    response = admin_client.post("/other-stores/new", data=EBAY, headers=HX)
    store = db.session.scalar(select(OtherStore))
    assert response.headers["HX-Redirect"] == f"/other-stores/{store.id}"
    assert store.company_id == company_a.id and store.country_codes == ["DE", "GB"] and store.platform == "ebay"
    listing = admin_client.get("/other-stores").get_data(as_text=True)
    assert "eBay Germany" in listing and '<abbr title="Germany">DE</abbr>' in listing


def test_other_platform_needs_its_name(admin_client):
    response = admin_client.post("/other-stores/new", data=dict(EBAY, platform="other", platform_other=""), headers=HX)
    assert "Enter the platform&#39;s name." in response.get_data(as_text=True)
    admin_client.post("/other-stores/new", data=dict(EBAY, platform="other", platform_other="Kaufland"), headers=HX)
    store = db.session.scalar(select(OtherStore))
    assert store.platform_other == "Kaufland" and "Kaufland" in admin_client.get("/other-stores").get_data(as_text=True)


@pytest.mark.parametrize("changes,message", [
    ({"url": "javascript:alert(1)"}, "starting with http:// or https://"),
    ({"url": "ftp://example.com/"}, "starting with http:// or https://"),
    ({"url": "data:text/html,hi"}, "starting with http:// or https://"),
    ({"name": ""}, "This field is required."),
    ({"name": "x" * 10_000}, "cannot be longer than 100"),
    ({"countries": []}, "Pick at least one country."),
    ({"countries": ["XX"]}, "is not a valid choice"),  # the first error only
    ({"platform": "myspace"}, "Not a valid choice"),
])
def test_store_validation(admin_client, changes, message):
    response = admin_client.post("/other-stores/new", data=dict(EBAY, **changes), headers=HX)
    assert message in response.get_data(as_text=True)
    assert count(OtherStore) == 0


def test_store_name_unique_per_platform(admin_client):
    admin_client.post("/other-stores/new", data=EBAY, headers=HX)
    duplicate = admin_client.post("/other-stores/new", data=dict(EBAY, name="EBAY  germany"), headers=HX)
    assert "already has a shop with this name on this platform" in duplicate.get_data(as_text=True)
    other_platform = admin_client.post("/other-stores/new", data=dict(EBAY, platform="walmart"), headers=HX)
    assert "HX-Redirect" in other_platform.headers
    assert count(OtherStore) == 2


def test_search_and_filters(admin_client, admin_a, make_store):
    make_store(admin_a, name="Berlin shop", countries=["DE"])
    make_store(admin_a, name="Manila shop", platform="shopee", countries=["PH"])
    by_name = admin_client.get("/other-stores", query_string={"q": "berlin"}, headers=HX).get_data(as_text=True)
    assert "Berlin shop" in by_name and "Manila shop" not in by_name and "<html" not in by_name
    by_platform = admin_client.get("/other-stores", query_string={"platform": "shopee"}, headers=HX).get_data(as_text=True)
    assert "Manila shop" in by_platform and "Berlin shop" not in by_platform
    by_country = admin_client.get("/other-stores", query_string={"country": "de"}, headers=HX).get_data(as_text=True)
    assert "Berlin shop" in by_country and "Manila shop" not in by_country


def test_member_sees_only_assigned_stores_and_creator_is_assigned(app, admin_a, member_a, make_store, login):
    make_store(admin_a, name="Assigned", assign=[member_a])
    make_store(admin_a, name="Hidden")
    client = app.test_client()
    login(client, member_a)
    body = client.get("/other-stores").get_data(as_text=True)
    assert "Assigned" in body and "Hidden" not in body
    client.post("/other-stores/new", data=dict(EBAY, name="Mine"), headers=HX)
    mine = db.session.scalar(select(OtherStore).where(OtherStore.name == "Mine"))
    assert [a.user_id for a in mine.assignments] == [member_a.id]


def test_edit_and_delete_store(admin_client, admin_a, make_store):
    store = make_store(admin_a, name="Old name")
    form = admin_client.get(f"/other-stores/{store.id}/edit", headers=HX).get_data(as_text=True)
    assert 'value="Old name"' in form and re.search(r'<input checked[^>]*name="countries" type="checkbox" value="DE">', form)
    admin_client.post(f"/other-stores/{store.id}/edit", data=dict(EBAY, name="New name"), headers=HX)
    assert db.session.get(OtherStore, store.id).name == "New name"
    admin_client.post(f"/other-stores/{store.id}/orders/new", data=ORDER, headers=HX)
    page = admin_client.get(f"/other-stores/{store.id}").get_data(as_text=True)
    assert 'hx-confirm="Delete the shop' in page
    response = admin_client.post(f"/other-stores/{store.id}/delete", headers=HX)
    assert response.headers["HX-Redirect"] == "/other-stores"
    assert count(OtherStore) == 0 and count(Order) == 0


def test_assign_staff_reuses_the_shared_dialog(admin_client, admin_a, member_a, admin_b, make_store):
    store = make_store(admin_a)
    dialog = admin_client.get(f"/other-stores/{store.id}/assign", headers=HX).get_data(as_text=True)
    assert "Member A" in dialog and "Admin B" not in dialog
    admin_client.post(f"/other-stores/{store.id}/assign", data={"shown": [member_a.id, admin_b.id],
                                                                "selected": [member_a.id, admin_b.id]})
    assert set(db.session.scalars(select(OtherStoreAssignment.user_id))) == {member_a.id}


def test_manual_orders_and_totals(admin_client, admin_a, make_store):
    store = make_store(admin_a)
    for number, total, currency in (("A-1", "0.10", "EUR"), ("A-2", "0.20", "EUR"), ("A-3", "5", "USD")):
        response = admin_client.post(f"/other-stores/{store.id}/orders/new",
                                     data=dict(ORDER, order_number=number, total=total, currency=currency), headers=HX)
        assert response.headers["HX-Redirect"] == f"/other-stores/{store.id}"
    amounts = db.session.scalars(select(Order.total).order_by(Order.id)).all()
    assert amounts == [Decimal("0.10"), Decimal("0.20"), Decimal("5.00")]
    page = admin_client.get(f"/other-stores/{store.id}").get_data(as_text=True)
    assert "0.30 EUR · 2 orders" in page and "5.00 USD · 1 order" in page
    order = db.session.scalar(select(Order))
    assert order.source == "manual" and order.other_store_id == store.id and order.shop_id is None


@pytest.mark.parametrize("changes,message", [
    ({"total": "-1"}, "cannot be negative"),
    ({"total": "abc"}, "Not a valid decimal value"),
    ({"total": "1.999"}, "at most two decimal places"),
    ({"total": ""}, "Enter the amount"),
    ({"currency": "XYZ"}, "Pick a currency from the list"),
    ({"currency": "DEM"}, "Pick a currency from the list"),
    ({"order_date": "20/11/2026"}, "Not a valid date value"),
    ({"order_date": ""}, "Enter the date as YYYY-MM-DD."),
    ({"status": "lost"}, "Not a valid choice"),
    ({"order_number": ""}, "This field is required."),
])
def test_order_validation(admin_client, admin_a, make_store, changes, message):
    store = make_store(admin_a)
    response = admin_client.post(f"/other-stores/{store.id}/orders/new", data=dict(ORDER, **changes), headers=HX)
    assert message in response.get_data(as_text=True)
    assert count(Order) == 0


def test_order_number_unique_within_store(admin_client, admin_a, make_store):
    first, second = make_store(admin_a, name="One"), make_store(admin_a, name="Two")
    admin_client.post(f"/other-stores/{first.id}/orders/new", data=ORDER, headers=HX)
    duplicate = admin_client.post(f"/other-stores/{first.id}/orders/new", data=ORDER, headers=HX)
    assert "already has an order with this number" in duplicate.get_data(as_text=True)
    elsewhere = admin_client.post(f"/other-stores/{second.id}/orders/new", data=ORDER, headers=HX)
    assert "HX-Redirect" in elsewhere.headers
    assert count(Order) == 2


def test_edit_and_delete_order(admin_client, admin_a, make_store):
    store = make_store(admin_a)
    admin_client.post(f"/other-stores/{store.id}/orders/new", data=ORDER, headers=HX)
    order = db.session.scalar(select(Order))
    admin_client.post(f"/other-stores/{store.id}/orders/{order.id}/edit", data=dict(ORDER, status="shipped"),
                      headers=HX)
    assert db.session.get(Order, order.id).status == "shipped"
    admin_client.post(f"/other-stores/{store.id}/orders/{order.id}/delete", headers=HX)
    assert count(Order) == 0


def test_order_of_another_store_is_404(admin_client, admin_a, make_store):
    first, second = make_store(admin_a, name="One"), make_store(admin_a, name="Two")
    admin_client.post(f"/other-stores/{first.id}/orders/new", data=ORDER, headers=HX)
    order = db.session.scalar(select(Order))
    assert admin_client.get(f"/other-stores/{second.id}/orders/{order.id}/edit").status_code == 404
    assert admin_client.post(f"/other-stores/{second.id}/orders/{order.id}/delete").status_code == 404
    assert count(Order) == 1


def test_order_filters(admin_client, admin_a, make_store):
    store = make_store(admin_a)
    for number, day, status in (("ORD-JAN", "2026-01-05", "paid"), ("ORD-FEB", "2026-02-10", "shipped"),
                                ("ORD-MAR", "2026-03-15", "paid")):
        admin_client.post(f"/other-stores/{store.id}/orders/new",
                          data=dict(ORDER, order_number=number, order_date=day, status=status), headers=HX)
    paid = admin_client.get(f"/other-stores/{store.id}", query_string={"status": "paid"}, headers=HX)
    body = paid.get_data(as_text=True)
    assert "ORD-JAN" in body and "ORD-MAR" in body and "ORD-FEB" not in body and "<html" not in body
    ranged = admin_client.get(f"/other-stores/{store.id}", query_string={"start": "2026-02-01", "end": "2026-03-01"},
                              headers=HX).get_data(as_text=True)
    assert "ORD-FEB" in ranged and "ORD-JAN" not in ranged and "ORD-MAR" not in ranged
    bad = admin_client.get(f"/other-stores/{store.id}", query_string={"start": "yesterday"}).get_data(as_text=True)
    assert "was not understood" in bad


def test_csv_export_filtered_and_escaped(admin_client, admin_a, make_store):
    store = make_store(admin_a)
    rows = [("=HYPERLINK(\"http://evil\")", "+cmd", "paid"), ("-2+3", "@SUM(A1)", "paid"), ("SAFE-1", "Li Lei", "shipped")]
    for number, buyer, status in rows:
        admin_client.post(f"/other-stores/{store.id}/orders/new",
                          data=dict(ORDER, order_number=number, buyer_name=buyer, status=status), headers=HX)
    response = admin_client.get(f"/other-stores/{store.id}/orders.csv", query_string={"status": "paid"})
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True).lstrip("\ufeff")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][0] == "Order number" and len(table) == 3
    cells = [cell for row in table[1:] for cell in row]
    assert "'=HYPERLINK(\"http://evil\")" in cells and "'+cmd" in cells and "'-2+3" in cells and "'@SUM(A1)" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert "SAFE-1" not in text  # the filter applies to the export


def test_store_names_render_as_text(admin_client, admin_a, make_store):
    make_store(admin_a, name="<script>alert(1)</script>")
    make_store(admin_a, name='<div hx-get="/users" hx-trigger="load">x</div>', platform="etsy")
    body = admin_client.get("/other-stores").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert '<div hx-get="/users"' not in body


def test_other_stores_pages_in_chinese(admin_client, admin_a, make_store):
    store = make_store(admin_a)
    admin_client.post("/language", data={"lang": "zh"})
    for path in ("/other-stores", "/other-stores/new", f"/other-stores/{store.id}", f"/other-stores/{store.id}/edit",
                 f"/other-stores/{store.id}/orders/new", f"/other-stores/{store.id}/assign"):
        assert admin_client.get(path).status_code == 200, path
    assert "德国" in admin_client.get("/other-stores").get_data(as_text=True)
