"""Names sort the way people read them: Chinese by pinyin, English case-insensitively, through the real
list pages (Shop list, Other shops, Users) and the stored key kept in step with the name."""
from datetime import datetime

import pytest
from flask_migrate import upgrade
from sqlalchemy import insert, select, text

from portal.extensions import db
from portal.models import OtherStore, Shop, User
from portal.other_stores.services import save_store
from portal.shops.services import update_shop
from portal.sorting import sort_key

# Code-point order of these is 即 < 区 < 已 < 北 < 爱 < 美 (U+5373, 533A, 5DF2, 5317, 7231, 7F8E): wrong.
CHINESE = ["即将", "区域", "已撤销", "北美", "爱尔兰", "美国"]
PINYIN_ORDER = ["爱尔兰", "北美", "即将", "美国", "区域", "已撤销"]  # ai < bei < ji < mei < qu < yi
# On a page the bare words also appear as labels (区域 = Region, 北美 = North America): rows get a suffix.
ROWS = [f"{name}店" for name in CHINESE]
ROWS_ORDER = [f"{name}店" for name in PINYIN_ORDER]


def in_page_order(html: str, names) -> list[str]:
    """`names` in the order they first appear in `html` (each must appear)."""
    positions = {name: html.index(name) for name in names}
    return sorted(names, key=positions.get)


@pytest.mark.parametrize("name, key", [
    ("北美", "bei mei"), ("已撤销", "yi che xiao"), ("Acme 美国", "acme mei guo"), ("ＡＣＭＥ １２", "acme 12"),
    ("Émile  Shop", "emile shop"), ("重庆店", "chong qing dian"), ("长沙仓", "chang sha cang"),
    ("厦门 Outlet", "xia men outlet"), ("", ""),
])
def test_sort_key(name, key):
    assert sort_key(name) == key


def test_pinyin_and_case_insensitive_order_of_keys():
    names = CHINESE + ["acme", "Beta", "ALPHA", "Acme 美国", "北京"]
    ordered = sorted(names, key=sort_key)
    assert ordered == ["acme", "Acme 美国", "爱尔兰", "ALPHA", "北京", "北美", "Beta", "即将", "美国", "区域",
                       "已撤销"]
    assert sorted(CHINESE, key=sort_key) == PINYIN_ORDER


def test_key_follows_the_name(app, admin_a, make_shop):
    shop = make_shop(admin_a, name="已撤销")
    assert shop.sort_name == "yi che xiao"
    update_shop(shop, name="Acme 北美", mode="single", marketplace_ids=shop.marketplace_ids)
    db.session.commit()
    assert db.session.scalar(select(Shop.sort_name).where(Shop.id == shop.id)) == "acme bei mei"
    admin_a.display_name = "区域 经理"
    db.session.commit()
    assert db.session.scalar(select(User.sort_name).where(User.id == admin_a.id)) == "qu yu jing li"


def test_core_insert_computes_the_key(app, admin_a, make_shop):
    shop = make_shop(admin_a, name="Seed")
    db.session.execute(insert(Shop), [{"company_id": admin_a.company_id, "authorization_id": shop.authorization_id,
                                       "name": "北美 2", "name_key": "北美 2", "mode": "single"}])
    db.session.commit()
    assert db.session.scalar(select(Shop.sort_name).where(Shop.name == "北美 2")) == "bei mei 2"


@pytest.mark.parametrize("sort, expected", [("name", ROWS_ORDER), ("-name", ROWS_ORDER[::-1])])
def test_shop_list_sorts_by_pinyin(client, admin_a, make_shop, login, sort, expected):
    for name in ROWS:
        make_shop(admin_a, name=name)
    login(client, admin_a)
    html = client.get(f"/shops?sort={sort}", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert in_page_order(html, ROWS) == expected


def test_shop_list_english_names_ignore_case(client, admin_a, make_shop, login):
    names = ["beta shop", "Alpha Shop", "CHARLIE shop", "alpha two"]
    for name in names:
        make_shop(admin_a, name=name)
    login(client, admin_a)
    html = client.get("/shops").get_data(as_text=True)
    assert in_page_order(html, names) == ["Alpha Shop", "alpha two", "beta shop", "CHARLIE shop"]


def test_shop_list_pages_follow_the_order(client, admin_a, make_shop, login):
    """The page boundary respects the order: with 51 shops, 已撤销 (y) is alone on page 2."""
    make_shop(admin_a, name="已撤销")
    for i in range(50):
        make_shop(admin_a, name=f"北美 {i:02d}")
    login(client, admin_a)
    first = client.get("/shops").get_data(as_text=True)
    second = client.get("/shops?page=2").get_data(as_text=True)
    assert "已撤销" not in first and "已撤销" in second


def test_member_sees_own_shops_in_pinyin_order(client, admin_a, member_a, make_shop, login):
    for name in ROWS:
        make_shop(admin_a, name=name, assign=[member_a])
    login(client, member_a)
    html = client.get("/my-shops").get_data(as_text=True)
    assert in_page_order(html, ROWS) == ROWS_ORDER


def test_other_stores_list_sorts_by_pinyin(client, admin_a, login):
    for name in ROWS + ["zeta", "Alpha"]:
        save_store(admin_a, None, platform="shopee", platform_other=None, name=name, countries=["TW"], url=None,
                   login_name=None, notes=None)
    db.session.commit()
    login(client, admin_a)
    html = client.get("/other-stores").get_data(as_text=True)
    assert in_page_order(html, ROWS + ["zeta", "Alpha"]) == ["爱尔兰店", "Alpha", *ROWS_ORDER[1:], "zeta"]


def test_users_list_sorts_by_pinyin(client, admin_a, make_user, login):
    for name in ROWS + ["Aiden"]:
        make_user(admin_a.company, name=name)
    login(client, admin_a)
    html = client.get("/admin/users").get_data(as_text=True)
    assert in_page_order(html, ROWS + ["Aiden"]) == ["爱尔兰店", "Aiden", *ROWS_ORDER[1:]]  # ai er < aiden


def test_staff_picker_sorts_by_pinyin(client, admin_a, make_user, make_shop, login):
    for name in ROWS:
        make_user(admin_a.company, name=name)
    shop = make_shop(admin_a, name="Acme")
    login(client, admin_a)
    html = client.get(f"/shops/{shop.id}/assign").get_data(as_text=True)
    assert in_page_order(html, ROWS) == ROWS_ORDER


@pytest.mark.parametrize("model, sort", [(Shop, "name"), (Shop, "-name"), (OtherStore, "name"), (User, "name")])
def test_name_sort_reads_an_index(app, admin_a, model, sort):
    """The page's ids come from the (company_id, sort_name, id) index: no sort of the whole company."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    order = (model.sort_name, model.id) if sort == "name" else (model.sort_name.desc(), model.id.desc())
    query = select(model.id).where(model.company_id == admin_a.company_id).order_by(*order).limit(50).offset(7450)
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    plan = " ".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert f"ix_{model.__tablename__}_company_sort_name" in plan and "TEMP B-TREE" not in plan, plan


# --- the migration fills the keys of the rows that exist ------------------------------------------

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


def test_migration_fills_sort_keys(migrated_to_0009):
    now = datetime(2026, 12, 1, 12, 0)
    names = CHINESE + ["Acme 美国", "beta"]
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO company (id, name, created_at) VALUES (1, 'A', :now)"), {"now": now})
        conn.execute(text("INSERT INTO seller_authorization (id, company_id, seller_id, region, token_ciphertext, "
                          "token_last4, authorized_at, token_updated_at, created_at) "
                          "VALUES (1, 1, 'A1', 'NA', 'x', 'abcd', :now, :now, :now)"), {"now": now})
        for i, name in enumerate(names, start=1):
            values = {"id": i, "name": name, "key": name.casefold(), "now": now, "email": f"u{i}@example.com"}
            conn.execute(text("INSERT INTO shop (id, company_id, authorization_id, name, name_key, mode, created_at) "
                              "VALUES (:id, 1, 1, :name, :key, 'single', :now)"), values)
            conn.execute(text("INSERT INTO shop_marketplace (shop_id, authorization_id, marketplace_id, position) "
                              "VALUES (:id, 1, :email, 0)"), values)  # any distinct id
            conn.execute(text("INSERT INTO other_store (id, company_id, platform, platform_key, name, name_key, "
                              "created_at) VALUES (:id, 1, 'ebay', 'ebay', :name, :key, :now)"), values)
            conn.execute(text("INSERT INTO user_account (id, company_id, email, display_name, role, active, "
                              "password_hash, must_change_password, session_version, created_at) VALUES "
                              "(:id, 1, :email, :name, 'member', true, 'x', false, 1, :now)"), values)
    upgrade()
    expected = {name: sort_key(name) for name in names}
    assert expected["Acme 美国"] == "acme mei guo"
    for model, column in ((Shop, Shop.name), (OtherStore, OtherStore.name), (User, User.display_name)):
        rows = dict(db.session.execute(select(column, model.sort_name)).all())
        assert rows == expected
        ordered = db.session.scalars(select(column).order_by(model.sort_name)).all()
        assert ordered == ["Acme 美国", "爱尔兰", "北美", "beta", "即将", "美国", "区域", "已撤销"]
    indexes = {ix["name"] for ix in db.inspect(db.engine).get_indexes("shop")}
    assert "ix_shop_company_sort_name" in indexes
    # Nothing that hangs off the altered tables is lost (a table copy on SQLite would cascade-delete it).
    assert db.session.scalar(text("SELECT count(*) FROM shop_marketplace")) == len(names)
