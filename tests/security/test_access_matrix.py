"""The full access matrix, generated from the URL map.

Every route × {anonymous, member with the object, member without it, admin of the company, admin
of another company (asking for company A's ids)} × {plain, HX-Request}. Expected: anonymous → sign-in
(302, or 401 + HX-Redirect for htmx); member on an admin route → 403; an object the user may not
see → 404; allowed → the route really does its job. A refusal leaves every table but the audit trail
as it was, and is audited (404 → access.denied, 403 → access.forbidden)."""
import pytest
from sqlalchemy import select

from portal import create_app
from portal.extensions import db
from tests.conftest import make_config
from tests.security import helpers
from tests.security.helpers import ACCESS, LOGIN, OK, ROLES


def _cases():
    # The app is built once at collection time only to read its URL map (no database is touched).
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="urlmap-") as tmp:
        routes = helpers.route_methods(create_app(make_config(Path(tmp), None)))
    return [(endpoint, method, role) for endpoint in sorted(routes) for method in sorted(routes[endpoint])
            for role in ROLES]


CASES = _cases()


def test_every_route_has_an_expectation(module_app):
    """A new route (or endpoint) without a line in ACCESS fails here."""
    routes = helpers.route_methods(module_app)
    assert set(ACCESS) == set(routes), {"missing": set(routes) - set(ACCESS), "stale": set(ACCESS) - set(routes)}
    assert {(e, m) for e, m, _r in CASES} == {(e, m) for e, methods in routes.items() for m in methods}
    # Every rule variable has a sample value (build_url raises otherwise).
    target = type("T", (), {"shop_id": 1, "store_id": 1, "order_id": 1, "user_id": 1, "event_id": 1, "message_id": 1,
                            "channel_id": 1})()
    for endpoint in routes:
        assert helpers.build_url(module_app, endpoint, target).startswith("/")


def test_matrix_covers_every_outcome():
    outcomes = {helpers.expected(e, r) for e, _m, r in CASES}
    assert outcomes == {OK, LOGIN, 403, 404}
    assert len(CASES) == len(ROLES) * len({(e, m) for e, m, _r in CASES})


@pytest.mark.parametrize(("endpoint", "method", "role"), CASES, ids=["-".join(c) for c in CASES])
def test_access(module_app, world, endpoint, method, role):
    want = helpers.expected(endpoint, role)
    for htmx in (False, True):
        c = helpers.make_case(module_app, world, endpoint, method, role, htmx)
        client, token = world.client(role)
        user = world.user(role)
        c.session_version_before = user.session_version if user else None
        c.before = helpers.snapshot(include_audit=method == "GET" and want == OK)
        c.audit_before = helpers.last_audit_id()
        response = helpers.send(c, client, token)
        assert response.status_code < 500, response.get_data(as_text=True)[:500]
        assert "HX-Request" in response.headers.get("Vary", ""), "answers differ by HX-Request: say so to caches"
        if want == OK:
            if method == "GET":
                helpers.check_get_success(c, response, c.before)
            else:
                helpers.check_post_success(c, response)
                helpers.after_success(c)
        else:
            helpers.check_refusal(c, response, want)


@pytest.mark.parametrize("role", ["member_without", "admin_b"])
def test_ids_that_do_not_exist_look_like_ids_out_of_scope(module_app, world, role):
    """An id that exists elsewhere and an id that exists nowhere get the same answer (no existence oracle)."""
    client = world.new_client(role)  # no flash messages pending from other tests
    t = world.target({"shop", "store"})
    for existing, missing in ((f"/shops/{t.shop_id}", "/shops/99999999"),
                              (f"/other-stores/{t.store_id}", "/other-stores/99999999"),
                              (f"/other-stores/{t.store_id}/orders/{t.order_id}/edit",
                               f"/other-stores/99999999/orders/{t.order_id}/edit")):
        for headers in ({}, helpers.HX):
            seen, unseen = client.get(existing, headers=headers), client.get(missing, headers=headers)
            assert seen.status_code == unseen.status_code == 404
            # The page repeats its own path (language switch "next") and a CSRF token signed with the
            # time; apart from those they are identical.
            assert helpers.without_tokens(seen.get_data(as_text=True)) == helpers.without_tokens(
                unseen.get_data(as_text=True).replace(missing, existing))


def test_member_403_does_not_depend_on_the_id(module_app, world):
    """Role checks come before lookups: a member learns nothing about ids from an admin route."""
    client, token = world.client("member_with")
    t = world.target({"shop", "store", "user"})
    b = world.ids["member_b"]
    for path in (f"/shops/{t.shop_id}/assign", "/shops/99999999/assign", f"/admin/users/{t.user_id}/password",
                 f"/admin/users/{b}/password", "/admin/users/99999999/password", f"/other-stores/{t.store_id}/assign",
                 "/other-stores/99999999/assign"):
        assert client.get(path).status_code == 403, path
    for path in (f"/shops/{t.shop_id}/delete", "/shops/99999999/delete", f"/admin/users/{b}/deactivate",
                 f"/other-stores/{t.store_id}/delete"):
        assert helpers.post(client, path, {}, token=token).status_code == 403, path


def test_forms_ignore_fields_they_do_not_bind(module_app, world):
    """company_id, role, is_admin, status, created_by_id sent along with a form change nothing they name."""
    from portal.models import OtherStore, Shop, User

    client, token = world.client("member_with")
    extra = {"company_id": world.company_b, "role": "admin", "is_admin": "1", "status": "verified",
             "check_status": "verified", "created_by_id": world.ids["admin_b"], "active": "0"}
    t = world.target({"shop", "store"})
    response = helpers.post(client, f"/shops/{t.shop_id}/edit", dict(extra, name=f"Edited {t.tag}", mode="single",
                                                                       marketplace=helpers.US), token=token)
    assert response.status_code == 303
    response = helpers.post(client, "/other-stores/new", dict(extra, platform="ebay", name=f"Mine {t.tag}",
                                                              countries=["DE"]), token=token)
    assert response.status_code == 303
    db.session.expire_all()
    shop = db.session.get(Shop, t.shop_id)
    assert shop.company_id == world.company_a and shop.check_status == "never" and shop.name == f"Edited {t.tag}"
    store = db.session.scalar(select(OtherStore).where(OtherStore.name == f"Mine {t.tag}"))
    assert store.company_id == world.company_a and store.created_by_id == world.ids["member_with"]
    me = db.session.get(User, world.ids["member_with"])
    assert me.role == "member" and me.active and me.company_id == world.company_a


def test_unassigning_takes_effect_on_the_next_request(module_app, world):
    from portal.models import ShopAssignment

    member, _ = world.client("member_with")
    t = world.target({"shop"})
    assert member.get(f"/shops/{t.shop_id}").status_code == 200
    admin, token = world.client("admin_a")
    response = helpers.post(admin, f"/shops/{t.shop_id}/assign", {"shown": [world.ids["member_with"]], "selected": []},
                            token=token)
    assert response.status_code == 303
    assert db.session.scalar(select(ShopAssignment).where(ShopAssignment.shop_id == t.shop_id)) is None
    assert member.get(f"/shops/{t.shop_id}").status_code == 404
    assert t.shop_name not in member.get("/my-shops").get_data(as_text=True)
