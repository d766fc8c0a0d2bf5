"""The Users page: admins manage their own company's accounts; nobody else can."""
import pytest

from portal.extensions import db
from portal.models import User

HX = {"HX-Request": "true"}
NEW = {"display_name": "Zhang San", "email": "Zhang.San@example.com", "role": "member",
       "password": "temporary passphrase"}


@pytest.fixture
def admin_client(client, admin_a, login):
    login(client, admin_a)
    return client


def test_users_page_lists_only_own_company(admin_client, member_a, admin_b):
    body = admin_client.get("/admin/users").get_data(as_text=True)
    assert "Member A" in body and "member-a@example.com" in body
    assert "Admin B" not in body and "admin-b@example.com" not in body


def test_users_search_fragment(admin_client, member_a, make_user, company_a):
    make_user(company_a, name="Wang Wu")
    response = admin_client.get("/admin/users", query_string={"q": "wang"}, headers=HX)
    body = response.get_data(as_text=True)
    assert "Wang Wu" in body and "Member A" not in body
    assert "<html" not in body and "Vary" in response.headers and "HX-Request" in response.headers["Vary"]
    empty = admin_client.get("/admin/users", query_string={"q": "nobody-here"}, headers=HX)
    assert "No user matches" in empty.get_data(as_text=True)


def test_users_paginate_with_small_pages(app_factory):
    from portal.passwords import hash_password
    from portal.models import Company
    from tests.conftest import PASSWORD

    app = app_factory(PAGE_SIZE=2)
    with app.app_context():
        company = Company(name="C")
        db.session.add(company)
        for i in range(5):
            db.session.add(User(company=company, email=f"u{i}@example.com", display_name=f"User {i}",
                                role="admin", password_hash=hash_password(PASSWORD)))
        db.session.commit()
    client = app.test_client()
    client.post("/login", data={"email": "u0@example.com", "password": PASSWORD})
    page3 = client.get("/admin/users?page=3", headers=HX).get_data(as_text=True)
    assert "u4@example.com" in page3 and "u0@example.com" not in page3 and "Page 3 of 3" in page3
    assert "Page 3 of 3" in client.get("/admin/users?page=99").get_data(as_text=True)
    assert "Page 1 of 3" in client.get("/admin/users?page=abc").get_data(as_text=True)


def test_add_member_with_temporary_password(admin_client, company_a):
    form = admin_client.get("/admin/users/new", headers=HX).get_data(as_text=True)
    assert "<html" not in form and 'name="email"' in form
    response = admin_client.post("/admin/users/new", data=NEW, headers=HX)
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/admin/users"
    user = db.session.scalar(db.select(User).where(User.email == "zhang.san@example.com"))
    assert user.company_id == company_a.id and user.role == "member" and user.must_change_password


def test_add_user_ignores_extra_fields(admin_client, admin_b):
    data = dict(NEW, company_id=str(admin_b.company_id), is_admin="1", active="0", session_version="9")
    admin_client.post("/admin/users/new", data=data)
    user = db.session.scalar(db.select(User).where(User.email == "zhang.san@example.com"))
    assert user.company_id != admin_b.company_id and user.active and user.role == "member"
    assert user.session_version == 1


@pytest.mark.parametrize("field,value,message", [
    ("email", "not-an-email", "Enter an email address"),
    ("email", "member-a@example.com", "cannot be used for a new account"),
    ("password", "short", "at least 8 characters"),
    ("password", "qwerty123", "too common"),
    ("display_name", "x" * 10_000, "cannot be longer than 100"),
    ("display_name", "Evil\u202eName", "invisible or control characters"),
    ("role", "owner", "Not a valid choice"),
])
def test_add_user_validation(admin_client, member_a, field, value, message):
    before = db.session.scalar(db.select(db.func.count(User.id)))
    response = admin_client.post("/admin/users/new", data=dict(NEW, **{field: value}), headers=HX)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(User.id))) == before


def test_change_role_returns_row(admin_client, member_a):
    response = admin_client.post(f"/admin/users/{member_a.id}/role", data={"role": "admin"}, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith(f'<tr id="user-{member_a.id}"')
    assert db.session.get(User, member_a.id).role == "admin"


def test_last_admin_cannot_be_demoted_or_deactivated(admin_client, admin_a):
    response = admin_client.post(f"/admin/users/{admin_a.id}/role", data={"role": "member"}, headers=HX)
    assert "last active admin" in response.get_data(as_text=True)
    response = admin_client.post(f"/admin/users/{admin_a.id}/deactivate", headers=HX)
    assert "last active admin" in response.get_data(as_text=True)
    user = db.session.get(User, admin_a.id)
    assert user.role == "admin" and user.active


def test_deactivate_and_reactivate(admin_client, member_a):
    admin_client.post(f"/admin/users/{member_a.id}/deactivate", headers=HX)
    assert not db.session.get(User, member_a.id).active
    admin_client.post(f"/admin/users/{member_a.id}/reactivate", headers=HX)
    assert db.session.get(User, member_a.id).active


def test_reset_password_forces_change(admin_client, member_a):
    response = admin_client.post(f"/admin/users/{member_a.id}/password", data={"password": "temporary passphrase"})
    assert response.status_code == 303
    user = db.session.get(User, member_a.id)
    assert user.must_change_password and user.session_version == 2


ADMIN_ROUTES = [
    ("GET", "/admin/users"),
    ("GET", "/admin/users/new"),
    ("POST", "/admin/users/new"),
    ("POST", "/admin/users/{id}/role"),
    ("POST", "/admin/users/{id}/deactivate"),
    ("POST", "/admin/users/{id}/reactivate"),
    ("GET", "/admin/users/{id}/password"),
    ("POST", "/admin/users/{id}/password"),
]


@pytest.mark.parametrize("method,path", ADMIN_ROUTES)
@pytest.mark.parametrize("htmx", [False, True])
def test_member_gets_403_on_admin_routes(client, member_a, admin_a, login, method, path, htmx):
    login(client, member_a)
    url = path.format(id=admin_a.id)
    data = {"role": "member", "password": "temporary passphrase", **NEW}
    headers = HX if htmx else {}
    response = client.get(url, headers=headers) if method == "GET" else client.post(url, data=data, headers=headers)
    assert response.status_code == 403
    user = db.session.get(User, admin_a.id)
    assert user.role == "admin" and user.active and user.session_version == 1


@pytest.mark.parametrize("method,path", ADMIN_ROUTES)
@pytest.mark.parametrize("htmx", [False, True])
def test_anonymous_is_sent_to_sign_in(client, admin_a, method, path, htmx):
    url = path.format(id=admin_a.id)
    if method == "GET":
        response = client.get(url, headers=HX if htmx else {})
    else:
        response = client.post(url, data={"role": "member"}, headers=HX if htmx else {})
    if htmx:
        assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login")
    else:
        assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("method,path", [r for r in ADMIN_ROUTES if "{id}" in r[1]])
@pytest.mark.parametrize("htmx", [False, True])
def test_other_company_user_is_404(client, admin_a, admin_b, login, method, path, htmx):
    login(client, admin_a)
    url = path.format(id=admin_b.id)
    headers = HX if htmx else {}
    if method == "GET":
        response = client.get(url, headers=headers)
    else:
        response = client.post(url, data={"role": "member", "password": "temporary passphrase"}, headers=headers)
    assert response.status_code == 404
    assert "Admin B" not in response.get_data(as_text=True)
    user = db.session.get(User, admin_b.id)
    assert user.role == "admin" and user.active and user.session_version == 1 and not user.must_change_password
