"""Shared pieces of the attack suite: who may use each route, a realistic request for each route,
what success of it means, and the database/audit snapshots that prove a refusal changed nothing."""
from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

from flask import url_for
from sqlalchemy import func, select

from portal.extensions import db
from tests.conftest import CSRF_RE, PASSWORD

HX = {"HX-Request": "true"}
US, CA, DE, FR = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9", "A13V1IB3VIYZZH"
ROLES = ("anonymous", "member_with", "member_without", "admin_a", "admin_b")

# Who may use a route. "object" routes need the object (shop, other store, user) visible to the user.
ANYONE, SIGNED_IN, ADMIN, OBJECT, ADMIN_OBJECT, SETUP = (
    "anyone", "signed-in", "admin", "object", "admin+object", "set-up only")
LOGIN, OK = "login", "ok"

# endpoint -> who may use it. Every endpoint of the URL map but "static" must be here
# (tests/security/test_access_matrix.py::test_every_route_has_an_expectation).
ACCESS = {
    "auth.setup": SETUP,  # 404 for everyone once the first admin exists
    "auth.login": ANYONE,
    "auth.logout": SIGNED_IN,
    "auth.change_password_view": SIGNED_IN,
    "main.index": SIGNED_IN,
    "main.set_language": ANYONE,
    "main.health": ANYONE,
    "admin.users": ADMIN,
    "admin.new_user": ADMIN,
    "admin.change_role": ADMIN_OBJECT,
    "admin.change_active": ADMIN_OBJECT,
    "admin.reset_user_password": ADMIN_OBJECT,
    "admin.activity": ADMIN,
    "admin.activity_csv": ADMIN,
    "shops.shop_list": ADMIN,
    "shops.my_shops": SIGNED_IN,
    "shops.new_shop": SIGNED_IN,
    "shops.form_fields": SIGNED_IN,
    "shops.detail": OBJECT,
    "shops.edit": OBJECT,
    "shops.reauthorize": OBJECT,
    "shops.verify": OBJECT,
    "shops.delete": ADMIN_OBJECT,
    "shops.assign": ADMIN_OBJECT,
    "shops.bulk_assign_view": ADMIN_OBJECT,  # the object is the company-A user named in the form
    "shops.user_shops": ADMIN_OBJECT,
    "other_stores.index": SIGNED_IN,
    "other_stores.new": SIGNED_IN,
    "other_stores.detail": OBJECT,
    "other_stores.edit": OBJECT,
    "other_stores.delete": ADMIN_OBJECT,
    "other_stores.assign": ADMIN_OBJECT,
    "other_stores.new_order": OBJECT,
    "other_stores.edit_order": OBJECT,
    "other_stores.delete_order": OBJECT,
    "other_stores.export_orders": OBJECT,
    "orders.index": SIGNED_IN,
    "orders.export": SIGNED_IN,
    "jobs.index": ADMIN,
    "jobs.sync_shop": OBJECT,
    "jobs.sync_status": OBJECT,
    "inbox.index": SIGNED_IN,
    "inbox.mark_seen_view": OBJECT,  # the object is an alert event of the target shop
    "inbox.mark_all_seen_view": SIGNED_IN,
    "jobs.retry_alert": ADMIN_OBJECT,  # a failed alert message of the admin's company
    "admin.user_mentions": ADMIN_OBJECT,
    "notifications.index": ADMIN,
    "notifications.new": ADMIN,
    "notifications.form_fields": ADMIN,
    "notifications.language": ADMIN,
    "notifications.edit": ADMIN_OBJECT,
    "notifications.delete": ADMIN_OBJECT,
    "notifications.toggle": ADMIN_OBJECT,
    "notifications.send_test": ADMIN_OBJECT,
}

# What each route needs created before it is asked (fresh for every request judged).
NEEDS = {
    "shop": {"shops.detail", "shops.edit", "shops.reauthorize", "shops.verify", "shops.delete", "shops.assign",
             "shops.bulk_assign_view", "shops.user_shops", "jobs.sync_shop", "jobs.sync_status",
             "inbox.mark_seen_view"},
    "alert": {"inbox.mark_seen_view"},
    "store": {"other_stores.detail", "other_stores.edit", "other_stores.delete", "other_stores.assign",
              "other_stores.new_order", "other_stores.edit_order", "other_stores.delete_order",
              "other_stores.export_orders"},
    "user": {"admin.change_role", "admin.change_active", "admin.reset_user_password", "shops.bulk_assign_view",
             "shops.user_shops", "admin.user_mentions"},
    "alert_message": {"jobs.retry_alert"},
    "channel": {"notifications.edit", "notifications.delete", "notifications.toggle", "notifications.send_test"},
}
# The audited object of a 404, per route: (object_type, attribute of the target holding its id).
DENIED_OBJECT = {
    **{e: ("shop", "shop_id") for e in NEEDS["shop"] - NEEDS["user"] - NEEDS["alert"]},
    **{e: ("alert_event", "event_id") for e in NEEDS["alert"]},
    **{e: ("other_store", "store_id") for e in NEEDS["store"]},
    **{e: ("user_account", "user_id") for e in NEEDS["user"]},
    **{e: ("alert_message", "message_id") for e in NEEDS["alert_message"]},
    **{e: ("alert_channel", "channel_id") for e in NEEDS["channel"]},
}


def amazon_settings(server) -> dict:
    """Config overrides that point the portal's SP-API client at a StandinAmazon on loopback."""
    return dict(AMAZON_LWA_CLIENT_ID=server.client_id, AMAZON_LWA_CLIENT_SECRET=server.client_secret,
                AMAZON_LWA_TOKEN_URL=server.token_url, AMAZON_SPAPI_ENDPOINT_NA=server.endpoint,
                AMAZON_SPAPI_ENDPOINT_EU=server.endpoint, AMAZON_SPAPI_ENDPOINT_FE=server.endpoint,
                AMAZON_MAX_TRIES=2, AMAZON_CONNECT_TIMEOUT=1.0, AMAZON_READ_TIMEOUT=2.0,
                AMAZON_BACKOFF_BASE=0.01, AMAZON_MAX_TOTAL_WAIT=0.5, AMAZON_MAX_TOTAL_TIME=4)


def expected(endpoint: str, role: str):
    kind = ACCESS[endpoint]
    if kind == SETUP:
        return 404
    if kind == ANYONE:
        return OK
    if role == "anonymous":
        return LOGIN
    if kind == SIGNED_IN:
        return OK
    member = role.startswith("member")
    if kind == ADMIN:
        return 403 if member else OK
    if kind == OBJECT:
        return 404 if role in ("member_without", "admin_b") else OK
    if kind == ADMIN_OBJECT:
        return 403 if member else 404 if role == "admin_b" else OK
    raise AssertionError(kind)


def route_methods(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            routes.setdefault(rule.endpoint, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    return routes


def rule_of(app, endpoint: str):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint == endpoint]
    assert len(rules) == 1, f"tests/security/helpers.py assumes one rule per endpoint: {endpoint}"
    return rules[0]


def build_url(app, endpoint: str, t) -> str:
    """The URL of `endpoint` with the target's ids in every variable its rule declares."""
    values = {"shop_id": getattr(t, "shop_id", None), "store_id": getattr(t, "store_id", None),
              "order_id": getattr(t, "order_id", None), "user_id": getattr(t, "user_id", None),
              "event_id": getattr(t, "event_id", None),
              "message_id": getattr(t, "message_id", None),
              "channel_id": getattr(t, "channel_id", None), "action": "deactivate"}
    rule = rule_of(app, endpoint)
    missing = [arg for arg in rule.arguments if values.get(arg) is None]
    assert not missing, f"tests/security/helpers.py: give a sample value for {missing} of {rule.rule}"
    with app.test_request_context():
        return url_for(endpoint, **{arg: values[arg] for arg in rule.arguments})


# --- database state ---------------------------------------------------------------------------------

def snapshot(include_audit: bool = False) -> dict:
    """Every row of every table (the audit trail only when asked: refusals are meant to write to it)."""
    db.session.commit()
    return {table.name: sorted(repr(tuple(row)) for row in db.session.execute(table.select()).all())
            for table in db.metadata.sorted_tables if include_audit or table.name != "audit_event"}


def last_audit_id() -> int:
    from portal.models import AuditEvent

    db.session.commit()
    return db.session.scalar(select(func.max(AuditEvent.id))) or 0


def audit_since(last_id: int) -> list:
    from portal.models import AuditEvent

    db.session.commit()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id)))


def post(client, url, data=None, token=None, headers=None):
    """POST with an explicit CSRF token (the client's own unless `token` is given; None sends none)."""
    data = dict(data or {})
    if token is not None:
        data["csrf_token"] = token
    return client.post(url, data=data, headers=headers or {}, csrf=False)


def seller_id(prefix="A") -> str:
    return (prefix + uuid.uuid4().hex.upper())[:14]


# --- the cast ---------------------------------------------------------------------------------------

class World:
    """Company A: admin, member with the targets, member without them. Company B: admin, member.
    Users are kept as ids (requests run in their own sessions); `user(role)` loads one."""

    def __init__(self, app):
        self.app = app
        self.ids: dict[str, int] = {}
        self.emails: dict[str, str] = {}
        self._clients: dict = {}

    @classmethod
    def build(cls, app):
        from portal.passwords import hash_password
        from portal.models import Company, User

        w = cls(app)
        w.password_hash = hash_password(PASSWORD)
        a, b = Company(name="Company A"), Company(name="Company B")
        cast = {"admin_a": (a, "admin", "Admin A"), "member_with": (a, "member", "Member With"),
                "member_without": (a, "member", "Member Without"), "admin_b": (b, "admin", "Admin B"),
                "member_b": (b, "member", "Member B")}
        users = {}
        for role, (company, kind, name) in cast.items():
            users[role] = User(company=company, role=kind, display_name=name, email=f"{role.replace('_', '-')}@example.com",
                               password_hash=w.password_hash)
        db.session.add_all(users.values())
        db.session.commit()
        w.ids = {role: user.id for role, user in users.items()}
        w.emails = {role: user.email for role, user in users.items()}
        w.company_a, w.company_b = a.id, b.id
        return w

    def user(self, role):
        from portal.models import User

        return None if role == "anonymous" else db.session.get(User, self.ids[role])

    def company_of(self, role):
        return None if role == "anonymous" else (self.company_b if role.endswith("_b") else self.company_a)

    def new_client(self, role):
        client = self.app.test_client()
        if role != "anonymous":
            response = post(client, "/login", {"email": self.emails[role], "password": PASSWORD},
                            token=client.csrf_token())
            assert response.status_code == 303, response.get_data(as_text=True)[:300]
        return client

    def client(self, role):
        """A signed-in client (cached), and a CSRF token of its session."""
        if role == "anonymous":
            client = self.new_client(role)
            return client, client.csrf_token()
        if role not in self._clients:
            client = self.new_client(role)
            self._clients[role] = (client, client.csrf_token())
        return self._clients[role]

    def forget_client(self, role):
        self._clients.pop(role, None)

    def reset_password(self, role):
        """Undo a password change made by a test (the cast always signs in with PASSWORD)."""
        user = self.user(role)
        user.password_hash = self.password_hash
        user.must_change_password = False
        db.session.commit()

    def target(self, needs: set[str]):
        """Fresh company-A objects: a shop and an other store (with an order) assigned to member_with, a member."""
        from portal.models import OtherStoreAssignment, ShopAssignment, User
        from portal.other_stores.services import save_order, save_store
        from portal.shops.services import create_shop

        tag = uuid.uuid4().hex[:10]
        t = SimpleNamespace(tag=tag)
        admin = self.user("admin_a")
        if "shop" in needs:
            shop = create_shop(admin, name=f"Target shop {tag}", region="NA", mode="single", marketplace_ids=[US],
                               seller_id=seller_id("AT"), token=f"Atzr|standin-valid-{tag}-0123456789").shop
            shop.assignments.append(ShopAssignment(user_id=self.ids["member_with"]))
            db.session.flush()
            t.shop_id, t.shop_name, t.seller_id = shop.id, shop.name, shop.seller_id
            t.authorization_id, t.last4 = shop.authorization_id, shop.authorization.token_last4
        if "alert" in needs:
            from portal.models import AlertEvent

            alert = AlertEvent(company_id=self.company_a, shop_id=t.shop_id, kind="check_failed", episode=tag)
            db.session.add(alert)
            db.session.flush()
            t.event_id = alert.id
        if "store" in needs:
            store = save_store(admin, None, platform="ebay", platform_other=None, name=f"Target store {tag}",
                               countries=["DE"], url=None, login_name=None, notes=None)
            store.assignments.append(OtherStoreAssignment(user_id=self.ids["member_with"]))
            order = save_order(admin, store, None, order_number=f"T-{tag}", order_date=date(2026, 1, 2),
                               status="paid", currency="EUR", total=Decimal("12.34"), buyer_name="Buyer", notes=None)
            t.store_id, t.store_name, t.order_id, t.order_number = store.id, store.name, order.id, order.order_number
        if "user" in needs:
            user = User(company_id=self.company_a, role="member", display_name=f"Target user {tag}",
                        email=f"target-{tag}@example.com", password_hash=self.password_hash)
            db.session.add(user)
            db.session.flush()
            t.user_id, t.user_name = user.id, user.display_name
        if "alert_message" in needs:
            from portal.models import AlertChannel, AlertMessage

            channel = AlertChannel(company_id=self.company_a, name=f"Channel {tag}", name_key=f"channel {tag}",
                                   kind="email", events="auth_expiring", email_to="ops@example.com")
            db.session.add(channel)
            db.session.flush()
            message = AlertMessage(company_id=self.company_a, channel_id=channel.id, kind="auth_expiring",
                                   status="failed", attempts=6, last_summary=f"500 (http_error, retryable) {tag}")
            db.session.add(message)
            db.session.flush()
            t.message_id = message.id
        if "channel" in needs:  # e-mail: Send test answers "not configured" without any network
            from portal.models import AlertChannel

            channel = AlertChannel(company_id=self.company_a, name=f"Target channel {tag}",
                                   name_key=f"target channel {tag}", kind="email", email_to="ops@example.com",
                                   events="auth_expired")
            db.session.add(channel)
            db.session.flush()
            t.channel_id, t.channel_name = channel.id, channel.name
        db.session.commit()
        return t


def needs_of(endpoint: str) -> set[str]:
    return {kind for kind, endpoints in NEEDS.items() if endpoint in endpoints}


# --- what each route is asked, and what its success means -------------------------------------------

def request_data(c) -> dict | None:
    """Realistic valid form data for POST `c.endpoint`, so that success and refusal differ."""
    w, t, tag = c.w, c.t, c.t.tag
    return {
        "auth.setup": lambda: {"company_name": "Intruder Inc", "display_name": "Intruder",
                               "email": f"setup-{tag}@example.com", "password": "a long new passphrase 7",
                               "confirm": "a long new passphrase 7"},
        "auth.login": lambda: {"email": w.emails["member_with"], "password": PASSWORD},
        "auth.logout": lambda: {},
        "auth.change_password_view": lambda: {"current_password": PASSWORD, "new_password": f"fresh phrase {tag}",
                                              "confirm": f"fresh phrase {tag}"},
        "main.set_language": lambda: {"lang": "zh", "next": "/my-shops"},
        "admin.new_user": lambda: {"display_name": f"New user {tag}", "email": f"new-{tag}@example.com",
                                   "role": "member", "password": f"temporary phrase {tag}"},
        "admin.change_role": lambda: {"role": "admin"},
        "admin.change_active": lambda: {},
        "admin.reset_user_password": lambda: {"password": f"temporary reset {tag}"},
        "shops.new_shop": lambda: {"name": f"Bound shop {tag}", "region": "EU", "mode": "multi",
                                   "marketplaces": [DE, FR], "seller_id": f"  {c.new_seller.lower()} ",
                                   "token": f"Atzr|fresh-refresh-token-{tag}-0123456789", "authorized": "y"},
        "shops.edit": lambda: {"name": f"Renamed shop {tag}", "mode": "single", "marketplace": CA},
        "shops.reauthorize": lambda: {"token": f"Atzr|standin-valid-reauthorized-{tag}-wxyz", "authorized": "y"},
        "shops.verify": lambda: {"view": "detail"},
        "jobs.sync_shop": lambda: {},
        "jobs.retry_alert": lambda: {},
        "shops.delete": lambda: {},
        "shops.assign": lambda: {"shown": [w.ids["member_with"], w.ids["member_without"]],
                                 "selected": [w.ids["member_without"]]},
        "shops.bulk_assign_view": lambda: {"user_id": t.user_id, "shop_ids": [t.shop_id]},
        "shops.user_shops": lambda: {"shown": [t.shop_id], "selected": [t.shop_id]},
        "other_stores.new": lambda: {"platform": "ebay", "name": f"New store {tag}", "countries": ["DE", "FR"],
                                     "url": "https://www.ebay.de/str/new", "login_name": "new-login", "notes": "n"},
        "other_stores.edit": lambda: {"platform": "etsy", "name": f"Edited store {tag}", "countries": ["FR"],
                                      "url": "", "login_name": "", "notes": ""},
        "other_stores.delete": lambda: {},
        "other_stores.assign": lambda: {"shown": [w.ids["member_with"], w.ids["member_without"]],
                                        "selected": [w.ids["member_without"]]},
        "other_stores.new_order": lambda: {"order_number": f"N-{tag}", "order_date": "2026-03-04", "status": "paid",
                                           "currency": "USD", "total": "19.99", "buyer_name": "B", "notes": ""},
        "other_stores.edit_order": lambda: {"order_number": t.order_number, "order_date": "2026-01-02",
                                            "status": "shipped", "currency": "EUR", "total": "12.34",
                                            "buyer_name": "Buyer", "notes": "edited"},
        "other_stores.delete_order": lambda: {},
        "inbox.mark_seen_view": lambda: {"show": "unseen"},
        "inbox.mark_all_seen_view": lambda: {"show": "unseen"},
        "admin.user_mentions": lambda: {"alert_mobile": "+86 138-0000-1111", "alert_user_id": f"u{tag}"},
        "notifications.new": lambda: {"kind": "email", "name": f"New channel {tag}", "email_to": f"ops-{tag}@example.com",
                                      "events": ["auth_expired"], "enabled": "y"},
        "notifications.edit": lambda: {"name": f"Edited channel {tag}", "email_to": "boss@example.com",
                                       "events": ["auth_expiring"], "digest": "y", "enabled": "y"},
        "notifications.delete": lambda: {},
        "notifications.toggle": lambda: {},
        "notifications.send_test": lambda: {},
        "notifications.language": lambda: {"language": "en"},
    }[c.endpoint]()


def query_for(endpoint: str) -> str:
    return {"shops.form_fields": "?region=EU&mode=multi", "notifications.form_fields": "?kind=email"}.get(endpoint, "")


def make_case(app, w, endpoint, method, role, htmx):
    c = SimpleNamespace(app=app, w=w, endpoint=endpoint, method=method, role=role, htmx=htmx,
                        user_id=w.ids.get(role), company_id=w.company_of(role), new_seller=seller_id("AN"))
    c.t = w.target(needs_of(endpoint))
    c.url = build_url(app, endpoint, c.t) + (query_for(endpoint) if method == "GET" else "")
    c.data = request_data(c) if method == "POST" else None
    return c


def send(c, client, token, extra_headers=None):
    headers = dict(HX if c.htmx else {}, **(extra_headers or {}))
    if c.method == "GET":
        return client.get(c.url, headers=headers)
    return post(client, c.url, c.data, token=token, headers=headers)


def redirect_path(c, response) -> str:
    """Where the answer sends the browser: HX-Redirect for htmx navigations, else Location."""
    if c.htmx and "HX-Redirect" in response.headers:
        assert response.status_code == 200, response.status_code
        return urlsplit(response.headers["HX-Redirect"]).path
    assert response.status_code in (302, 303), (c.endpoint, response.status_code, response.get_data(as_text=True)[:300])
    return urlsplit(response.headers["Location"]).path


def _model(name):
    from portal import models

    return getattr(models, name)


def _get(name, ident):
    db.session.expire_all()
    return db.session.get(_model(name), ident)


def _assignees(kind, object_id):
    model = _model("ShopAssignment" if kind == "shop" else "OtherStoreAssignment")
    column = model.shop_id if kind == "shop" else model.store_id
    db.session.commit()
    return set(db.session.scalars(select(model.user_id).where(column == object_id)))


GET_CONTENT = {  # text that a successful GET must show (the target is really there)
    "shops.detail": lambda t: [t.shop_name, t.seller_id],
    "shops.edit": lambda t: [f'value="{t.shop_name}"'],
    "shops.reauthorize": lambda t: [t.shop_name, 'name="token"'],
    "shops.assign": lambda t: [t.shop_name, "Member With"],
    "admin.reset_user_password": lambda t: [t.user_name],
    "other_stores.detail": lambda t: [t.order_number],
    "other_stores.edit": lambda t: [f'value="{t.store_name}"'],
    "other_stores.edit_order": lambda t: [f'value="{t.order_number}"'],
    "other_stores.assign": lambda t: [t.store_name, "Member With"],
    "other_stores.export_orders": lambda t: [t.order_number],
    "admin.user_mentions": lambda t: [t.user_name],
    "notifications.edit": lambda t: [f'value="{t.channel_name}"'],
}


def check_get_success(c, response, before):
    body = response.get_data(as_text=True)
    if c.endpoint == "main.index":
        assert redirect_path(c, response) == ("/shops" if c.role.startswith("admin") else "/my-shops")
    elif c.endpoint == "auth.login" and c.role != "anonymous":
        assert redirect_path(c, response) == "/"
    else:
        assert response.status_code == 200, (c.endpoint, c.role, response.status_code, body[:300])
    if c.endpoint in ("other_stores.export_orders", "admin.activity_csv"):
        assert response.mimetype == "text/csv"
    for text in GET_CONTENT.get(c.endpoint, lambda t: [])(c.t):
        assert text in body, (c.endpoint, c.role, text)
    assert snapshot(include_audit=True) == before, f"GET {c.endpoint} changed the database"


def check_post_success(c, response):
    """Assert the effect a successful POST must have had."""
    t, w, e = c.t, c.w, c.endpoint
    if e == "auth.login":
        if c.role == "anonymous":
            assert redirect_path(c, response) == "/"
            events = audit_since(c.audit_before)
            assert [(ev.action, ev.outcome, ev.user_id) for ev in events] == [
                ("auth.login", "success", w.ids["member_with"])]
        else:  # already signed in: sent home, nothing changes
            assert redirect_path(c, response) == "/"
            assert snapshot() == c.before
    elif e == "auth.logout":
        assert redirect_path(c, response) == "/login"
        assert w.user(c.role).session_version != c.session_version_before
    elif e == "auth.change_password_view":
        from portal.passwords import check_password

        assert redirect_path(c, response) == "/"
        assert check_password(_get("User", c.user_id).password_hash, c.data["new_password"])
    elif e == "main.set_language":
        assert redirect_path(c, response) == "/my-shops"
        assert "lang=zh" in response.headers.get("Set-Cookie", "")
    elif e == "admin.new_user":
        assert redirect_path(c, response) == "/admin/users"
        user = db.session.scalar(select(_model("User")).where(_model("User").email == c.data["email"]))
        assert user is not None and user.company_id == c.company_id and user.must_change_password
    elif e == "admin.change_role":
        assert response.status_code < 400
        assert _get("User", t.user_id).role == "admin"
    elif e == "admin.change_active":
        assert response.status_code < 400
        assert _get("User", t.user_id).active is False
    elif e == "admin.reset_user_password":
        from portal.passwords import check_password

        assert redirect_path(c, response) == "/admin/users"
        user = _get("User", t.user_id)
        assert check_password(user.password_hash, c.data["password"]) and user.must_change_password
    elif e == "shops.new_shop":
        assert redirect_path(c, response) == ("/shops" if c.role.startswith("admin") else "/my-shops")
        shop = db.session.scalar(select(_model("Shop")).where(_model("Shop").name == c.data["name"]))
        assert shop is not None and shop.company_id == c.company_id and shop.seller_id == c.new_seller
        assert shop.marketplace_ids == [DE, FR]
    elif e == "shops.edit":
        assert redirect_path(c, response) == f"/shops/{t.shop_id}"
        shop = _get("Shop", t.shop_id)
        assert shop.name == c.data["name"] and shop.marketplace_ids == [CA]
    elif e == "shops.reauthorize":
        assert redirect_path(c, response) == f"/shops/{t.shop_id}"
        authorization = _get("SellerAuthorization", t.authorization_id)
        assert authorization.token_last4 == "wxyz" != t.last4 and authorization.token_updated_by_id == c.user_id
        assert _get("Shop", t.shop_id).check_status == "verified"
    elif e == "shops.verify":
        if c.htmx:
            assert response.status_code == 200 and 'id="status-panel"' in response.get_data(as_text=True)
        else:
            assert redirect_path(c, response) == f"/shops/{t.shop_id}"
        assert _get("Shop", t.shop_id).check_status == "verified"
    elif e == "jobs.sync_shop":
        if c.htmx:
            assert response.status_code == 200 and 'id="sync-status"' in response.get_data(as_text=True)
        else:
            assert redirect_path(c, response) == f"/shops/{t.shop_id}"
        queued = db.session.scalars(select(_model("JobRun")).where(
            _model("JobRun").authorization_id == t.authorization_id)).all()
        assert [run.status for run in queued] == ["queued"] and queued[0].company_id == c.company_id
    elif e == "jobs.retry_alert":
        if c.htmx:
            body = response.get_data(as_text=True)
            assert response.status_code == 200 and f'id="alert-message-{t.message_id}"' in body
        else:
            assert redirect_path(c, response) == "/jobs"
        message = _get("AlertMessage", t.message_id)
        assert (message.status, message.attempts) == ("queued", 0)
    elif e == "shops.delete":
        assert redirect_path(c, response) == "/shops"
        assert _get("Shop", t.shop_id) is None
    elif e == "shops.assign":
        assert redirect_path(c, response) == f"/shops/{t.shop_id}"
        assert _assignees("shop", t.shop_id) == {w.ids["member_without"]}
    elif e == "shops.bulk_assign_view":
        assert redirect_path(c, response) == "/shops"
        assert _assignees("shop", t.shop_id) == {w.ids["member_with"], t.user_id}
    elif e == "shops.user_shops":
        assert redirect_path(c, response) == f"/admin/users/{t.user_id}/shops"
        assert _assignees("shop", t.shop_id) == {w.ids["member_with"], t.user_id}
    elif e == "other_stores.new":
        store = db.session.scalar(select(_model("OtherStore")).where(_model("OtherStore").name == c.data["name"]))
        assert store is not None and store.company_id == c.company_id and store.country_codes == ["DE", "FR"]
        assert redirect_path(c, response) == f"/other-stores/{store.id}"
    elif e == "other_stores.edit":
        assert redirect_path(c, response) == f"/other-stores/{t.store_id}"
        store = _get("OtherStore", t.store_id)
        assert store.name == c.data["name"] and store.platform == "etsy" and store.country_codes == ["FR"]
    elif e == "other_stores.delete":
        assert redirect_path(c, response) == "/other-stores"
        assert _get("OtherStore", t.store_id) is None and _get("Order", t.order_id) is None
    elif e == "other_stores.assign":
        assert redirect_path(c, response) == f"/other-stores/{t.store_id}"
        assert _assignees("store", t.store_id) == {w.ids["member_without"]}
    elif e == "other_stores.new_order":
        assert redirect_path(c, response) == f"/other-stores/{t.store_id}"
        order = db.session.scalar(select(_model("Order")).where(_model("Order").order_number == c.data["order_number"]))
        assert order is not None and order.other_store_id == t.store_id and order.total == Decimal("19.99")
    elif e == "other_stores.edit_order":
        assert redirect_path(c, response) == f"/other-stores/{t.store_id}"
        order = _get("Order", t.order_id)
        assert order.status == "shipped" and order.notes == "edited"
    elif e == "other_stores.delete_order":
        assert redirect_path(c, response) == f"/other-stores/{t.store_id}"
        assert _get("Order", t.order_id) is None
    elif e == "inbox.mark_seen_view":
        if c.htmx:
            assert response.status_code == 200 and 'data-seen="true"' in response.get_data(as_text=True)
        else:
            assert redirect_path(c, response) == "/alerts"
        seen = _model("AlertSeen")
        db.session.commit()
        assert db.session.get(seen, (t.event_id, c.user_id)) is not None
    elif e == "inbox.mark_all_seen_view":
        assert redirect_path(c, response) == "/alerts"
    elif e == "admin.user_mentions":
        assert redirect_path(c, response) == "/admin/users"
        user = _get("User", t.user_id)
        assert (user.alert_mobile, user.alert_user_id) == ("+8613800001111", c.data["alert_user_id"])
    elif e == "notifications.new":
        assert redirect_path(c, response) == "/notifications"
        channel = db.session.scalar(select(_model("AlertChannel")).where(_model("AlertChannel").name == c.data["name"]))
        assert channel is not None and channel.company_id == c.company_id and channel.email_to == c.data["email_to"]
    elif e == "notifications.edit":
        assert redirect_path(c, response) == "/notifications"
        channel = _get("AlertChannel", t.channel_id)
        assert (channel.name, channel.email_to, channel.events, channel.digest) == (
            c.data["name"], "boss@example.com", "auth_expiring", True)
    elif e == "notifications.delete":
        assert redirect_path(c, response) == "/notifications"
        assert _get("AlertChannel", t.channel_id) is None
    elif e == "notifications.toggle":
        assert response.status_code < 400
        assert _get("AlertChannel", t.channel_id).enabled is False
    elif e == "notifications.send_test":
        assert response.status_code < 400
        channel = _get("AlertChannel", t.channel_id)
        assert channel.last_test_at is not None and channel.last_test_ok is False
    elif e == "notifications.language":
        assert redirect_path(c, response) == "/notifications"
        assert db.session.get(_model("Company"), c.company_id).alert_language == "en"
    else:
        raise AssertionError(f"tests/security/helpers.py: say what success of POST {e} means")


def after_success(c):
    """Put the cast back as it was after a request that changed a cast member's session or password."""
    if c.endpoint in ("auth.logout", "auth.change_password_view", "main.set_language") and c.role != "anonymous":
        c.w.forget_client(c.role)
        if c.endpoint == "auth.change_password_view":
            c.w.reset_password(c.role)


def check_refusal(c, response, want):
    body = response.get_data(as_text=True)
    assert snapshot() == c.before, f"a refused {c.method} {c.endpoint} by {c.role} changed the database"
    events = audit_since(c.audit_before)
    if want == LOGIN:
        if c.htmx:
            assert response.status_code == 401, (c.endpoint, c.role, response.status_code)
            target = response.headers["HX-Redirect"]
        else:
            assert response.status_code == 302, (c.endpoint, c.role, response.status_code)
            target = response.headers["Location"]
        parts = urlsplit(target)
        assert parts.path == "/login"
        assert parse_qs(parts.query).get("next") == ([c.url] if c.method == "GET" else None)
        assert events == [], [(e.action, e.outcome) for e in events]
        return
    assert response.status_code == want, (c.endpoint, c.method, c.role, c.htmx, response.status_code, body[:300])
    if c.htmx:
        assert response.headers.get("HX-Retarget") == "#messages" and "<html" not in body
    for name in ("shop_name", "seller_id", "store_name", "order_number", "user_name", "channel_name"):
        if hasattr(c.t, name):
            assert getattr(c.t, name) not in body, f"the refusal shows {name}"
    if c.endpoint == "auth.setup":
        return  # the set-up page is simply gone; nothing was asked for
    action = "access.forbidden" if want == 403 else "access.denied"
    assert [(e.action, e.outcome, e.user_id, e.company_id) for e in events] == [
        (action, "denied", c.user_id, c.company_id)], [(e.action, e.outcome, e.user_id) for e in events]
    if want == 404:
        object_type, attribute = DENIED_OBJECT[c.endpoint]
        assert (events[0].object_type, events[0].object_id) == (object_type, getattr(c.t, attribute))


def without_tokens(body: str) -> str:
    """The page with its CSRF tokens (signed with the current time) blanked out."""
    body = re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1", body)
    return re.sub(r'("X-CSRFToken": ")[^"]+', r"\1", body)


def csrf_from(body: str) -> str | None:
    match = CSRF_RE.search(body)
    return (match.group(1) or match.group(2)) if match else None

