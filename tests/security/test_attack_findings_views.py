"""Issue 12, findings fixed in views other helpers own (portal/admin, portal/other_stores, the
re-authorize view): 4, 5, 6, 7 and the view side of 15. These fail until those branches are merged.
Findings 1–3 and 8–16 (the mechanisms) are in test_attack_findings.py."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from flask import has_request_context
from sqlalchemy import event

from portal.extensions import db
from portal.models import Order, SellerAuthorization, Shop, ShopAssignment

HX = {"HX-Request": "true"}
US, CA = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"
HIDDEN = "Hidden Canary Shop 7f3a"


def signed_in(app, user, login):
    client = app.test_client()
    login(client, user)
    return client


def make_store_with_order(user):
    from portal.other_stores.services import save_order, save_store

    store = save_store(user, None, platform="etsy", platform_other=None, name="Store", countries=["DE"], url=None,
                       login_name=None, notes=None)
    order = save_order(user, store, None, order_number="N-1", order_date=date(2026, 11, 20), status="paid",
                       currency="USD", total=Decimal("9.99"), buyer_name=None, notes=None)
    db.session.commit()
    return store, order


# --- 4. activity filters never raise ---------------------------------------------------------------

@pytest.mark.parametrize("query", ["end=9999-12-31", "start=9999-12-31", "start=0001-01-01", "end=0001-01-01",
                                   "user=²", "user=①", "user=１２", "user=2147483648", "user=99999999999999999999",
                                   "user=9223372036854775808"])
@pytest.mark.parametrize("path", ["/admin/activity", "/admin/activity.csv"])
def test_finding_04_activity_filters_never_500(app, admin_a, login, path, query):
    client = signed_in(app, admin_a, login)
    response = client.get(f"{path}?{query}")
    assert response.status_code in (200, 400), (path, query, response.status_code)


# --- 5. deleting an order with extra query arguments ---------------------------------------------------

@pytest.mark.parametrize("query", ["store_id=1", "_external=1", "_anchor=x", "_scheme=javascript", "_method=GET"])
def test_finding_05_order_delete_with_extra_arguments(app, admin_a, login, query):
    store, order = make_store_with_order(admin_a)
    store_id, order_id = store.id, order.id
    client = signed_in(app, admin_a, login)
    response = client.post(f"/other-stores/{store_id}/orders/{order_id}/delete?{query}", data={}, headers=HX)
    assert response.status_code in (200, 303), (query, response.status_code)
    target = response.headers.get("HX-Redirect") or response.headers.get("Location", "")
    assert target.startswith("/") and not target.startswith("//") and "javascript" not in target
    db.session.expunge_all()  # the test's copy of the order is stale: ask the database
    assert db.session.get(Order, order_id) is None


# --- 6 and 7. a member re-authorizing their shop ------------------------------------------------------

@pytest.fixture
def shared(amazon_app, standin, people):
    """A member assigned to one shop of a seller; a second shop of the same seller is hidden from them."""
    from portal.shops.services import create_shop

    admin, member = people
    token = "Atzr|views-original-token-0123456789"
    standin.register(token, seller_id="A1000000000001", marketplaces=(US, CA))
    mine = create_shop(admin, name="Member Shop", region="NA", mode="single", marketplace_ids=[US],
                       seller_id="A1000000000001", token=token).shop
    hidden = create_shop(admin, name=HIDDEN, region="NA", mode="single", marketplace_ids=[CA],
                         seller_id="A1000000000001", token=token).shop
    mine.assignments.append(ShopAssignment(user_id=member.id))
    db.session.commit()
    return member, mine, hidden


def test_finding_06_member_reauthorize_never_names_hidden_shops(amazon_app, standin, shared, login):
    member, mine, hidden = shared
    before = db.session.get(SellerAuthorization, hidden.authorization_id).token_ciphertext
    client = signed_in(amazon_app, member, login)
    new = "Atzr|views-new-token-for-member-0123456789"
    standin.register(new, seller_id="A1000000000001", marketplaces=(US, CA))
    bodies = [client.get(f"/shops/{mine.id}/reauthorize").get_data(as_text=True)]
    response = client.post(f"/shops/{mine.id}/reauthorize", data={"token": new, "authorized": "y"})
    bodies.append(response.get_data(as_text=True))
    for path in (f"/shops/{mine.id}", "/my-shops"):  # where the flashed messages are shown
        bodies.append(client.get(path).get_data(as_text=True))
    everything = "\n".join(bodies)
    assert HIDDEN not in everything
    db.session.expire_all()
    hidden_now = db.session.get(Shop, hidden.id)
    if db.session.get(SellerAuthorization, hidden_now.authorization_id).token_ciphertext != before:
        assert re.search(r"other shop", everything, re.IGNORECASE), "the token of a hidden shop changed silently"


def test_finding_07_rapid_reauthorizations_spend_one_amazon_call(amazon_app, standin, shared, login):
    member, mine, _hidden = shared
    client = signed_in(amazon_app, member, login)
    standin.reset_counts()
    for i in range(10):
        token = f"Atzr|views-rapid-token-{i:02d}-0123456789"
        standin.register(token, seller_id="A1000000000001", marketplaces=(US, CA))
        response = client.post(f"/shops/{mine.id}/reauthorize", data={"token": token, "authorized": "y"})
        assert response.status_code < 500
    assert standin.counts["token"] <= 1, standin.counts


# --- 15, the views: after the commit, no value is read back from the database ----------------------------

@pytest.fixture
def sql_after_commit(app):
    """Statements a request runs after its last commit (a dead connection would fail them)."""
    seen = {"after": [], "committed": False}

    def committed(_session):
        if has_request_context():  # the request's commits, not the test's own
            seen["committed"], seen["after"] = True, []

    def executed(_conn, _cursor, statement, *_args):
        if seen["committed"] and has_request_context():
            seen["after"].append(statement)

    event.listen(db.session, "after_commit", committed)
    event.listen(db.engine, "before_cursor_execute", executed)
    yield seen
    event.remove(db.engine, "before_cursor_execute", executed)
    event.remove(db.session, "after_commit", committed)


@pytest.mark.parametrize("action", ["new_order", "edit_order", "new_store", "edit_store", "shop_edit", "role"])
def test_finding_15_views_do_not_read_after_commit(app, admin_a, member_a, make_shop, login, sql_after_commit, action):
    store, order = make_store_with_order(admin_a)
    shop = make_shop(admin_a)
    client = signed_in(app, admin_a, login)
    order_data = {"order_number": "N-2", "order_date": "2026-11-21", "status": "paid", "currency": "USD",
                  "total": "5.00"}
    url, data = {
        "new_order": (f"/other-stores/{store.id}/orders/new", order_data),
        "edit_order": (f"/other-stores/{store.id}/orders/{order.id}/edit", dict(order_data, order_number="N-1")),
        "new_store": ("/other-stores/new", {"platform": "etsy", "name": "Second", "countries": "DE"}),
        "edit_store": (f"/other-stores/{store.id}/edit", {"platform": "etsy", "name": "Renamed", "countries": "DE"}),
        "shop_edit": (f"/shops/{shop.id}/edit", {"name": "Renamed shop", "mode": "single", "marketplace": US}),
        "role": (f"/admin/users/{member_a.id}/role", {"role": "admin"}),
    }[action]
    token = client.csrf_token()
    sql_after_commit["committed"] = False
    response = client.post(url, data=dict(data, csrf_token=token), headers=HX, csrf=False)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert sql_after_commit["committed"]
    selects = [s for s in sql_after_commit["after"] if s.lstrip().upper().startswith("SELECT")]
    assert selects == [], selects
