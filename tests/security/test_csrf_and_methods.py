"""Walk the URL map: every write is a POST that needs this session's CSRF token and a same-site origin.

- POST-only routes answer GET with 405; form pages (GET+POST) only render on GET.
- Every POST route refuses a missing token and a token of another session: 400, nothing saved,
  audited as security.csrf_failed.
- A POST that the browser marks `Sec-Fetch-Site: cross-site` is refused with 403 even with a valid
  token (security.cross_site); `same-origin` POSTs do their job.
"""
import pytest
from sqlalchemy import select

from portal.extensions import db
from tests.security import helpers
from tests.security.helpers import ACCESS, ANYONE, HX, SETUP


def _routes():
    import tempfile
    from pathlib import Path

    from portal import create_app
    from tests.conftest import make_config

    with tempfile.TemporaryDirectory(prefix="urlmap-") as tmp:
        return helpers.route_methods(create_app(make_config(Path(tmp), None)))


ROUTES = _routes()
POST_ONLY = sorted(e for e, methods in ROUTES.items() if methods == {"POST"})
FORM_PAGES = sorted(e for e, methods in ROUTES.items() if methods == {"GET", "POST"})
POSTS = sorted(e for e, methods in ROUTES.items() if "POST" in methods)
# Routes anyone may post to are asked anonymously; the rest by company A's admin, who may use them all.
ROLE_FOR = {e: "anonymous" if ACCESS[e] in (ANYONE, SETUP) else "admin_a" for e in ROUTES}


def test_the_walk_covers_every_route(module_app):
    assert set(ROUTES) == set(helpers.route_methods(module_app))
    assert all(methods in ({"GET"}, {"POST"}, {"GET", "POST"}) for methods in ROUTES.values()), ROUTES
    assert len(POST_ONLY) >= 8 and len(FORM_PAGES) >= 10


@pytest.mark.parametrize("endpoint", POST_ONLY)
def test_post_only_routes_refuse_get(module_app, world, endpoint):
    for role in ("anonymous", "member_with", "admin_a"):
        client, _token = world.client(role)
        for htmx in (False, True):
            c = helpers.make_case(module_app, world, endpoint, "POST", role, htmx)
            before = helpers.snapshot(include_audit=True)
            response = client.get(c.url, headers=HX if htmx else {})
            assert response.status_code == 405, (endpoint, role, response.status_code)
            assert helpers.snapshot(include_audit=True) == before


def test_405_names_the_allowed_methods(module_app, world):
    """RFC 9110 §15.5.6: a 405 answer MUST carry an Allow header (the error page must keep it)."""
    client, _token = world.client("admin_a")
    without_allow = []
    for endpoint in POST_ONLY:
        c = helpers.make_case(module_app, world, endpoint, "POST", "admin_a", False)
        for headers in ({}, HX):
            response = client.get(c.url, headers=headers)
            assert response.status_code == 405
            if "POST" not in response.headers.get("Allow", ""):
                without_allow.append((endpoint, bool(headers)))
    assert without_allow == []


@pytest.mark.parametrize("endpoint", FORM_PAGES)
def test_form_pages_only_render_on_get(module_app, world, endpoint):
    role = ROLE_FOR[endpoint]
    client, _token = world.client(role)
    for htmx in (False, True):
        c = helpers.make_case(module_app, world, endpoint, "POST", role, htmx)
        # The form's own fields (valid ones) in the query string must not be taken as a submission either.
        data = c.data
        before = helpers.snapshot(include_audit=True)
        response = client.get(c.url, query_string=data, headers=HX if htmx else {})
        body = response.get_data(as_text=True)
        if endpoint == "auth.setup":
            assert response.status_code == 404
        else:
            assert response.status_code == 200, (endpoint, response.status_code)
            assert helpers.csrf_from(body), "a form page carries a CSRF token"
        assert helpers.snapshot(include_audit=True) == before, f"GET {endpoint} changed the database"


def _refused(c, response, status, action):
    assert response.status_code == status, (c.endpoint, c.htmx, response.status_code,
                                            response.get_data(as_text=True)[:300])
    assert helpers.snapshot() == c.before, f"a refused POST {c.endpoint} changed the database"
    events = helpers.audit_since(c.audit_before)
    assert [(e.action, e.outcome, e.user_id) for e in events] == [(action, "denied", c.user_id)]
    if c.htmx:
        assert response.headers.get("HX-Retarget") == "#messages"


def _ask(module_app, world, endpoint, htmx, token_kind, headers=None):
    role = ROLE_FOR[endpoint]
    client, own_token = world.client(role)
    c = helpers.make_case(module_app, world, endpoint, "POST", role, htmx)
    token = {"none": None, "own": own_token, "other": _other_token(world, role)}[token_kind]
    c.before, c.audit_before = helpers.snapshot(), helpers.last_audit_id()
    user = world.user(role)
    c.session_version_before = user.session_version if user else None
    return c, helpers.send(c, client, token, headers)


def _other_token(world, role):
    """A real token, of another session: another user's, or an anonymous visitor's."""
    other_role = "admin_b" if role == "anonymous" else "member_with"
    _client, token = world.client(other_role)
    return token


@pytest.mark.parametrize("endpoint", POSTS)
def test_post_without_a_token_is_refused(module_app, world, endpoint):
    for htmx in (False, True):
        c, response = _ask(module_app, world, endpoint, htmx, "none")
        _refused(c, response, 400, "security.csrf_failed")


@pytest.mark.parametrize("endpoint", POSTS)
def test_post_with_a_token_of_another_session_is_refused(module_app, world, endpoint):
    for htmx in (False, True):
        c, response = _ask(module_app, world, endpoint, htmx, "other")
        _refused(c, response, 400, "security.csrf_failed")


@pytest.mark.parametrize("endpoint", POSTS)
def test_cross_site_post_is_refused_even_with_a_valid_token(module_app, world, endpoint):
    for htmx in (False, True):
        c, response = _ask(module_app, world, endpoint, htmx, "own", {"Sec-Fetch-Site": "cross-site"})
        _refused(c, response, 403, "security.cross_site")


@pytest.mark.parametrize("endpoint", sorted(set(POSTS) - {"auth.setup"}))
def test_same_origin_post_works(module_app, world, endpoint):
    for htmx in (False, True):
        c, response = _ask(module_app, world, endpoint, htmx, "own", {"Sec-Fetch-Site": "same-origin"})
        assert response.status_code < 400, (endpoint, response.status_code, response.get_data(as_text=True)[:300])
        helpers.check_post_success(c, response)
        helpers.after_success(c)


def test_same_origin_set_up_works(app_factory):
    """The set-up page (only reachable before the first account exists) takes a same-origin POST."""
    from portal.models import User

    app = app_factory()
    with app.app_context():
        client = app.test_client()
        token = helpers.csrf_from(client.get("/setup").get_data(as_text=True))
        data = {"company_name": "Acme", "display_name": "Ada", "email": "ada@example.com",
                "password": "a long new passphrase 7", "confirm": "a long new passphrase 7"}
        refused = helpers.post(client, "/setup", data, token=token, headers={"Sec-Fetch-Site": "cross-site"})
        assert refused.status_code == 403 and db.session.scalar(select(User)) is None
        response = helpers.post(client, "/setup", data, token=token, headers={"Sec-Fetch-Site": "same-origin"})
        assert response.status_code == 303
        assert db.session.scalar(select(User)).email == "ada@example.com"


def test_htmx_token_header_is_accepted_and_checked(module_app, world):
    """htmx sends the token as X-CSRFToken (hx-headers on <body>): it counts, and must be this session's."""
    client, token = world.client("admin_a")
    t = world.target({"shop"})
    body = client.get("/shops").get_data(as_text=True)
    assert '"X-CSRFToken": "' in body
    other = world.client("member_with")[1]
    response = helpers.post(client, f"/shops/{t.shop_id}/verify", {"view": "detail"}, token=None,
                            headers=dict(HX, **{"X-CSRFToken": other}))
    assert response.status_code == 400
    response = helpers.post(client, f"/shops/{t.shop_id}/verify", {"view": "detail"}, token=None,
                            headers=dict(HX, **{"X-CSRFToken": token}))
    assert response.status_code == 200 and 'id="status-panel"' in response.get_data(as_text=True)


def test_cross_site_navigation_still_works(module_app, world):
    """Only writes are refused: following a link from another site to a page is fine."""
    client, _token = world.client("admin_a")
    response = client.get("/my-shops", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
    assert response.status_code == 200
