"""Who may do what with shops.

The role x route matrix (plain and htmx) is checked against the URL map, so a new shop route
without an expectation fails; then company isolation with canary names, assignments that take
effect on the next request, and forms that ignore the fields they do not bind."""
import html
import re
import uuid
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import url_for
from sqlalchemy import select

from devtools.standin import StandinAmazon
from portal.extensions import db
from portal.models import AlertChannel, SellerAuthorization, Shop, ShopAssignment, User

HX = {"HX-Request": "true"}
US, CA, DE, FR = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9", "A13V1IB3VIYZZH"

ROLES = ("anonymous", "member_with", "member_without", "admin_a", "admin_b")
LOGIN, OK = "login", "ok"


def _expect(anonymous=LOGIN, member_with=OK, member_without=OK, admin_a=OK, admin_b=OK):
    return {"anonymous": anonymous, "member_with": member_with, "member_without": member_without,
            "admin_a": admin_a, "admin_b": admin_b}


# Routes taking a company-A shop id: members reach only their assigned shops, other companies nothing.
SHOP_SCOPED = _expect(member_without=404, admin_b=404)
# Admin-only routes: members are refused by role (403, whatever the id: see
# test_member_403_does_not_depend_on_the_id); admin B only gets 404 for company A's ids.
ADMIN_ONLY = _expect(member_with=403, member_without=403)
ADMIN_ONLY_A_IDS = _expect(member_with=403, member_without=403, admin_b=404)

# endpoint -> method -> role -> expected outcome. Every "shops." rule of the URL map must be here.
EXPECT = {
    "shops.shop_list": {"GET": ADMIN_ONLY},
    "shops.my_shops": {"GET": _expect()},
    "shops.new_shop": {"GET": _expect(), "POST": _expect()},
    "shops.form_fields": {"GET": _expect()},
    "shops.detail": {"GET": SHOP_SCOPED},
    "shops.edit": {"GET": SHOP_SCOPED, "POST": SHOP_SCOPED},
    "shops.reauthorize": {"GET": SHOP_SCOPED, "POST": SHOP_SCOPED},
    "shops.delete": {"POST": ADMIN_ONLY_A_IDS},
    "shops.assign": {"GET": ADMIN_ONLY_A_IDS, "POST": ADMIN_ONLY_A_IDS},
    "shops.verify": {"POST": SHOP_SCOPED},
    # The form names a company-A user (and shop): admin B gets 404.
    "shops.bulk_assign_view": {"POST": ADMIN_ONLY_A_IDS},
    "shops.user_shops": {"GET": ADMIN_ONLY_A_IDS, "POST": ADMIN_ONLY_A_IDS},
}
# Pages that answer htmx with one block only (detail is always a whole page, form_fields always a fragment).
FRAGMENTS = {"shops.shop_list", "shops.my_shops", "shops.new_shop", "shops.edit", "shops.reauthorize",
             "shops.assign", "shops.user_shops"}
ROUTES = [(endpoint, method) for endpoint, methods in EXPECT.items() for method in methods]


@pytest.fixture
def amazon():
    with StandinAmazon() as server:
        yield server


@pytest.fixture
def app(app_factory, amazon):
    """Verify and re-authorize ask Amazon: here a real stand-in on loopback, never the internet."""
    app = app_factory(AMAZON_LWA_CLIENT_ID=amazon.client_id, AMAZON_LWA_CLIENT_SECRET=amazon.client_secret,
                      AMAZON_LWA_TOKEN_URL=amazon.token_url, AMAZON_SPAPI_ENDPOINT_NA=amazon.endpoint,
                      AMAZON_SPAPI_ENDPOINT_EU=amazon.endpoint, AMAZON_SPAPI_ENDPOINT_FE=amazon.endpoint,
                      AMAZON_MAX_TRIES=1, AMAZON_CONNECT_TIMEOUT=1.0, AMAZON_READ_TIMEOUT=2.0)
    with app.app_context():
        yield app
    client = app.extensions.pop("portal_amazon_client", None)
    if client is not None:
        client.close()


# Append-only logs that a refused request is meant to write to (the denial is audited).
AUDIT_TABLES = {"audit_event"}


def snapshot():
    """Every row of every table but the audit trail, to prove a refused request changed nothing."""
    db.session.commit()
    return {table.name: sorted(repr(tuple(row)) for row in db.session.execute(table.select()).all())
            for table in db.metadata.sorted_tables if table.name not in AUDIT_TABLES}


def audit_events():
    """(id, action, outcome, user_id) of every audit event, if the app keeps an audit trail."""
    table = db.metadata.tables.get("audit_event")
    if table is None:
        return set()
    db.session.commit()
    return set(db.session.execute(select(table.c.id, table.c.action, table.c.outcome, table.c.user_id)).all())


def seller(prefix="A"):
    return (prefix + uuid.uuid4().hex.upper())[:14]


@pytest.fixture
def world(app, company_a, admin_a, member_a, admin_b, make_user, make_shop):
    """Company A: an admin, a member with the target shops, a member with another shop, a member with
    none. Company B: an admin, a member and a canary shop whose name and seller ID must never reach A."""
    member_without = make_user(company_a, name="Member Without", email="member-without@example.com")
    member_empty = make_user(company_a, name="Member Empty", email="member-empty@example.com")
    other_a = make_shop(admin_a, name="Other shop of A", assign=[member_without])
    canary_token = uuid.uuid4().hex
    member_b = make_user(admin_b.company, name=f"CANARY-USER-{canary_token}",
                         email=f"canary-{canary_token}@example.com")
    canary = make_shop(admin_b, name=f"CANARY-B-{canary_token}", seller_id="ACANARY" + canary_token[:8].upper(),
                       assign=[member_b])
    store_a, order_a = _other_store(member_a, "Store of A", "A-ORDER-1", "Buyer of A")
    channel_a = AlertChannel(company_id=company_a.id, name="Channel of A", name_key="channel of a", kind="email",
                             email_to="ops-a@example.com", events="auth_expired")
    db.session.add(channel_a)
    db.session.commit()
    canary_store, canary_order = _other_store(member_b, f"CANARY-STORE-{canary_token}", f"CANARY-ORDER-{canary_token}",
                                              f"CANARY-BUYER-{canary_token}")
    canary_channel = AlertChannel(company_id=admin_b.company_id, name=f"CANARY-CHANNEL-{canary_token}",
                                  name_key=f"canary-channel-{canary_token}", kind="email",
                                  email_to=f"canary-{canary_token}@example.com", events="auth_expired")
    db.session.add(canary_channel)
    db.session.commit()
    tags = iter(range(1, 1000))

    def target(tag=None):
        """A fresh company-A shop assigned to member A (one per request variant: successes change it),
        as plain values that outlive a deleted row."""
        shop = make_shop(admin_a, name=f"Target shop {tag or next(tags)}", seller_id=seller("AT"), assign=[member_a],
                         token=f"Atzr|standin-valid-{uuid.uuid4().hex}-mnop")
        return SimpleNamespace(id=shop.id, name=shop.name, seller_id=shop.seller_id,
                               authorization_id=shop.authorization_id, last4=shop.authorization.token_last4)

    return SimpleNamespace(
        admin_a=admin_a, member_with=member_a, member_without=member_without, member_empty=member_empty,
        admin_b=admin_b, member_b=member_b, other_a=other_a, canary=canary, canary_name=canary.name,
        canary_seller=canary.seller_id, canary_user=member_b.display_name, target=target,
        company_a_id=company_a.id, company_b_id=admin_b.company_id,
        ids_a={"store_id": store_a.id, "order_id": order_a.id, "channel_id": channel_a.id},
        ids_b={"store_id": canary_store.id, "order_id": canary_order.id, "channel_id": canary_channel.id},
        canary_other=[canary_store.name, canary_order.order_number, canary_order.buyer_name, canary_channel.name,
                      canary_channel.email_to])


def _other_store(user, name, order_number, buyer):
    """A store on another platform with one order, through the app's services (ids for the URL walk)."""
    from datetime import date
    from decimal import Decimal

    from portal.other_stores.services import save_order, save_store

    store = save_store(user, None, platform="ebay", platform_other=None, name=name, countries=["US"], url=None,
                       login_name=None, notes=None)
    order = save_order(user, store, None, order_number=order_number, order_date=date(2026, 1, 2), status="paid",
                       currency="USD", total=Decimal("12.50"), buyer_name=buyer, notes=None)
    db.session.commit()
    return store, order


def user_for(w, role):
    return None if role == "anonymous" else getattr(w, role)


def signed_in(app, login, user):
    client = app.test_client()
    if user is not None:
        login(client, user)
    return client


def build(app, endpoint, **values):
    """The URL of `endpoint`, with exactly the variables its rule declares."""
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    missing = set(rule.arguments) - set(values)
    assert not missing, f"tests/test_shop_access.py: give a value for {missing} of {rule.rule}"
    with app.test_request_context():
        return url_for(endpoint, **{k: v for k, v in values.items() if k in rule.arguments})


# --- what each route is asked, and what success means -------------------------------------------------

def request_for(c):
    """(url, form data) for endpoint c.endpoint with method c.method against the target shop c.t."""
    w, t, tag = c.w, c.t, c.tag
    url = build(c.app, c.endpoint, shop_id=t.id, user_id=w.member_with.id)
    if c.method == "GET":
        if c.endpoint == "shops.form_fields":
            url += "?region=EU&mode=multi"
        return url, None
    data = {
        "shops.new_shop": lambda: {"name": f"Bound by {c.role} {tag}", "region": "EU", "mode": "multi",
                                   "marketplaces": [DE, FR], "seller_id": f"  {c.new_seller.lower()} ",
                                   "token": f"Atzr|fresh-refresh-token-{tag}-0123456789", "authorized": "y"},
        "shops.edit": lambda: {"name": f"Renamed {tag}", "region": "NA", "edit": "1", "mode": "single",
                               "marketplace": CA},
        "shops.reauthorize": lambda: {"token": f"Atzr|standin-valid-reauthorized-0123-{tag}", "authorized": "y"},
        "shops.verify": lambda: {"view": "detail"},
        "shops.delete": lambda: {},
        "shops.assign": lambda: {"shown": [w.member_with.id, w.member_without.id], "selected": [w.member_without.id]},
        "shops.bulk_assign_view": lambda: {"user_id": w.member_without.id, "shop_ids": [t.id]},
        "shops.user_shops": lambda: {"shown": [t.id], "selected": []},
    }[c.endpoint]()
    return url, data


def assert_redirect(c, path):
    if c.htmx:
        assert c.response.status_code == 200, c.body[:300]
        assert urlsplit(c.response.headers["HX-Redirect"]).path == path
    else:
        assert c.response.status_code == 303, c.body[:300]
        assert urlsplit(c.response.headers["Location"]).path == path


def assignees(shop_id):
    return set(db.session.scalars(select(ShopAssignment.user_id).where(ShopAssignment.shop_id == shop_id)))


def check_success(c):
    w, t, body, key = c.w, c.t, c.body, (c.endpoint, c.method)
    if c.method == "GET":
        assert c.response.status_code == 200, (key, c.response.status_code)
        if c.endpoint in FRAGMENTS:
            assert ("<html" in body) is not c.htmx, "htmx gets the block, a browser the page"
        if c.endpoint == "shops.detail":
            assert t.name in body and t.seller_id in body
        elif c.endpoint == "shops.edit":
            assert f'value="{t.name}"' in body and 'name="csrf_token"' in body
        elif c.endpoint == "shops.reauthorize":
            assert 'name="token"' in body and t.name in body
        elif c.endpoint == "shops.assign":
            assert w.member_with.display_name in body and "checked" in body and t.name in body
        elif c.endpoint == "shops.user_shops":
            assert t.name in body and w.other_a.name in body and w.canary_name not in body
            assert (w.member_with.display_name in body) is not c.htmx  # the name is in the page head
        elif c.endpoint == "shops.new_shop":
            assert 'name="seller_id"' in body and 'name="token"' in body
        elif c.endpoint == "shops.form_fields":
            assert "<html" not in body and DE in body and US not in body
        elif c.endpoint == "shops.shop_list":
            own, foreign = (t.name, w.canary_name) if c.role == "admin_a" else (w.canary_name, t.name)
            assert own in body and foreign not in body
        elif c.endpoint == "shops.my_shops":
            assert (t.name in body) is (c.role == "member_with")
            assert (w.other_a.name in body) is (c.role == "member_without")
            assert w.canary_name not in body  # not even admin B: the canary is assigned to member B only
        assert snapshot() == c.before, "a GET changed the database"
        return
    if c.endpoint == "shops.new_shop":
        assert_redirect(c, "/shops" if c.user.is_admin else "/my-shops")
        shop = db.session.scalar(select(Shop).where(Shop.name == f"Bound by {c.role} {c.tag}"))
        assert shop is not None and shop.company_id == c.user.company_id
        assert shop.authorization.company_id == c.user.company_id
        assert shop.seller_id == c.new_seller and shop.region == "EU" and shop.marketplace_ids == [DE, FR]
        assert assignees(shop.id) == (set() if c.user.is_admin else {c.user.id})
    elif c.endpoint == "shops.edit":
        assert_redirect(c, f"/shops/{t.id}")
        shop = db.session.get(Shop, t.id)
        db.session.refresh(shop)
        assert shop.name == f"Renamed {c.tag}" and shop.marketplace_ids == [CA] and shop.mode == "single"
    elif c.endpoint == "shops.reauthorize":
        assert_redirect(c, f"/shops/{t.id}")
        authorization = db.session.get(SellerAuthorization, t.authorization_id)
        db.session.refresh(authorization)
        assert authorization.token_last4 == c.data["token"][-4:] != c.old_last4
        assert authorization.token_updated_by_id == c.user.id
        assert db.session.get(Shop, t.id).check_status == "verified"  # the new token is checked at once
    elif c.endpoint == "shops.verify":
        if c.htmx:  # the status panel, swapped in place
            assert c.response.status_code == 200 and "HX-Redirect" not in c.response.headers
            assert 'id="status-panel"' in body and "Verified" in body and "<html" not in body
        else:
            assert_redirect(c, f"/shops/{t.id}")
        shop = db.session.get(Shop, t.id)
        db.session.refresh(shop)
        assert shop.check_status == "verified" and shop.checked_at is not None
    elif c.endpoint == "shops.delete":
        assert_redirect(c, "/shops")
        assert db.session.get(Shop, t.id) is None and assignees(t.id) == set()
    elif c.endpoint == "shops.assign":
        assert_redirect(c, f"/shops/{t.id}")
        assert assignees(t.id) == {w.member_without.id}
    elif c.endpoint == "shops.bulk_assign_view":
        assert_redirect(c, "/shops")
        assert assignees(t.id) == {w.member_with.id, w.member_without.id}
    elif c.endpoint == "shops.user_shops":
        # A plain form (no hx-post): a 303 for both, which htmx would follow too.
        assert c.response.status_code == 303
        assert urlsplit(c.response.headers["Location"]).path == f"/admin/users/{w.member_with.id}/shops"
        assert assignees(t.id) == set()
    else:
        raise AssertionError(f"tests/test_shop_access.py: say what success of POST {c.endpoint} means")


def check_refusal(c, expected):
    assert snapshot() == c.before, f"a refused {c.method} {c.endpoint} changed the database"
    added = audit_events() - c.audit_before
    assert all(outcome == "denied" and user_id == getattr(c.user, "id", None)
               for _id, _action, outcome, user_id in added), added  # at most the denial, by this user
    response = c.response
    if expected == LOGIN:
        if c.htmx:
            assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login")
            target = response.headers["HX-Redirect"]
        else:
            assert response.status_code == 302
            target = response.headers["Location"]
        parts = urlsplit(target)
        assert parts.path == "/login"
        expected_next = [c.url] if c.method == "GET" else None
        assert parse_qs(parts.query).get("next") == expected_next
        return
    assert response.status_code == expected, (c.endpoint, c.method, c.role, c.htmx, response.status_code)
    if c.htmx:
        assert response.headers.get("HX-Retarget") == "#messages" and "<html" not in c.body
    # A refusal never shows the shop it refused (existence does not leak).
    assert c.t.name not in c.body and c.t.seller_id not in c.body


# --- the matrix ---------------------------------------------------------------------------------------

def test_every_shop_route_has_expectations(app):
    """A new shop route (or a new method on one) fails here until the matrix says who may use it."""
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("shops."):
            routes.setdefault(rule.endpoint, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    assert set(EXPECT) == set(routes)
    for endpoint, methods in routes.items():
        assert set(EXPECT[endpoint]) == methods, endpoint
        for row in EXPECT[endpoint].values():
            assert set(row) == set(ROLES)
    assert len(ROUTES) == sum(len(m) for m in routes.values())


@pytest.mark.parametrize(("endpoint", "method"), ROUTES)
def test_access_matrix(app, world, login, endpoint, method):
    """Every role, plain and htmx, on one route; all failing cells are reported together."""
    failures = []
    for role in ROLES:
        expected = EXPECT[endpoint][method][role]
        user = user_for(world, role)
        client = signed_in(app, login, user)
        for htmx in (False, True):
            try:
                request_and_check(app, world, client, endpoint, method, role, user, htmx, expected)
            except AssertionError as error:
                failures.append(f"{role} {'htmx' if htmx else 'plain'} (expected {expected}): {error}"[:1500])
    assert not failures, "\n\n".join(failures)


def request_and_check(app, world, client, endpoint, method, role, user, htmx, expected):
    tag = f"{role}-{'htmx' if htmx else 'plain'}"  # unique names: successes of earlier roles stay
    target = world.target(tag)
    c = SimpleNamespace(app=app, w=world, t=target, tag=tag, role=role, user=user, endpoint=endpoint,
                        method=method, htmx=htmx, new_seller=seller("AN"), old_last4=target.last4)
    c.url, c.data = request_for(c)
    c.before, c.audit_before = snapshot(), audit_events()
    headers = HX if htmx else {}
    c.response = client.get(c.url, headers=headers) if method == "GET" else \
        client.post(c.url, data=c.data, headers=headers)
    c.body = c.response.get_data(as_text=True)
    assert c.response.status_code < 500, c.body[:500]
    assert "HX-Request" in c.response.headers.get("Vary", "")
    if expected == OK:
        check_success(c)
    else:
        check_refusal(c, expected)


def without_csrf_token(body):
    """The page minus its CSRF token, which carries a timestamp and so changes every second."""
    return re.sub(r'(name="csrf_token"[^>]*value="|"X-CSRFToken": ")[^"]+', r"\1", body)


def test_member_403_does_not_depend_on_the_id(app, world, login):
    """Admin-only routes refuse members by role before any lookup: the answer is the same for an
    assigned shop, an unassigned one, another company's and one that does not exist."""
    client = signed_in(app, login, world.member_with)
    ids = [world.target().id, world.other_a.id, world.canary.id, 987654]
    before = snapshot()
    for template in ("/shops/{}/delete", "/shops/{}/assign"):
        for headers in ({}, HX):
            answers = {(r.status_code, without_csrf_token(r.get_data(as_text=True)))
                       for r in (client.post(template.format(i), data={"shown": [world.member_with.id],
                                                                       "selected": [world.member_with.id]},
                                             headers=headers) for i in ids)}
            assert len(answers) == 1 and next(iter(answers))[0] == 403
    assert snapshot() == before


def test_admin_a_gets_404_for_company_b_ids_everywhere(app, world, login):
    """The mirror image of admin B's rows in the matrix: company B's shop and user ids on every shop
    route taking an id, with realistic form data, answer 404 and change nothing."""
    client = signed_in(app, login, world.admin_a)
    before = snapshot()
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("shops.") or not rule.arguments:
            continue
        url = build(app, rule.endpoint, shop_id=world.canary.id, user_id=world.member_b.id)
        for method in sorted(rule.methods & {"GET", "POST"}):
            for headers in ({}, HX):
                data = {"name": "Hijacked", "mode": "single", "marketplace": CA, "token": "Atzr|hijack-0123456789-xyz",
                        "authorized": "y", "shown": [world.member_b.id, world.canary.id], "selected": []}
                response = client.get(url, headers=headers) if method == "GET" else \
                    client.post(url, data=data, headers=headers)
                body = response.get_data(as_text=True)
                assert response.status_code == 404, (rule.endpoint, method, response.status_code)
                assert world.canary_name not in body and world.canary_user not in body
                checked += 1
    assert checked >= 2 * 9
    # bulk assign takes the ids from the form
    for headers in ({}, HX):
        response = client.post("/shops/bulk-assign", data={"user_id": world.member_b.id,
                                                           "shop_ids": [world.canary.id]}, headers=headers)
        assert response.status_code == 404
    assert snapshot() == before


def test_foreign_ids_inside_forms_are_ignored(app, world, login):
    """Ids of company B in the lists an admin of A submits are dropped, never acted on."""
    client = signed_in(app, login, world.admin_a)
    target = world.target()
    before = snapshot()
    canary_assignees = assignees(world.canary.id)
    response = client.post(f"/shops/{target.id}/assign",
                           data={"shown": [world.member_with.id, world.member_b.id, world.admin_b.id],
                                 "selected": [world.member_with.id, world.member_b.id, world.admin_b.id]})
    assert response.status_code == 303
    assert assignees(target.id) == {world.member_with.id}
    response = client.post(f"/admin/users/{world.member_without.id}/shops",
                           data={"shown": [world.canary.id, world.other_a.id],
                                 "selected": [world.canary.id, world.other_a.id]})
    assert response.status_code == 303
    assert assignees(world.canary.id) == canary_assignees
    response = client.post("/shops/bulk-assign", data={"user_id": world.member_without.id,
                                                       "shop_ids": [world.canary.id]}, headers=HX)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/shops"
    assert assignees(world.canary.id) == canary_assignees
    # Nothing outside these no-op saves changed.
    assert snapshot() == before


# --- canaries: company B's names never reach company A --------------------------------------------------

def _queries(w, rule):
    """Searches for the canary: every one on pages without ids (the lists and searches), a short one
    on the pages of one object (they ignore it, but must not start to use it)."""
    yield {}
    yield {"q": "CANARY"}
    if not rule.arguments:
        yield {"q": w.canary_name}
        yield {"q": w.canary_seller.lower(), "region": "NA", "sort": "-created", "status": "valid"}


def test_canaries_of_company_b_never_reach_company_a(app, world, login):
    """Every GET route of the whole app, for every company-A role, with company-A ids and with
    company-B ids, with and without a search for the canary, plain and htmx."""
    canaries = [world.canary_name, world.canary_seller, world.canary_user, world.canary_name.lower(),
                world.canary_seller.lower(), world.member_b.email, *world.canary_other]
    # What only a rendered canary row or link would put in a page (the search box echoes the query;
    # the Activity page may show the ids A itself tried, so ids alone are not markers).
    markers = [f'id="shop-{world.canary.id}"', f'href="/shops/{world.canary.id}"',
               f'name="shop_ids" value="{world.canary.id}"', f'href="/other-stores/{world.ids_b["store_id"]}"']
    # The canary is findable: admin B's search shows it, so its absence below means something.
    client_b = signed_in(app, login, world.admin_b)
    found = client_b.get("/shops", query_string={"q": "CANARY"}, headers=HX).get_data(as_text=True)
    assert world.canary_name in found and world.canary_seller in found
    found = client_b.get("/shops", query_string={"q": world.canary_seller.lower()}).get_data(as_text=True)
    assert world.canary_name in found

    target = world.target()
    id_sets = ({"shop_id": target.id, "user_id": world.member_with.id, **world.ids_a},
               {"shop_id": world.canary.id, "user_id": world.member_b.id, **world.ids_b})
    requests = 0
    for role in ("admin_a", "member_with", "member_without", "member_empty"):
        client = signed_in(app, login, getattr(world, role))
        for rule in app.url_map.iter_rules():
            if rule.endpoint == "static" or "GET" not in rule.methods:
                continue
            for ids in id_sets if rule.arguments else id_sets[:1]:
                url = build(app, rule.endpoint, **ids)
                for query in _queries(world, rule):
                    for headers in ({}, HX):
                        response = client.get(url, query_string=query, headers=headers)
                        text = response.get_data(as_text=True) + repr(sorted(response.headers.items()))
                        echoed = query.get("q", "").casefold()
                        leaked = [c for c in canaries if c in text and c.casefold() != echoed]
                        leaked += [m for m in markers if m in text]
                        assert not leaked, (role, rule.endpoint, url, query, headers, leaked)
                        requests += 1
        # Sanity: the same search machinery finds company A's own shop for those who may see it.
        mine = client.get("/my-shops" if role != "admin_a" else "/shops", query_string={"q": "target shop"})
        assert (target.name in mine.get_data(as_text=True)) is (role in ("admin_a", "member_with"))
    assert requests > 300


@pytest.mark.parametrize("role", ["admin_a", "member_with"])
def test_every_get_route_answers_plain_and_htmx_without_a_500(app, world, login, role):
    """The canary walk above, without the canaries: every page and fragment renders for htmx too."""
    client = signed_in(app, login, getattr(world, role))
    target = world.target()
    failures = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in rule.methods:
            continue
        url = build(app, rule.endpoint, shop_id=target.id, user_id=world.member_with.id, **world.ids_a)
        for headers in ({}, HX):
            status = client.get(url, headers=headers).status_code
            if status >= 500:
                failures.append((rule.endpoint, url, headers, status))
    assert failures == []


def test_member_without_shops_sees_an_empty_my_shops(app, world, login):
    client = signed_in(app, login, world.member_empty)
    target = world.target()
    names = [target.name, target.seller_id, world.other_a.name, world.other_a.seller_id, world.canary_name,
             world.canary_seller]
    for query in ({}, {"q": "shop"}, {"q": target.seller_id}, {"sort": "-created", "region": "NA"}):
        for headers in ({}, HX):
            response = client.get("/my-shops", query_string=query, headers=headers)
            body = response.get_data(as_text=True)
            assert response.status_code == 200
            if query and "q" in query or "region" in query:
                assert "No shop matches these filters." in body
            else:
                assert "No shops assigned to you" in body
            assert "<tr id=\"shop-" not in body and f'/shops/{target.id}"' not in body
            echoed = query.get("q")  # the search box shows what was typed
            assert not [n for n in names if n in body and n != echoed], query
    assert client.get("/shops").status_code == 403
    assert client.get(f"/shops/{target.id}").status_code == 404


# --- assignments take effect at once --------------------------------------------------------------------

def test_unassigning_takes_effect_on_the_next_request(app, world, login, make_shop):
    shop = make_shop(world.admin_a, name="Moves between staff")
    member = world.member_without
    admin = signed_in(app, login, world.admin_a)
    staff = signed_in(app, login, member)
    assert staff.get(f"/shops/{shop.id}").status_code == 404

    response = admin.post(f"/shops/{shop.id}/assign", data={"shown": [member.id], "selected": [member.id]}, headers=HX)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == f"/shops/{shop.id}"
    assert staff.get(f"/shops/{shop.id}").status_code == 200
    assert shop.name in staff.get("/my-shops", headers=HX).get_data(as_text=True)
    assert staff.get(f"/shops/{shop.id}/edit", headers=HX).status_code == 200

    response = admin.post(f"/shops/{shop.id}/assign", data={"shown": [member.id], "selected": []}, headers=HX)
    assert response.status_code == 200
    # The very next requests of the same (still signed-in) session are refused.
    for headers in ({}, HX):
        assert staff.get(f"/shops/{shop.id}", headers=headers).status_code == 404
        assert staff.get(f"/shops/{shop.id}/edit", headers=headers).status_code == 404
        assert staff.get(f"/shops/{shop.id}/reauthorize", headers=headers).status_code == 404
        assert shop.name not in staff.get("/my-shops", headers=headers).get_data(as_text=True)
    before = snapshot()
    response = staff.post(f"/shops/{shop.id}/edit", data={"name": "Still mine?", "mode": "single", "marketplace": US},
                          headers=HX)
    assert response.status_code == 404
    response = staff.post(f"/shops/{shop.id}/reauthorize",
                          data={"token": "Atzr|after-unassign-0123456789-abcd", "authorized": "y"})
    assert response.status_code == 404
    assert snapshot() == before
    assert staff.get("/my-shops").status_code == 200  # still signed in: only the shop went away

    # The same through the user's page of shops.
    response = admin.post(f"/admin/users/{member.id}/shops", data={"shown": [shop.id], "selected": [shop.id]})
    assert response.status_code == 303
    assert staff.get(f"/shops/{shop.id}").status_code == 200
    response = admin.post(f"/admin/users/{member.id}/shops", data={"shown": [shop.id], "selected": []})
    assert response.status_code == 303
    assert staff.get(f"/shops/{shop.id}", headers=HX).status_code == 404
    # The member keeps the shop that was not on the form.
    assert staff.get(f"/shops/{world.other_a.id}").status_code == 200


# --- forms bind an explicit field list -------------------------------------------------------------------

def _b_rows(w):
    db.session.commit()
    shops = db.session.execute(select(Shop.id, Shop.name, Shop.authorization_id).where(
        Shop.company_id == w.company_b_id)).all()
    authorizations = db.session.execute(select(SellerAuthorization.id, SellerAuthorization.seller_id,
                                               SellerAuthorization.token_ciphertext).where(
        SellerAuthorization.company_id == w.company_b_id)).all()
    users = db.session.execute(select(User.id, User.role, User.company_id).where(
        User.company_id == w.company_b_id)).all()
    return shops, authorizations, users


@pytest.mark.parametrize("role", ["admin_a", "member_with"])
def test_new_shop_ignores_extra_fields(app, world, login, role):
    user = getattr(world, role)
    client = signed_in(app, login, user)
    b_before = _b_rows(world)
    new_seller = seller("AX")
    extra = {"company_id": world.company_b_id, "created_by_id": world.admin_b.id, "role": "admin",
             "is_admin": "1", "status": "verified", "authorization_id": world.canary.authorization_id,
             "id": world.canary.id, "name_key": world.canary_name.casefold(), "user_id": world.member_b.id,
             "assignments": world.member_b.id, "selected": world.member_b.id, "token_last4": "0000"}
    data = {"name": "Extra fields shop", "region": "NA", "mode": "single", "marketplace": US,
            "seller_id": new_seller, "token": "Atzr|extra-fields-token-0123456789", "authorized": "y", **extra}
    response = client.post("/shops/new", data=data, headers=HX)
    assert response.status_code == 200 and "HX-Redirect" in response.headers, response.get_data(as_text=True)[:500]
    shop = db.session.scalar(select(Shop).where(Shop.name == "Extra fields shop"))
    assert shop.company_id == world.company_a_id and shop.id != world.canary.id
    assert shop.created_by_id == user.id
    assert shop.authorization.company_id == world.company_a_id and shop.seller_id == new_seller
    assert shop.authorization_id != world.canary.authorization_id
    assert shop.authorization.token_last4 == "6789"
    assert assignees(shop.id) == (set() if user.is_admin else {user.id})
    db.session.refresh(user)
    assert user.role == ("admin" if role == "admin_a" else "member") and user.company_id == world.company_a_id
    assert _b_rows(world) == b_before


def test_edit_ignores_extra_fields(app, world, login):
    client = signed_in(app, login, world.member_with)
    target = world.target()
    authorization_id, seller_id = target.authorization_id, target.seller_id
    b_before = _b_rows(world)
    response = client.post(f"/shops/{target.id}/edit", data={
        "name": "Edited with extras", "mode": "single", "marketplace": CA, "edit": "1",
        "region": "EU", "seller_id": "AFOREIGNSELLER", "company_id": world.company_b_id,
        "authorization_id": world.canary.authorization_id, "created_by_id": world.admin_b.id, "role": "admin"})
    assert response.status_code == 303
    shop = db.session.get(Shop, target.id)
    db.session.refresh(shop)
    assert shop.name == "Edited with extras" and shop.marketplace_ids == [CA]
    assert shop.company_id == world.company_a_id and shop.authorization_id == authorization_id
    assert shop.seller_id == seller_id and shop.region == "NA" and shop.created_by_id == world.admin_a.id
    assert db.session.get(User, world.member_with.id).role == "member"
    assert _b_rows(world) == b_before


# --- smaller findings around the same routes --------------------------------------------------------------

def test_bind_refusal_does_not_name_a_shop_the_member_cannot_see(app, world, login):
    """A member binding a seller/country already bound in a shop not assigned to them is refused,
    but the message must not reveal that shop's name (SECURITY.md: nothing the user may not see)."""
    hidden = world.target("hidden from member without")
    client = signed_in(app, login, world.member_without)
    before = snapshot()
    response = client.post("/shops/new", data={
        "name": "Probe", "region": "NA", "mode": "single", "marketplace": US, "seller_id": hidden.seller_id,
        "token": "Atzr|probe-token-0123456789-abcdef", "authorized": "y"}, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Redirect" not in response.headers
    assert "already" in body
    assert snapshot() == before
    assert hidden.name not in body


def test_user_shops_save_with_user_id_in_the_query_string(app, world, login):
    """The save redirect copies the query string into url_for(): a `user_id` there must neither
    crash the request (after the commit) nor send the admin to another user's page."""
    client = signed_in(app, login, world.admin_a)
    target = world.target()
    response = client.post(f"/admin/users/{world.member_with.id}/shops?q=target&user_id={world.member_without.id}",
                           data={"shown": [target.id], "selected": []})
    assert response.status_code == 303, response.status_code
    parts = urlsplit(response.headers["Location"])
    assert parts.path == f"/admin/users/{world.member_with.id}/shops"
    assert parse_qs(parts.query).get("q") == ["target"]


@pytest.mark.parametrize("query", ["_method=DELETE", "_external=1&_scheme=javascript", "_anchor=x"])
def test_new_shop_form_with_url_for_keywords_in_the_query_string(app, world, login, query):
    """The form's action is url_for('shops.new_shop', **request.args): url_for's own keywords in the
    query string must not turn the page into a 500 or into an action pointing elsewhere."""
    client = signed_in(app, login, world.member_with)
    for headers in ({}, HX):
        response = client.get(f"/shops/new?{query}", headers=headers)
        assert response.status_code == 200, (query, response.status_code)
        action = re.search(r'<form method="post" action="([^"]*)"[^>]*class="shop-form"',
                           response.get_data(as_text=True))
        parts = urlsplit(html.unescape(action.group(1)))
        assert parts.path == "/shops/new" and parts.scheme in ("", "http") and parts.netloc in ("", "localhost")


def test_counts_never_include_what_the_user_may_not_see(app, world, login, make_shop):
    """Banner counts, list totals and the per-user assignment count: company A's scope only, and for a
    member only their own shops. Company B's and A's other shops are expired or failed on purpose."""
    from datetime import timedelta

    from portal.models import utcnow

    long_ago = utcnow() - timedelta(days=400)
    for shop in (world.canary, world.other_a):
        authorization = db.session.get(SellerAuthorization, shop.authorization_id)
        authorization.authorized_at = long_ago
        db.session.get(Shop, shop.id).check_status = "failed"
    db.session.commit()
    target = world.target()

    admin = signed_in(app, login, world.admin_a)
    body = admin.get("/shops", headers=HX).get_data(as_text=True)
    assert body.count('<tr id="shop-') == 2 and world.canary_name not in body  # other_a and the target
    page = admin.get("/shops").get_data(as_text=True)
    assert "1 shop's authorization expired" in page and "1 failed its check" in page
    users_page = admin.get(f"/admin/users/{world.member_without.id}/shops", headers=HX).get_data(as_text=True)
    assert "1 shop assigned in all." in users_page and users_page.count('name="shown"') == 2

    member = signed_in(app, login, world.member_with)
    mine = member.get("/my-shops").get_data(as_text=True)
    assert target.name in mine and mine.count('<tr id="shop-') == 1
    assert "Needs attention:" not in mine and "failed its check" not in mine  # other_a is not theirs
    expired = member.get("/my-shops", query_string={"status": "expired"}, headers=HX).get_data(as_text=True)
    assert "No shop matches these filters." in expired and world.other_a.name not in expired

    admin_b = signed_in(app, login, world.admin_b)
    page_b = admin_b.get("/shops").get_data(as_text=True)
    assert "1 shop's authorization expired" in page_b and page_b.count('<tr id="shop-') == 1
