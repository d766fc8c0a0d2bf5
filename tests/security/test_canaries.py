"""Company B's data never reaches company A.

Company B gets shops, other stores, orders, users and audit events whose names, seller IDs, emails,
URLs and order numbers carry one unique canary. Company A's admin and member then GET every GET
route of the URL map (real ids of A's objects, searches that match B's names, every filter, CSV
exports, htmx fragments): no response may contain the canary. A's pages must not even change when
B's data appears (counts and banners are scoped too)."""
import uuid

import pytest

from tests.security import helpers
from tests.security.helpers import HX


@pytest.fixture
def canary():
    return uuid.uuid4().hex[:12]


@pytest.fixture
def a_side(app, company_a, admin_a, member_a, make_user, make_shop):
    """Company A: a shop and an other store (with an order) assigned to the member."""
    from datetime import date
    from decimal import Decimal

    from portal.extensions import db
    from portal.models import OtherStoreAssignment
    from portal.other_stores.services import save_order, save_store

    other = make_user(company_a, name="Other A", email="other-a@example.com")
    shop = make_shop(admin_a, name="A shop", seller_id="A1B2C3D4E5F6G7", assign=[member_a])
    store = save_store(admin_a, None, platform="other", platform_other="Local market", name="A store",
                       countries=["DE"], url="https://a.example/store", login_name="a-login", notes="A notes")
    store.assignments.append(OtherStoreAssignment(user_id=member_a.id))
    order = save_order(admin_a, store, None, order_number="A-1", order_date=date(2026, 1, 5), status="paid",
                       currency="EUR", total=Decimal("5.00"), buyer_name="A buyer", notes=None)
    from portal.models import AlertChannel

    channel = AlertChannel(company_id=company_a.id, name="A channel", name_key="a channel", kind="email",
                           email_to="ops-a@example.com", events="auth_expired")
    db.session.add(channel)
    db.session.commit()
    return {"shop_id": shop.id, "store_id": store.id, "order_id": order.id, "user_id": other.id,
            "member_id": member_a.id, "channel_id": channel.id}


def seed_company_b(app, make_company, make_user, canary, a_ids):
    """Company B, filled through its own admin's requests so its audit trail holds the canary too."""
    from portal.extensions import db
    from portal.models import AlertChannel, Order, OtherStore, Shop

    company = make_company(f"Canary Co {canary}")
    admin = make_user(company, role="admin", email=f"canary-admin-{canary}@example.com", name=f"Canary Admin {canary}")
    member = make_user(company, email=f"canary-member-{canary}@example.com", name=f"Canary Member {canary}")
    client = app.test_client()
    helpers.post(client, "/login", {"email": admin.email, "password": helpers.PASSWORD}, token=client.csrf_token())
    token = client.csrf_token()
    seller = "A" + canary.upper()
    for n, region, marketplace in ((1, "NA", helpers.US), (2, "EU", helpers.DE)):
        response = helpers.post(client, "/shops/new", {
            "name": f"Canary shop {n} {canary}", "region": region, "mode": "single", "marketplace": marketplace,
            "seller_id": seller, "token": f"Atzr|canary-token-{n}-{canary}", "authorized": "y"}, token=token)
        assert response.status_code == 303, response.get_data(as_text=True)[:300]
    response = helpers.post(client, "/other-stores/new", {
        "platform": "other", "platform_other": f"Canary platform {canary}", "name": f"Canary store {canary}",
        "countries": ["DE", "FR"], "url": f"https://canary-{canary}.example/", "login_name": f"canary-login-{canary}",
        "notes": f"Canary notes {canary}"}, token=token)
    assert response.status_code == 303
    store = db.session.scalar(helpers.select(OtherStore).where(OtherStore.company_id == company.id))
    response = helpers.post(client, f"/other-stores/{store.id}/orders/new", {
        "order_number": f"ORD-{canary}", "order_date": "2026-01-05", "status": "paid", "currency": "EUR",
        "total": "7.00", "buyer_name": f"Canary buyer {canary}", "notes": f"Canary order notes {canary}"}, token=token)
    assert response.status_code == 303
    response = helpers.post(client, "/admin/users/new", {
        "display_name": f"Canary New {canary}", "email": f"canary-new-{canary}@example.com", "role": "member",
        "password": "a temporary passphrase"}, token=token)
    assert response.status_code == 303
    response = helpers.post(client, "/notifications/new", {
        "kind": "email", "name": f"Canary channel {canary}", "email_to": f"canary-mail-{canary}@example.com",
        "events": ["auth_expired"], "enabled": "y"}, token=token)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    for shop in db.session.scalars(helpers.select(Shop).where(Shop.company_id == company.id)):
        helpers.post(client, f"/shops/{shop.id}/assign", {"shown": [member.id], "selected": [member.id]}, token=token)
    # B pokes at A's ids (audited as B's denials) and B's member mistypes a password.
    for path in (f"/shops/{a_ids['shop_id']}", f"/other-stores/{a_ids['store_id']}",
                 f"/admin/users/{a_ids['user_id']}/password"):
        assert client.get(path).status_code == 404
    stranger = app.test_client()
    helpers.post(stranger, "/login", {"email": member.email, "password": "wrong password"}, token=stranger.csrf_token())
    helpers.post(stranger, "/login", {"email": f"canary-nobody-{canary}@example.com", "password": "x"},
                 token=stranger.csrf_token())
    assert db.session.scalar(helpers.select(helpers.func.count(Order.id)).where(Order.company_id == company.id)) == 1
    from portal.models import AlertEvent, utcnow

    alerts = [AlertEvent(company_id=company.id, shop_id=shop_id, kind=kind, episode=canary,
                         closed_at=utcnow() if kind == "check_recovered" else None)
              for shop_id in db.session.scalars(helpers.select(Shop.id).where(Shop.company_id == company.id))
              for kind in ("auth_expired", "check_recovered")]
    db.session.add_all(alerts)
    db.session.commit()
    return {"event_id": alerts[0].id, "admin_id": admin.id, "member_id": member.id, "store_id": store.id, "seller": seller, "company_id": company.id,
            "shop_ids": list(db.session.scalars(helpers.select(Shop.id).where(Shop.company_id == company.id))),
            "order_id": db.session.scalar(helpers.select(Order.id).where(Order.company_id == company.id)),
            "channel_id": db.session.scalar(helpers.select(AlertChannel.id).where(AlertChannel.company_id == company.id))}


def a_get_urls(app, ids, canary, b):
    """endpoint -> the URLs company A asks of it (searches that would match B, filters, pages)."""
    term = "canary"  # matches every B name, yet is not the canary itself
    seller_part = b["seller"][:7]
    shop, store, order, user = ids["shop_id"], ids["store_id"], ids["order_id"], ids["member_id"]
    list_args = ["", f"?q={term}", f"?q={seller_part}", "?q=%25", "?q=_", "?page=2", "?page=999", "?region=EU",
                 "?sort=-name", "?sort=expiry", "?sort=-created"] + [f"?status={s}" for s in (
                     "attention", "verified", "failed", "never", "valid", "expiring", "expired")]
    # B's shops and store by id: ignored as filters, never named.
    order_args = ["", f"?q={term}", f"?q={canary[:5]}", "?q=%25", "?page=2", "?country=FR", "?source=manual",
                  f"?shop=store-{b['store_id']}", *(f"?shop=shop-{shop_id}" for shop_id in b["shop_ids"])]
    urls = {
        "auth.setup": ["/setup"], "auth.login": ["/login"], "auth.change_password_view": ["/account/password"],
        "main.index": ["/"], "main.health": ["/healthz"],
        "admin.users": ["/admin/users" + q for q in ("", f"?q={term}", "?q=example.com", f"?q={canary[:5]}",
                                                      "?q=%25", "?page=2")],
        "admin.new_user": ["/admin/users/new"],
        "admin.reset_user_password": [f"/admin/users/{user}/password"],
        "admin.activity": ["/admin/activity" + q for q in (
            "", f"?user={b['admin_id']}", f"?user={b['member_id']}", "?action=shop.created", "?action=auth.login",
            "?action=access.denied", "?action=store.created", "?action=order.created", "?action=user.created",
            "?start=2000-01-01&end=2100-01-01", "?page=2")],
        "admin.activity_csv": ["/admin/activity.csv" + q for q in (
            "", f"?user={b['admin_id']}", "?action=auth.login", "?action=shop.created", "?start=2000-01-01")],
        "shops.shop_list": ["/shops" + q for q in list_args],
        "shops.my_shops": ["/my-shops" + q for q in list_args],
        "shops.new_shop": ["/shops/new", "/shops/new?region=EU"],
        "shops.form_fields": ["/shops/form-fields?region=" + r for r in ("NA", "EU", "FE")] +
                             [f"/shops/form-fields?region=EU&mode=multi&edit=1&seller_id={b['seller']}"],
        "shops.detail": [f"/shops/{shop}"], "shops.edit": [f"/shops/{shop}/edit"],
        "shops.reauthorize": [f"/shops/{shop}/reauthorize"], "shops.assign": [f"/shops/{shop}/assign"],
        "shops.user_shops": [f"/admin/users/{user}/shops" + q for q in ("", f"?q={term}", f"?q={seller_part}")],
        "other_stores.index": ["/other-stores" + q for q in ("", f"?q={term}", "?platform=other", "?country=FR",
                                                             "?country=DE", "?q=%25", "?page=2")],
        "other_stores.new": ["/other-stores/new"],
        "other_stores.detail": [f"/other-stores/{store}" + q for q in ("", "?status=paid", "?start=2000-01-01",
                                                                       "?end=2100-01-01")],
        "other_stores.edit": [f"/other-stores/{store}/edit"], "other_stores.assign": [f"/other-stores/{store}/assign"],
        "other_stores.new_order": [f"/other-stores/{store}/orders/new"],
        "other_stores.edit_order": [f"/other-stores/{store}/orders/{order}/edit"],
        "other_stores.export_orders": [f"/other-stores/{store}/orders.csv" + q for q in ("", "?status=paid",
                                                                                         "?start=2000-01-01")],
        "orders.index": ["/orders" + q for q in order_args],
        "orders.export": ["/orders.csv" + q for q in order_args],
        "jobs.index": ["/jobs", "/jobs?page=2"], "jobs.sync_status": [f"/shops/{shop}/sync-status"],
        "inbox.index": ["/alerts" + q for q in ("", "?show=open", "?show=closed", "?page=2")],
        "admin.user_mentions": [f"/admin/users/{user}/mentions"],
        "notifications.index": ["/notifications"], "notifications.new": ["/notifications/new"],
        "notifications.form_fields": [f"/notifications/form-fields?kind={k}" for k in ("wecom", "dingtalk", "email")],
        "notifications.edit": [f"/notifications/{ids['channel_id']}/edit"],
    }
    return urls


def test_company_b_canaries_never_reach_company_a(app, a_side, admin_a, member_a, make_company, make_user, canary):
    b = seed_company_b(app, make_company, make_user, canary, a_side)
    urls = a_get_urls(app, a_side, canary, b)
    get_endpoints = {e for e, methods in helpers.route_methods(app).items() if "GET" in methods}
    assert set(urls) == get_endpoints, "every GET route is asked: add the new one to a_get_urls"
    from portal.extensions import db
    from portal.models import JobRun
    db.session.add(JobRun(name="orders.sync", company_id=b["company_id"], target=f"canary-{canary} (NA)",
                          status="failed", error=f"canary-{canary}"))
    db.session.commit()
    seen = 0
    for user in (admin_a, member_a):
        client = app.test_client()
        helpers.post(client, "/login", {"email": user.email, "password": helpers.PASSWORD}, token=client.csrf_token())
        for endpoint, paths in urls.items():
            for path in paths:
                for headers in ({}, HX):
                    response = client.get(path, headers=headers)
                    body = response.get_data(as_text=True)
                    assert response.status_code < 500, (path, body[:300])
                    assert canary not in body.lower(), (user.email, path, headers)
                    assert all(canary not in value.lower() for _k, value in response.headers.items()), path
                    seen += response.status_code == 200
    assert seen > 100  # the pages really were shown, not refused
    # Control: the same searches by B's admin do find the canaries (so their absence above means something).
    client = app.test_client()
    helpers.post(client, "/login", {"email": f"canary-admin-{canary}@example.com", "password": helpers.PASSWORD},
                 token=client.csrf_token())
    for path in ("/shops?q=canary", "/other-stores?q=canary", "/admin/users?q=canary", "/admin/activity", "/jobs", "/alerts",
                 f"/other-stores/{b['store_id']}/orders.csv", "/orders", "/orders.csv?source=manual", "/notifications"):
        assert canary in client.get(path).get_data(as_text=True).lower(), path


def test_company_b_ids_on_company_a_routes_are_404_without_canaries(app, a_side, admin_a, make_company, make_user,
                                                                   canary):
    """Every route taking an id, given B's ids by A's admin: 404, and nothing of B in the answer."""
    b = seed_company_b(app, make_company, make_user, canary, a_side)
    client = app.test_client()
    helpers.post(client, "/login", {"email": admin_a.email, "password": helpers.PASSWORD}, token=client.csrf_token())
    token = client.csrf_token()
    target = type("B", (), {"shop_id": b["shop_ids"][0], "store_id": b["store_id"], "order_id": b["order_id"],
                            "user_id": b["member_id"], "event_id": b["event_id"],
                            "channel_id": b["channel_id"]})()
    asked = 0
    for endpoint, methods in helpers.route_methods(app).items():
        rule = helpers.rule_of(app, endpoint)
        if not set(rule.arguments) & {"shop_id", "store_id", "order_id", "user_id", "event_id", "channel_id"}:
            continue
        url = helpers.build_url(app, endpoint, target)
        for method in methods:
            for headers in ({}, HX):
                response = client.get(url, headers=headers) if method == "GET" else \
                    helpers.post(client, url, {"name": "x", "role": "admin", "selected": [1], "shown": [1]},
                                 token=token, headers=headers)
                assert response.status_code == 404, (method, url, response.status_code)
                assert canary not in response.get_data(as_text=True).lower(), (method, url)
                asked += 1
    # The bulk-assign form names a user of B: 404 too.
    response = helpers.post(client, "/shops/bulk-assign", {"user_id": b["member_id"], "shop_ids": b["shop_ids"]},
                            token=token)
    assert response.status_code == 404 and canary not in response.get_data(as_text=True).lower()
    assert asked >= 30


def test_company_a_pages_do_not_change_when_company_b_fills_up(app, a_side, admin_a, member_a, make_company,
                                                               make_user, canary):
    """Counts, banners, pagination and filter choices of A are the same with or without B's data."""
    shared = ["/my-shops", "/my-shops?status=never", "/other-stores", "/other-stores?country=FR",
              f"/other-stores/{a_side['store_id']}", f"/shops/{a_side['shop_id']}"]
    pages = {admin_a.email: shared + ["/shops", "/shops?status=attention", "/shops?region=EU", "/admin/users",
                                      "/admin/activity", f"/admin/users/{a_side['member_id']}/shops",
                                      f"/shops/{a_side['shop_id']}/assign"],
             member_a.email: shared}  # only pages the member may see: a refusal would add to A's activity
    clients = {}
    for user in (admin_a, member_a):
        client = app.test_client()
        helpers.post(client, "/login", {"email": user.email, "password": helpers.PASSWORD}, token=client.csrf_token())
        clients[user.email] = client

    def render():
        return {(email, page, bool(h)): helpers.without_tokens(client.get(page, headers=h).get_data(as_text=True))
                for email, client in clients.items() for page in pages[email] for h in ({}, HX)}

    before = render()
    seed_company_b(app, make_company, make_user, canary, a_side)
    after = render()
    changed = [key for key in before if before[key] != after[key]]
    assert changed == []
