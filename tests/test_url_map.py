"""Walk the URL map: every state change is a POST that needs a CSRF token; GETs never write."""
import pytest

from portal.extensions import db

SAMPLE_ARGS = {"action": "deactivate", "message_id": 1}


@pytest.fixture
def world(app, admin_a, member_a, make_shop):
    """Objects whose ids fill the URL rules' variables."""
    from portal.other_stores.services import save_order, save_store

    shop = make_shop(admin_a, assign=[member_a])
    store = save_store(admin_a, None, platform="ebay", platform_other=None, name="Store", countries=["DE"], url=None,
                       login_name=None, notes=None)
    from datetime import date
    from decimal import Decimal

    order = save_order(admin_a, store, None, order_number="1", order_date=date(2026, 1, 1), status="paid",
                       currency="EUR", total=Decimal("1.00"), buyer_name=None, notes=None)
    from portal.models import AlertChannel, AlertEvent

    alert = AlertEvent(company_id=shop.company_id, shop_id=shop.id, kind="check_failed", episode="1")
    channel = AlertChannel(company_id=admin_a.company_id, name="Mail", name_key="mail", kind="email",
                           email_to="ops@example.com", events="auth_expired")
    db.session.add_all([alert, channel])
    db.session.commit()
    return {"user_id": member_a.id, "shop_id": shop.id, "store_id": store.id, "order_id": order.id,
            "event_id": alert.id, "channel_id": channel.id}


def _urls(app, world, method):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or method not in rule.methods:
            continue
        values = {}
        for arg in rule.arguments:
            if arg in world:
                values[arg] = world[arg]
            elif arg in SAMPLE_ARGS:
                values[arg] = SAMPLE_ARGS[arg]
            else:
                raise AssertionError(f"tests/test_url_map.py: give a sample value for <{arg}> of {rule.rule}")
        yield rule.endpoint, rule.rule.replace("<", "{").replace(">", "}"), _build(rule, values)


def _build(rule, values):
    path = rule.rule
    for arg in rule.arguments:
        import re

        path = re.sub(r"<(?:[^:<>]+:)?%s>|<any\([^)]*\):%s>" % (arg, arg), str(values[arg]), path)
    return path


def _snapshot():
    """Every table but the audit trail, which records refusals by design."""
    state = {}
    for table in db.metadata.sorted_tables:
        if table.name == "audit_event":
            continue
        rows = db.session.execute(table.select()).all()
        state[table.name] = sorted(repr(tuple(row)) for row in rows)
    return state


def test_every_post_route_refuses_a_missing_csrf_token(app, client, world, admin_a, login):
    login(client, admin_a)
    before = _snapshot()
    checked = 0
    for endpoint, _rule, url in _urls(app, world, "POST"):
        for headers in ({}, {"HX-Request": "true"}):
            response = client.post(url, data={"role": "admin", "lang": "en"}, csrf=False, headers=headers)
            assert response.status_code == 400, (endpoint, url, response.status_code)
        checked += 1
    assert checked >= 8
    assert _snapshot() == before
    from portal.models import AuditEvent

    refused = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "security.csrf_failed")).all()
    assert len(refused) == 2 * checked and all(e.outcome == "denied" and e.user_id == admin_a.id for e in refused)


def test_get_routes_never_change_the_database(app, client, world, admin_a, login):
    login(client, admin_a)
    before = _snapshot()
    for endpoint, _rule, url in _urls(app, world, "GET"):
        response = client.get(url)
        assert response.status_code < 500, (endpoint, url)
    after = _snapshot()
    assert after == before


def test_state_changing_endpoints_do_not_accept_get(app):
    writers = [rule for rule in app.url_map.iter_rules()
               if "POST" in rule.methods and "GET" in rule.methods]
    # Routes that show a form on GET and save it on POST: GET only renders (test above).
    assert all(rule.endpoint.split(".")[-1] in FORM_PAGES for rule in writers), [r.endpoint for r in writers]


FORM_PAGES = {"setup", "login", "change_password_view", "new_user", "reset_user_password", "new_shop", "edit",
              "reauthorize", "assign", "user_shops", "new", "new_order", "edit_order",
              "user_mentions"}
