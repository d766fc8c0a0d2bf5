"""The Shop list's read side: one expiry rule for the SQL filters and the row badges, rows built once
with escaped values, URLs exactly as url_for builds them, deep pages."""
from datetime import timedelta

import pytest
from flask import url_for

from portal.extensions import db
from portal.models import utcnow
from portal.shops.lifecycle import EXPIRED, EXPIRING, VALID, bounds
from portal.urls import UrlBuilder

HX = {"HX-Request": "true"}


@pytest.fixture
def admin_client(client, admin_a, login):
    login(client, admin_a)
    return client


def _age(shop, days: float):
    shop.authorization.authorized_at = utcnow() - timedelta(days=days)
    db.session.commit()


def test_filters_and_badges_follow_the_same_expiry_rule(app, admin_client, admin_a, make_shop):
    validity, warn = app.config["AUTHORIZATION_VALIDITY_DAYS"], app.config["AUTHORIZATION_WARN_DAYS"]
    shops = {state: make_shop(admin_a, name=f"Life {state}") for state in (EXPIRED, EXPIRING, VALID)}
    _age(shops[EXPIRED], validity + 0.01)
    _age(shops[EXPIRING], validity - warn + 0.01)
    _age(shops[VALID], validity - warn - 0.01)
    with app.test_request_context():
        limits = bounds()
        assert {state: limits.state(shop.authorization.authorized_at) for state, shop in shops.items()} == \
            {EXPIRED: EXPIRED, EXPIRING: EXPIRING, VALID: VALID}
    for state in (EXPIRED, EXPIRING, VALID):
        body = admin_client.get("/shops", query_string={"status": state}, headers=HX).get_data(as_text=True)
        assert [s for s, shop in shops.items() if f">{shop.name}<" in body] == [state]
        assert ("Authorization expired" in body) == (state == EXPIRED)
        assert ("Expires in" in body) == (state == EXPIRING)
    banner = admin_client.get("/shops").get_data(as_text=True)
    assert "1 shop's authorization expired" in banner and "1 expires soon" in banner


def test_row_values_are_escaped_and_urls_come_from_url_for(app, admin_client, admin_a, make_shop):
    shop = make_shop(admin_a, name='<b hx-get="/admin/users">Bold</b>')
    body = admin_client.get("/shops", headers=HX).get_data(as_text=True)
    assert '<b hx-get' not in body and "&lt;b hx-get=&#34;/admin/users&#34;&gt;Bold&lt;/b&gt;" in body
    with app.test_request_context():
        detail, verify = url_for("shops.detail", shop_id=shop.id), url_for("shops.verify", shop_id=shop.id)
        assert UrlBuilder("shops.detail", "shop_id")(shop.id) == detail
        assert UrlBuilder("other_stores.edit_order", "order_id", store_id=7)(12) == \
            url_for("other_stores.edit_order", store_id=7, order_id=12)
    assert f'href="{detail}"' in body and f'hx-post="{verify}"' in body


def test_deep_page_and_sorts(app_factory, login, make_user, make_company, make_shop):
    app = app_factory(PAGE_SIZE=2)
    with app.app_context():
        admin = make_user(company=make_company("Deep"), role="admin")
        for n in range(7):
            make_shop(admin, name=f"Deep {n}")
        client = app.test_client()
        login(client, admin)
        third = client.get("/shops", query_string={"page": 3}, headers=HX).get_data(as_text=True)
        assert "Deep 4" in third and "Deep 5" in third and "Deep 3" not in third and "Deep 6" not in third
        last = client.get("/shops", query_string={"page": 99, "sort": "-name"}, headers=HX).get_data(as_text=True)
        assert "Deep 0" in last and "Page 4 of 4" in last
        odd = client.get("/shops", query_string={"sort": "evil", "status": "x", "region": "ZZ", "page": "²"})
        assert odd.status_code == 200 and "Deep 0" in odd.get_data(as_text=True)
