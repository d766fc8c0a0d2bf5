"""The currency of an other store follows its country: a Shopee TW store's orders start in TWD, not USD,
unless the user chose another currency; stores that existed before get theirs from the migration."""
from datetime import datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text

from portal.extensions import db
from portal.models import OtherStore
from portal.other_stores.catalog import country_currency, default_currency

HX = {"HX-Request": "true"}
SHOPEE_TW = {"platform": "shopee", "name": "Shopee 台湾店", "countries": ["TW"], "currency": "", "url": "",
             "login_name": "", "notes": ""}


@pytest.fixture
def admin_client(client, admin_a, login):
    login(client, admin_a)
    return client


def store_named(name):
    db.session.expire_all()
    return db.session.scalar(select(OtherStore).where(OtherStore.name == name))


@pytest.mark.parametrize("countries, currency", [(["TW"], "TWD"), (["MY", "SG"], "MYR"), (["DE", "GB"], "EUR"),
                                                 (["JP"], "JPY"), (["AQ"], "USD"), ([], "USD")])
def test_default_currency_of_the_first_country(countries, currency):
    assert default_currency(countries) == currency


def test_country_currency_is_current_legal_tender():
    assert country_currency("tw") == "TWD" and country_currency("HR") == "EUR" and country_currency("AQ") is None


def test_shopee_tw_store_orders_default_to_twd(admin_client):
    response = admin_client.post("/other-stores/new", data=SHOPEE_TW, headers=HX)
    assert response.status_code == 200 and "HX-Redirect" in response.headers
    store = store_named("Shopee 台湾店")
    assert store.currency == "TWD"
    form = admin_client.get(f"/other-stores/{store.id}/orders/new", headers=HX).get_data(as_text=True)
    assert '<option selected value="TWD">' in form and '<option selected value="USD">' not in form


def test_chosen_currency_is_kept(admin_client):
    admin_client.post("/other-stores/new", data={**SHOPEE_TW, "currency": "USD"}, headers=HX)
    store = store_named("Shopee 台湾店")
    assert store.currency == "USD"
    form = admin_client.get(f"/other-stores/{store.id}/edit", headers=HX).get_data(as_text=True)
    assert '<option selected value="USD">' in form


def test_editing_the_country_moves_an_automatic_currency(admin_client):
    admin_client.post("/other-stores/new", data=SHOPEE_TW, headers=HX)
    store = store_named("Shopee 台湾店")
    form = admin_client.get(f"/other-stores/{store.id}/edit", headers=HX).get_data(as_text=True)
    assert '<option selected value="">' in form  # TWD is Taiwan's: shown as "same as the first country"
    admin_client.post(f"/other-stores/{store.id}/edit", data={**SHOPEE_TW, "countries": ["TH"]}, headers=HX)
    assert store_named("Shopee 台湾店").currency == "THB"


def test_an_order_keeps_its_own_currency(admin_client):
    admin_client.post("/other-stores/new", data=SHOPEE_TW, headers=HX)
    store = store_named("Shopee 台湾店")
    order = {"order_number": "TW-1", "order_date": "2026-11-20", "status": "paid", "currency": "USD", "total": "9.50",
             "buyer_name": "", "notes": ""}
    response = admin_client.post(f"/other-stores/{store.id}/orders/new", data=order, headers=HX)
    assert "HX-Redirect" in response.headers
    detail = admin_client.get(f"/other-stores/{store.id}").get_data(as_text=True)
    assert "USD" in detail


@pytest.mark.parametrize("bad", ["XXX", "usd", "<b>", "TW"])
def test_unknown_currency_is_a_form_error(admin_client, bad):
    response = admin_client.post("/other-stores/new", data={**SHOPEE_TW, "currency": bad}, headers=HX)
    assert response.status_code == 200 and "Pick a currency from the list" in response.get_data(as_text=True)
    assert store_named("Shopee 台湾店") is None


def test_picker_renders_currency_and_search_text_per_country(admin_client):
    html = admin_client.get("/other-stores/new", headers={**HX, "Accept-Language": "zh"}).get_data(as_text=True)
    assert 'data-search="tw 台湾 taiwan tai wan"' in html
    assert 'data-currency="TWD"' in html and "data-follows-country" in html
    assert "常用市场" in html or "Common markets" in html


# --- the migration gives existing stores the currency of their first country ----------------------

@pytest.fixture
def migrated_to_0009(app):
    db.drop_all()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade(revision="0009_security")
    yield app
    db.session.remove()
    db.drop_all()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def test_migration_fills_store_currencies(migrated_to_0009):
    now = datetime(2026, 12, 1, 12, 0)
    stores = {1: ["TW", "US"], 2: ["GB"], 3: [], 4: ["US", "DE"], 5: ["AQ"]}
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO company (id, name, created_at) VALUES (1, 'A', :now)"), {"now": now})
        for store_id, codes in stores.items():
            conn.execute(text("INSERT INTO other_store (id, company_id, platform, platform_key, name, name_key, "
                              "created_at) VALUES (:id, 1, 'shopee', 'shopee', :name, :name, :now)"),
                         {"id": store_id, "name": f"s{store_id}", "now": now})
            for position, code in reversed(list(enumerate(codes))):  # inserted out of position order
                conn.execute(text("INSERT INTO other_store_country (store_id, country_code, position) "
                                  "VALUES (:id, :code, :position)"), {"id": store_id, "code": code,
                                                                      "position": position})
    upgrade()
    currencies = dict(db.session.execute(select(OtherStore.id, OtherStore.currency)).all())
    assert currencies == {1: "TWD", 2: "GBP", 3: "USD", 4: "USD", 5: "USD"}
