"""The Shop list as a workspace: a new shop's row put into the open list, the attention banner in every
inline Verify's answer, Re-authorize in the rows that need it, bulk assign that adds and removes."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import CHECK_FAILED, AuditEvent, SellerAuthorization, Shop, ShopAssignment, utcnow
from tests.conftest import PASSWORD

HX = {"HX-Request": "true"}
US = "ATVPDKIKX0DER"
NEW_SHOP = {"name": "Fresh US", "region": "NA", "mode": "single", "marketplace": US, "seller_id": "A1FRESHSELLER1",
            "token": "Atzr|IwEBIFreshRefreshToken-0123456789abcdef", "authorized": "y"}


@pytest.fixture
def admin_client(client, admin_a, login):
    login(client, admin_a)
    return client


@pytest.fixture
def member_client(app, member_a, login):
    client = app.test_client()
    login(client, member_a)
    return client


def new_shop(client, view, **headers):
    return client.post("/shops/new" + ("?from=mine" if view == "mine" else ""), data=NEW_SHOP,
                       headers={**HX, **({"X-Shop-List": view} if view else {}), **headers})


# --- New shop over the list -------------------------------------------------------------------------


def test_new_shop_over_the_list_answers_its_highlighted_row_first_in_the_list(admin_client):
    response = new_shop(admin_client, "all")
    body = response.get_data(as_text=True)
    shop = db.session.scalar(select(Shop))
    assert response.status_code == 200 and "HX-Redirect" not in response.headers
    assert response.headers["HX-Retarget"] == "#results table.shops > tbody"
    assert response.headers["HX-Reswap"] == "afterbegin"
    assert response.headers["HX-Trigger"] == "closeDialog"
    assert body.lstrip().startswith(f'<tr id="shop-{shop.id}" class="row-added">') and "<html" not in body
    assert f'hx-post="/shops/{shop.id}/verify"' in body and 'name="view" value="all"' in body
    assert "Nobody yet" in body  # the Shop list's staff column
    # The flash message comes along out of band, and is not shown a second time on the next page.
    messages = re.search(r'<div id="messages" hx-swap-oob="innerHTML">(.*?)</div>', body, re.S).group(1)
    assert "Shop “Fresh US” added. Click Verify to check the binding with Amazon." in messages
    assert "Fresh US” added" not in admin_client.get("/shops").get_data(as_text=True)


def test_member_adding_from_my_shops_gets_the_row_of_their_own_list(member_client, member_a):
    response = new_shop(member_client, "mine")
    body = response.get_data(as_text=True)
    assert response.headers["HX-Reswap"] == "afterbegin" and 'name="view" value="mine"' in body
    assert 'name="shop_ids"' not in body and "Nobody yet" not in body  # no bulk tick, no staff column
    assert db.session.scalar(select(ShopAssignment.user_id)) == member_a.id


@pytest.mark.parametrize("view, expected", [
    (None, "/shops"),       # no list under the dialog (a full page, an empty list)
    ("mine", "/my-shops"),  # the admin's new shop is not assigned to them: not in My shops
    ("bogus", "/shops"),
])
def test_new_shop_without_a_list_that_takes_it_navigates_as_before(admin_client, view, expected):
    response = new_shop(admin_client, view)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == expected
    assert "HX-Retarget" not in response.headers and response.get_data(as_text=True) == ""


def test_member_claiming_the_shop_list_gets_the_redirect(member_client):
    response = new_shop(member_client, "all")
    assert response.headers["HX-Redirect"] == "/my-shops" and "HX-Retarget" not in response.headers


def test_new_shop_without_htmx_ignores_the_list_header(admin_client):
    response = admin_client.post("/shops/new", data=NEW_SHOP, headers={"X-Shop-List": "all"})
    assert response.status_code == 303 and response.headers["Location"] == "/shops"


def test_refused_new_shop_shows_the_form_again_in_the_dialog(admin_client):
    assert new_shop(admin_client, "all").status_code == 200
    again = new_shop(admin_client, "all")  # the same name again: refused
    body = again.get_data(as_text=True)
    assert "HX-Retarget" not in again.headers and 'class="shop-form"' in body and "<tr" not in body


# --- the list page -----------------------------------------------------------------------------------


def test_list_page_has_the_workspace_pieces(admin_client, admin_a, make_shop):
    make_shop(admin_a, name="One")
    body = admin_client.get("/shops").get_data(as_text=True)
    assert '<div id="results" data-view="all">' in body
    assert '<div id="attention">' in body  # always there: the Verify answer swaps it out of band
    assert 'id="list-announcer"' in body and 'aria-live="polite"' in body
    assert 'data-select-all aria-label="Select all shops on this page"' in body
    assert "data-bulk-verify" in body and '<option value="remove">Remove from</option>' in body
    assert 'class="visually-hidden results-heading" tabindex="-1">Shops: page 1 of 1</h2>' in body
    mine = admin_client.get("/my-shops").get_data(as_text=True)
    assert '<div id="results" data-view="mine">' in mine and "data-select-all" not in mine


# --- Re-authorize in the row ---------------------------------------------------------------------------


def _age(shop, days):
    authorization = db.session.get(SellerAuthorization, shop.authorization_id)
    authorization.authorized_at = utcnow() - timedelta(days=days)
    db.session.commit()


def reauthorize_links(body):
    return set(int(i) for i in re.findall(r'<a href="/shops/(\d+)/reauthorize" hx-get="/shops/\1/reauthorize" '
                                          r'hx-target="#dialog-body" class="reauthorize">Re-authorize</a>', body))


def test_rows_that_need_a_new_authorization_offer_reauthorize(app, admin_client, member_client, admin_a, member_a,
                                                              make_shop):
    fine, failed, expiring, expired = (make_shop(admin_a, name=n, assign=[member_a])
                                       for n in ("Fine", "Failed", "Expiring", "Expired"))
    db.session.get(Shop, failed.id).check_status = CHECK_FAILED
    db.session.commit()
    validity, warn = app.config["AUTHORIZATION_VALIDITY_DAYS"], app.config["AUTHORIZATION_WARN_DAYS"]
    _age(expiring, validity - warn + 1)
    _age(expired, validity + 1)
    wanted = {failed.id, expiring.id, expired.id}
    assert reauthorize_links(admin_client.get("/shops").get_data(as_text=True)) == wanted
    # A member re-authorizes the shops assigned to them: My shops offers it too.
    assert reauthorize_links(member_client.get("/my-shops").get_data(as_text=True)) == wanted
    assert member_client.get(f"/shops/{failed.id}/reauthorize", headers=HX).status_code == 200
    assert fine.id not in wanted


# --- the Verify answer carries the banner ----------------------------------------------------------------


@pytest.fixture
def verify_client(amazon_app, people):
    client = amazon_app.test_client()
    client.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
    return client


def bind(people, standin, name, seller, scenario):
    from portal.shops.services import create_shop

    token = f"Atzr|workspace-{scenario}-{seller}-0123456789"
    standin.register(token, seller_id=seller, scenario=scenario, marketplaces=[US], region="NA")
    shop = create_shop(people[0], name=name, region="NA", mode="single", marketplace_ids=[US], seller_id=seller,
                       token=token).shop
    db.session.commit()
    return shop


def verify(client, shop, view):
    response = client.post(f"/shops/{shop.id}/verify", data={"view": view}, headers=HX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def banner(body):
    found = re.search(r'<div id="attention"( hx-swap-oob="true")?>(.*?)</div>', body, re.S)
    return found and (bool(found.group(1)), " ".join(found.group(2).split()))


def test_verify_from_the_list_sends_the_banner_counted_afresh(verify_client, people, standin):
    good = bind(people, standin, "Good", "A1GOODSELLER01", "valid")
    revoked = bind(people, standin, "Revoked", "A1REVOKEDSELL2", "revoked")
    body = verify(verify_client, good, "all")
    assert body.lstrip().startswith(f'<tr id="shop-{good.id}"')
    assert banner(body) == (True, "")  # nothing needs attention: the banner is emptied
    body = verify(verify_client, revoked, "all")
    oob, text = banner(body)
    assert oob and "Needs attention:" in text and "1 failed its check" in text
    assert 'href="/shops?status=failed"' in body
    assert f'href="/shops/{revoked.id}/reauthorize"' in body  # the failed row offers Re-authorize at once
    # On My shops the banner counts the admin's own shops (none assigned) and links to My shops.
    assert banner(verify(verify_client, revoked, "mine")) == (True, "")


def test_verify_from_the_shop_page_has_no_banner(verify_client, people, standin):
    revoked = bind(people, standin, "Revoked", "A1REVOKEDSELL2", "revoked")
    body = verify(verify_client, revoked, "detail")
    assert 'id="status-panel"' in body and banner(body) is None


def test_member_verify_banner_counts_only_their_shops(amazon_app, people, standin, login):
    admin, member = people
    theirs = bind(people, standin, "Theirs", "A1REVOKEDSELL2", "revoked")
    other = bind(people, standin, "Other", "A1REVOKEDSELL3", "revoked")
    db.session.add(ShopAssignment(shop_id=theirs.id, user_id=member.id))
    db.session.commit()
    client = amazon_app.test_client()
    login(client, member)
    assert client.post(f"/shops/{other.id}/verify", data={"view": "all"}, headers=HX).status_code == 404
    admin_client = amazon_app.test_client()
    login(admin_client, admin)
    verify(admin_client, other, "all")  # one failing shop the member does not see
    body = verify(client, theirs, "all")  # a member's "all" is their own list
    oob, text = banner(body)
    assert oob and "1 failed its check" in text and 'href="/my-shops?status=failed"' in body


# --- bulk assign: add and remove --------------------------------------------------------------------------


def bulk(client, user, shops, action=None):
    data = {"user_id": user.id, "shop_ids": [s.id for s in shops]}
    if action:
        data["action"] = action
    return client.post("/shops/bulk-assign", data=data, headers={**HX, "Referer": "http://localhost/shops?page=2"})


def assigned(user):
    return set(db.session.scalars(select(ShopAssignment.shop_id).where(ShopAssignment.user_id == user.id)))


def test_bulk_remove_unassigns_only_the_ticked_shops_of_the_company(admin_client, admin_a, member_a, admin_b,
                                                                     make_user, make_shop):
    other_member = make_user(admin_a.company, name="Other Member")
    shops = [make_shop(admin_a, assign=[member_a, other_member]) for _ in range(3)]
    foreign = make_shop(admin_b, seller_id="A99999999999")
    never = make_shop(admin_a)
    response = bulk(admin_client, member_a, [shops[0], shops[2], foreign, never], "remove")
    assert response.headers["HX-Redirect"] == "/shops?page=2"
    assert assigned(member_a) == {shops[1].id}
    assert assigned(other_member) == {s.id for s in shops}  # other people's assignments stay
    page = admin_client.get("/shops").get_data(as_text=True)
    assert "2 shops removed from Member A." in page
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "shop.assignments_changed")).one()
    assert (event.object_type, event.object_id, event.user_id) == ("user_account", member_a.id, admin_a.id)
    assert event.detail == f"bulk: 2 shops unassigned; shops={shops[0].id},{shops[2].id}"


def test_bulk_remove_when_nothing_was_assigned_says_so(admin_client, admin_a, member_a, make_shop):
    shop = make_shop(admin_a)
    bulk(admin_client, member_a, [shop], "remove")
    assert "None of the ticked shops was assigned to Member A; nothing changed." in \
        admin_client.get("/shops").get_data(as_text=True)


def test_bulk_assign_then_remove_round_trip(admin_client, admin_a, member_a, make_shop):
    shops = [make_shop(admin_a) for _ in range(2)]
    bulk(admin_client, member_a, shops, "assign")
    assert assigned(member_a) == {s.id for s in shops}
    assert "2 shops newly assigned to Member A." in admin_client.get("/shops").get_data(as_text=True)
    bulk(admin_client, member_a, shops)  # no action: assign, as before; nothing new
    assert "0 shops newly assigned to Member A." in admin_client.get("/shops").get_data(as_text=True)
    bulk(admin_client, member_a, shops[:1], "remove")
    assert assigned(member_a) == {shops[1].id}
    details = list(db.session.scalars(select(AuditEvent.detail).where(
        AuditEvent.action == "shop.assignments_changed").order_by(AuditEvent.id)))
    assert details == [f"bulk: 2 shops assigned; shops={shops[0].id},{shops[1].id}", "bulk: 0 shops assigned; shops=",
                       f"bulk: 1 shops unassigned; shops={shops[0].id}"]


@pytest.mark.parametrize("action", ["delete", "REMOVE", ""])
def test_bulk_with_an_unknown_action_changes_nothing(admin_client, admin_a, member_a, make_shop, action):
    shop = make_shop(admin_a, assign=[member_a])
    assert bulk(admin_client, member_a, [shop], action or " ").status_code == 400
    assert assigned(member_a) == {shop.id}


def test_bulk_remove_with_nothing_ticked(admin_client, member_a):
    response = bulk(admin_client, member_a, [], "remove")
    assert response.headers["HX-Redirect"] == "/shops?page=2"
    assert "Tick the shops to remove first." in admin_client.get("/shops").get_data(as_text=True)


def test_member_cannot_bulk_remove(member_client, admin_a, member_a, make_shop):
    shop = make_shop(admin_a, assign=[member_a])
    assert bulk(member_client, member_a, [shop], "remove").status_code == 403
    assert assigned(member_a) == {shop.id}
