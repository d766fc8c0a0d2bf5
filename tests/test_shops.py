"""Binding Amazon shops: the add form, validation, the lists, editing, re-authorizing, deleting."""
import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import SellerAuthorization, Shop, ShopAssignment, ShopMarketplace

HX = {"HX-Request": "true"}
US, CA, DE, FR, JP = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "A1VC38T7YXB528"
TOKEN = "Atzr|IwEBIExampleRefreshToken-0123456789abcdefXYZ"
SINGLE_US = {"name": "US main", "region": "NA", "mode": "single", "marketplace": US, "seller_id": " a1b2c3d4e5f6g7 ",
             "token": TOKEN, "authorized": "y"}
MULTI_EU = {"name": "EU shop", "region": "EU", "mode": "multi", "marketplaces": [DE, FR],
            "seller_id": "A9Z8Y7X6W5V4U3", "token": TOKEN + "EU", "authorized": "y"}


@pytest.fixture
def admin_client(client, admin_a, login):
    login(client, admin_a)
    return client


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_add_single_country_shop(admin_client, company_a):
    form = admin_client.get("/shops/new", headers=HX).get_data(as_text=True)
    assert "<html" not in form and 'name="seller_id"' in form and 'type="password"' in form
    response = admin_client.post("/shops/new", data=SINGLE_US, headers=HX)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/shops"
    shop = db.session.scalar(select(Shop))
    assert shop.name == "US main" and shop.mode == "single" and shop.marketplace_ids == [US]
    assert shop.seller_id == "A1B2C3D4E5F6G7" and shop.region == "NA" and shop.company_id == company_a.id
    assert shop.authorization.token_last4 == TOKEN[-4:]
    assert TOKEN not in shop.authorization.token_ciphertext


def test_add_multi_country_shop(admin_client):
    response = admin_client.post("/shops/new", data=MULTI_EU, headers=HX)
    assert "HX-Redirect" in response.headers, response.get_data(as_text=True)
    shop = db.session.scalar(select(Shop))
    assert shop.mode == "multi" and shop.marketplace_ids == [DE, FR] and shop.region == "EU"


def test_member_who_adds_a_shop_is_assigned(client, member_a, login):
    login(client, member_a)
    response = client.post("/shops/new", data=SINGLE_US, headers=HX)
    assert response.headers["HX-Redirect"] == "/my-shops"
    assignment = db.session.scalar(select(ShopAssignment))
    assert assignment.user_id == member_a.id
    assert "US main" in client.get("/my-shops").get_data(as_text=True)


def test_admin_who_adds_a_shop_is_not_assigned(admin_client):
    admin_client.post("/shops/new", data=SINGLE_US, headers=HX)
    assert count(ShopAssignment) == 0


@pytest.mark.parametrize("changes,field_message", [
    ({"name": ""}, "This field is required."),
    ({"name": "x" * 10_000}, "cannot be longer than 100"),
    ({"name": "Shop\u200bname"}, "invisible or control characters"),
    ({"seller_id": ""}, "This field is required."),
    ({"seller_id": "hello"}, "does not look like a Seller ID"),
    ({"seller_id": "A1B2C3\u200bD4E5F6G7"}, "invisible characters"),
    ({"seller_id": "\u0410" + "1B2C3D4E5F6G7"}, "only look like Latin letters"),  # Cyrillic А
    ({"token": "amzn.mws.4ea38b7b-f563-7709-4bae-87aeaEXAMPLE"}, "old MWS authorization token"),
    ({"token": "Atzr|short"}, "does not look like an SP-API refresh token"),
    ({"token": "Atzr|has spaces inside the token value here"}, "does not look like an SP-API refresh token"),
    ({"token": "Atzr|" + "a" * 3000}, "longer than"),
    ({"token": ""}, "Paste the authorization token"),
    ({"authorized": ""}, "Authorize the application in Seller Central first"),
    ({"marketplace": ""}, "Pick the shop&#39;s country."),  # escaped like any other text
    ({"marketplace": DE}, "Pick a country of the chosen region."),
    ({"region": "XX", "marketplace": DE}, "Not a valid choice"),
    ({"mode": "multi", "marketplaces": [US]}, "Pick at least two countries"),
    ({"mode": "multi", "marketplaces": [US, DE]}, "Pick only countries of the chosen region."),
    ({"mode": "bogus"}, "Not a valid choice"),
])
def test_add_shop_validation(admin_client, changes, field_message):
    response = admin_client.post("/shops/new", data=dict(SINGLE_US, **changes), headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Redirect" not in response.headers
    assert field_message in body
    assert count(Shop) == 0 and count(SellerAuthorization) == 0
    assert TOKEN not in body  # the token is never echoed back, even on a failed form


def test_fullwidth_seller_id_is_normalized(admin_client):
    admin_client.post("/shops/new", data=dict(SINGLE_US, seller_id="Ａ１Ｂ２Ｃ３Ｄ４Ｅ５Ｆ６Ｇ７"), headers=HX)
    assert db.session.scalar(select(SellerAuthorization.seller_id)) == "A1B2C3D4E5F6G7"


def test_seller_id_pattern_is_configurable(app_factory, make_user, login):
    app = app_factory(SELLER_ID_PATTERN=r"S[0-9]{4}")
    client = app.test_client()
    with app.app_context():
        from portal.passwords import hash_password
        from portal.models import Company, User
        from tests.conftest import PASSWORD

        company = Company(name="C")
        db.session.add(User(company=company, email="a@example.com", display_name="A", role="admin",
                            password_hash=hash_password(PASSWORD)))
        db.session.commit()
        client.post("/login", data={"email": "a@example.com", "password": PASSWORD})
        bad = client.post("/shops/new", data=SINGLE_US, headers=HX)
        assert "does not look like a Seller ID" in bad.get_data(as_text=True)
        good = client.post("/shops/new", data=dict(SINGLE_US, seller_id="s1234"), headers=HX)
        assert "HX-Redirect" in good.headers


def test_duplicate_marketplace_of_same_seller_is_refused_naming_the_shop(admin_client):
    admin_client.post("/shops/new", data=SINGLE_US, headers=HX)
    response = admin_client.post("/shops/new", data=dict(SINGLE_US, name="Another", token=""), headers=HX)
    body = response.get_data(as_text=True)
    assert "Seller A1B2C3D4E5F6G7 is already bound for US in the shop “US main”." in body
    assert count(Shop) == 1


def test_shop_name_in_messages_is_escaped(admin_client):
    evil = '<div hx-get="/admin/users" hx-trigger="load">x</div>'
    admin_client.post("/shops/new", data=dict(SINGLE_US, name=evil), headers=HX)
    body = admin_client.post("/shops/new", data=dict(SINGLE_US, name="Other", token=""), headers=HX).get_data(as_text=True)
    assert "in the shop “&lt;div hx-get=" in body and "<div hx-get" not in body
    listing = admin_client.get("/shops").get_data(as_text=True)
    assert "&lt;div hx-get=&#34;/admin/users&#34;" in listing and '<div hx-get="/admin/users"' not in listing


def test_duplicate_seller_id_after_normalization(admin_client):
    admin_client.post("/shops/new", data=SINGLE_US, headers=HX)
    response = admin_client.post("/shops/new", data=dict(SINGLE_US, name="Another", seller_id="a1b2c3d4e5f6g7"),
                                 headers=HX)
    assert "already bound for US" in response.get_data(as_text=True)


def test_shop_name_unique_in_company_case_insensitive(admin_client):
    admin_client.post("/shops/new", data=SINGLE_US, headers=HX)
    response = admin_client.post("/shops/new", data=dict(SINGLE_US, name="us  MAIN", marketplace=CA), headers=HX)
    assert "already has a shop with this name" in response.get_data(as_text=True)


def test_same_name_allowed_in_another_company(admin_client, admin_b, app, login):
    admin_client.post("/shops/new", data=SINGLE_US, headers=HX)
    other = app.test_client()
    login(other, admin_b)
    response = other.post("/shops/new", data=SINGLE_US, headers=HX)
    assert "HX-Redirect" in response.headers
    assert count(Shop) == 2 and count(SellerAuthorization) == 2


def test_second_shop_of_a_seller_can_reuse_the_stored_token(admin_client):
    admin_client.post("/shops/new", data=SINGLE_US, headers=HX)
    response = admin_client.post("/shops/new", data=dict(SINGLE_US, name="CA shop", marketplace=CA, token=""),
                                 headers=HX)
    assert "HX-Redirect" in response.headers
    assert count(SellerAuthorization) == 1 and count(Shop) == 2


def test_new_token_for_existing_seller_replaces_it_for_all_its_shops(admin_client):
    admin_client.post("/shops/new", data=SINGLE_US, headers=HX)
    before = db.session.scalar(select(SellerAuthorization))
    old_ciphertext = before.token_ciphertext
    new_token = TOKEN + "-renewed-9876"
    response = admin_client.post("/shops/new", data=dict(SINGLE_US, name="CA shop", marketplace=CA, token=new_token),
                                 headers=HX)
    assert "HX-Redirect" in response.headers
    page = admin_client.get("/shops").get_data(as_text=True)
    assert "replaced the stored one for seller A1B2C3D4E5F6G7" in page and "US main" in page
    authorization = db.session.scalar(select(SellerAuthorization))
    assert authorization.token_ciphertext != old_ciphertext and authorization.token_last4 == "9876"


@pytest.mark.parametrize("token", [TOKEN + "X1", ""])
def test_member_cannot_build_on_a_seller_they_do_not_work_on(admin_client, app, member_a, login, token):
    admin_client.post("/shops/new", data=SINGLE_US, headers=HX)
    member = app.test_client()
    login(member, member_a)
    response = member.post("/shops/new", data=dict(SINGLE_US, name="Mine", marketplace=CA, token=token),
                           headers=HX)
    assert "This seller is already bound in your company" in response.get_data(as_text=True)
    assert db.session.scalar(select(SellerAuthorization.token_last4)) == TOKEN[-4:]
    assert count(Shop) == 1


def test_member_assigned_to_the_seller_can_add_its_next_country(admin_client, app, member_a, login):
    admin_client.post("/shops/new", data=SINGLE_US, headers=HX)
    shop = db.session.scalar(select(Shop))
    admin_client.post(f"/shops/{shop.id}/assign", data={"shown": [member_a.id], "selected": [member_a.id]})
    member = app.test_client()
    login(member, member_a)
    response = member.post("/shops/new", data=dict(SINGLE_US, name="Mine", marketplace=CA, token=""), headers=HX)
    assert response.headers["HX-Redirect"] == "/my-shops"
    assert count(Shop) == 2 and count(SellerAuthorization) == 1


def test_form_fields_follow_region_and_mode(admin_client):
    eu = admin_client.get("/shops/form-fields", query_string={"region": "EU", "mode": "single"}, headers=HX)
    body = eu.get_data(as_text=True)
    assert DE in body and US not in body and "sellercentral-europe.amazon.com" in body
    assert "Develop Apps" in body and "Authorize app" in body
    # The seed's MWS developer IDs are never shown unless the operator configures them.
    assert "931020309560" not in body and "User Permissions" not in body and "xiaomi" not in body
    multi = admin_client.get("/shops/form-fields", query_string={"region": "FE", "mode": "multi",
                                                                 "marketplaces": [JP]}, headers=HX)
    body = multi.get_data(as_text=True)
    assert 'type="checkbox"' in body and JP in body and "sellercentral.amazon.co.jp" in body
    assert re.search(r'value="%s"[^>]*checked|checked[^>]*value="%s"' % (JP, JP), body)
    na = admin_client.get("/shops/form-fields", query_string={"region": "NA"}, headers=HX).get_data(as_text=True)
    assert "usual computer and network" in na and "sellercentral.amazon.com" in na


def test_developer_details_only_when_configured(app, admin_client):
    app.config.update(AMAZON_DEVELOPER_NAME="acme-dev", AMAZON_DEVELOPER_ID_EU="123456789012")
    body = admin_client.get("/shops/form-fields", query_string={"region": "EU"}, headers=HX).get_data(as_text=True)
    assert "acme-dev" in body and "123456789012" in body and "do not give a refresh token" in body
    na = admin_client.get("/shops/form-fields", query_string={"region": "NA"}, headers=HX).get_data(as_text=True)
    assert "acme-dev" not in na  # no NA developer ID configured


def test_mode_and_region_controls_never_send_the_token(admin_client):
    body = admin_client.get("/shops/new", headers=HX).get_data(as_text=True)
    assert body.count('hx-params="region,mode,marketplace,marketplaces"') == 3  # region select + two mode radios


def test_shop_list_columns_and_staff(admin_client, admin_a, member_a, make_shop):
    make_shop(admin_a, name="Tokyo", region="FE", marketplaces=[JP], seller_id="A11122233344", assign=[member_a])
    body = admin_client.get("/shops").get_data(as_text=True)
    assert "Tokyo" in body and "A11122233344" in body and "Member A" in body and "Not verified" in body
    assert '<abbr title="Japan">JP</abbr>' in body


def test_my_shops_shows_only_assigned(client, admin_a, member_a, make_shop, login):
    make_shop(admin_a, name="Assigned one", assign=[member_a])
    make_shop(admin_a, name="Someone else's")
    login(client, member_a)
    body = client.get("/my-shops").get_data(as_text=True)
    assert "Assigned one" in body and "Someone else" not in body


def test_member_without_shops_sees_empty_state(client, admin_a, member_a, make_shop, login):
    make_shop(admin_a, name="Company shop")
    login(client, member_a)
    body = client.get("/my-shops").get_data(as_text=True)
    assert "No shops assigned to you" in body and "Company shop" not in body


def test_admin_empty_shop_list_guides_a_new_user(admin_client):
    assert "Bind your first Amazon shop" in admin_client.get("/shops").get_data(as_text=True)


def test_search_filter_sort_fragment(admin_client, admin_a, make_shop):
    make_shop(admin_a, name="Alpha US", seller_id="A00000000001")
    make_shop(admin_a, name="Beta EU", region="EU", marketplaces=[DE], seller_id="A00000000002")
    make_shop(admin_a, name="Gamma JP", region="FE", marketplaces=[JP], seller_id="A00000000003")
    response = admin_client.get("/shops", query_string={"q": "beta"}, headers=HX)
    body = response.get_data(as_text=True)
    assert "<html" not in body and "Beta EU" in body and "Alpha US" not in body
    assert "HX-Request" in response.headers["Vary"]
    by_seller = admin_client.get("/shops", query_string={"q": "a00000000003"}, headers=HX).get_data(as_text=True)
    assert "Gamma JP" in by_seller and "Beta EU" not in by_seller
    region = admin_client.get("/shops", query_string={"region": "FE"}, headers=HX).get_data(as_text=True)
    assert "Gamma JP" in region and "Alpha US" not in region
    desc = admin_client.get("/shops", query_string={"sort": "-name"}, headers=HX).get_data(as_text=True)
    assert desc.index("Gamma JP") < desc.index("Beta EU") < desc.index("Alpha US")
    none = admin_client.get("/shops", query_string={"q": "zzz"}, headers=HX).get_data(as_text=True)
    assert "No shop matches these filters." in none
    bad = admin_client.get("/shops", query_string={"sort": "drop table", "region": "??", "status": "x", "page": "-4"})
    assert bad.status_code == 200


def test_lifecycle_filter_and_badges(admin_client, admin_a, make_shop):
    from datetime import timedelta

    from portal.models import utcnow

    fresh = make_shop(admin_a, name="Fresh")
    expiring = make_shop(admin_a, name="Expiring", seller_id="A00000000777")
    expired = make_shop(admin_a, name="Expired", seller_id="A00000000888")
    expiring.authorization.authorized_at = utcnow() - timedelta(days=340)
    expired.authorization.authorized_at = utcnow() - timedelta(days=366)
    db.session.commit()
    body = admin_client.get("/shops", query_string={"status": "expiring"}, headers=HX).get_data(as_text=True)
    assert "Expiring" in body and "Fresh" not in body and "Expires in 24 days" in body
    body = admin_client.get("/shops", query_string={"status": "expired"}, headers=HX).get_data(as_text=True)
    assert "Expired" in body and "Authorization expired" in body and "Fresh" not in body
    body = admin_client.get("/shops", query_string={"status": "valid"}, headers=HX).get_data(as_text=True)
    assert "Fresh" in body and "Expiring" not in body
    assert fresh.id


def test_pagination_default_50(admin_client, admin_a, make_shop):
    for i in range(55):
        make_shop(admin_a, name=f"Shop {i:03d}")
    body = admin_client.get("/shops").get_data(as_text=True)
    assert "Shop 049" in body and "Shop 050" not in body and "Page 1 of 2" in body
    page2 = admin_client.get("/shops", query_string={"page": 2}, headers=HX).get_data(as_text=True)
    assert "Shop 054" in page2 and "Shop 049" not in page2


def test_detail_shows_token_state_but_never_the_token(admin_client, admin_a, make_shop):
    shop = make_shop(admin_a, token="Atzr|detail-page-secret-token-value-WXYZ")
    body = admin_client.get(f"/shops/{shop.id}").get_data(as_text=True)
    assert "••••WXYZ" in body and "detail-page-secret" not in body


def test_edit_name_and_marketplaces(admin_client, admin_a, make_shop):
    shop = make_shop(admin_a, name="Old", marketplaces=[US])
    form = admin_client.get(f"/shops/{shop.id}/edit", headers=HX).get_data(as_text=True)
    assert 'value="Old"' in form
    response = admin_client.post(f"/shops/{shop.id}/edit", data={"name": "New", "mode": "multi",
                                                                "marketplaces": [US, CA], "region": "NA"}, headers=HX)
    assert response.headers["HX-Redirect"] == f"/shops/{shop.id}"
    db.session.refresh(shop)
    assert shop.name == "New" and shop.marketplace_ids == [US, CA] and shop.mode == "multi"


def test_edit_refuses_marketplace_taken_by_another_shop_of_the_seller(admin_client, admin_a, make_shop):
    first = make_shop(admin_a, name="First", marketplaces=[US], seller_id="A55555555555")
    second = make_shop(admin_a, name="Second", marketplaces=[CA], seller_id="A55555555555")
    response = admin_client.post(f"/shops/{second.id}/edit", data={"name": "Second", "mode": "single",
                                                                   "marketplace": US}, headers=HX)
    assert "already bound for US in the shop “First”" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Shop, second.id).marketplace_ids == [CA] and first.marketplace_ids == [US]


def test_edit_keeps_data_on_bad_input(admin_client, admin_a, make_shop):
    shop = make_shop(admin_a, name="Keep me")
    response = admin_client.post(f"/shops/{shop.id}/edit", data={"name": "", "mode": "single", "marketplace": US},
                                 headers=HX)
    assert "This field is required." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Shop, shop.id).name == "Keep me"


def test_reauthorize_replaces_token_and_resets_dates(client, admin_a, member_a, make_shop, login):
    from datetime import timedelta

    from portal.models import utcnow

    shop = make_shop(admin_a, assign=[member_a])
    shop.authorization.authorized_at = utcnow() - timedelta(days=300)
    db.session.commit()
    login(client, member_a)
    response = client.post(f"/shops/{shop.id}/reauthorize", data={"token": TOKEN + "-new-ABCD", "authorized": "y"},
                           headers=HX)
    assert response.headers["HX-Redirect"] == f"/shops/{shop.id}"
    db.session.expire_all()
    authorization = db.session.get(Shop, shop.id).authorization
    assert authorization.token_last4 == "ABCD"
    assert utcnow() - authorization.authorized_at < timedelta(minutes=1)


def test_reauthorize_validation(admin_client, admin_a, make_shop):
    shop = make_shop(admin_a)
    before = shop.authorization.token_ciphertext
    response = admin_client.post(f"/shops/{shop.id}/reauthorize",
                                 data={"token": "amzn.mws.00000000-0000-0000-0000-000000000000", "authorized": "y"},
                                 headers=HX)
    assert "old MWS authorization token" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Shop, shop.id).authorization.token_ciphertext == before


def test_delete_removes_assignments_and_unused_token(admin_client, admin_a, member_a, make_shop):
    shop = make_shop(admin_a, assign=[member_a], seller_id="A12121212121")
    sibling = make_shop(admin_a, marketplaces=[CA], seller_id="A12121212121")
    response = admin_client.post(f"/shops/{shop.id}/delete", headers=HX)
    assert response.headers["HX-Redirect"] == "/shops"
    assert count(ShopAssignment) == 0 and count(SellerAuthorization) == 1  # the sibling still uses it
    admin_client.post(f"/shops/{sibling.id}/delete", headers=HX)
    assert count(Shop) == 0 and count(SellerAuthorization) == 0 and count(ShopMarketplace) == 0


def test_delete_asks_for_confirmation(admin_client, admin_a, make_shop):
    shop = make_shop(admin_a)
    body = admin_client.get(f"/shops/{shop.id}").get_data(as_text=True)
    assert 'hx-confirm="Delete the shop' in body and 'data-confirm="Delete the shop' in body


def test_assign_from_shop(admin_client, admin_a, member_a, make_user, company_a, make_shop):
    other = make_user(company_a, name="Other Member")
    shop = make_shop(admin_a, assign=[other])
    response = admin_client.post(f"/shops/{shop.id}/assign",
                                 data={"shown": [member_a.id, other.id], "selected": [member_a.id]}, headers=HX)
    assert response.headers["HX-Redirect"] == f"/shops/{shop.id}"
    assert set(db.session.scalars(select(ShopAssignment.user_id))) == {member_a.id}


def test_assign_ignores_users_of_other_companies(admin_client, admin_a, admin_b, make_shop):
    shop = make_shop(admin_a)
    admin_client.post(f"/shops/{shop.id}/assign", data={"shown": [admin_b.id], "selected": [admin_b.id]})
    assert count(ShopAssignment) == 0


def test_assign_from_user_page(admin_client, admin_a, member_a, make_shop):
    keep = make_shop(admin_a, name="Keep", assign=[member_a])
    add = make_shop(admin_a, name="Add")
    drop = make_shop(admin_a, name="Drop", assign=[member_a])
    page = admin_client.get(f"/admin/users/{member_a.id}/shops").get_data(as_text=True)
    assert "Keep" in page and "2 shops assigned in all." in page
    response = admin_client.post(f"/admin/users/{member_a.id}/shops",
                                 data={"shown": [keep.id, add.id, drop.id], "selected": [keep.id, add.id]})
    assert response.status_code == 303
    assert set(db.session.scalars(select(ShopAssignment.shop_id))) == {keep.id, add.id}


def test_bulk_assign(admin_client, admin_a, member_a, make_shop, admin_b):
    shops = [make_shop(admin_a) for _ in range(3)]
    foreign = make_shop(admin_b, seller_id="A99999999999")
    response = admin_client.post("/shops/bulk-assign", headers={**HX, "Referer": "http://localhost/shops?page=1"},
                                 data={"user_id": member_a.id, "shop_ids": [shops[0].id, shops[2].id, foreign.id]})
    assert response.headers["HX-Redirect"] == "/shops?page=1"  # relative: the Host header never builds it
    assert set(db.session.scalars(select(ShopAssignment.shop_id))) == {shops[0].id, shops[2].id}
    assert "2 shops newly assigned to Member A." in admin_client.get("/shops").get_data(as_text=True)
    bad_user = admin_client.post("/shops/bulk-assign", data={"user_id": admin_b.id, "shop_ids": [shops[1].id]})
    assert bad_user.status_code == 404


def test_shop_pages_render_in_chinese(admin_client, admin_a, make_shop):
    shop = make_shop(admin_a)
    admin_client.post("/language", data={"lang": "zh"})
    for path in ("/shops", "/my-shops", "/shops/new", f"/shops/{shop.id}", f"/shops/{shop.id}/edit",
                 f"/shops/{shop.id}/reauthorize", f"/shops/{shop.id}/assign", "/shops/form-fields?region=EU"):
        response = admin_client.get(path)
        assert response.status_code == 200, path
    body = admin_client.get("/shops").get_data(as_text=True)
    assert "店铺列表" in body and "新增店铺" in body
