"""Sign-in, sign-out, session revocation, throttling, redirects, password changes."""
import re

import pytest

from portal.extensions import db
from portal.models import User
from tests.conftest import PASSWORD

TOKEN_RE = re.compile(r'(csrf_token"[^>]*value="|"X-CSRFToken": ")[^"]+')


def test_production_password_hash_is_argon2id_with_owasp_parameters(app_factory):
    from config import Config

    assert Config.PASSWORD_HASH_METHOD == "argon2id"
    assert (Config.ARGON2_MEMORY_KIB, Config.ARGON2_TIME_COST, Config.ARGON2_PARALLELISM) == (12288, 3, 1)
    app = app_factory(PASSWORD_HASH_METHOD="argon2id")
    with app.app_context():
        from portal.passwords import check_password, hash_password

        hashed = hash_password("some passphrase")
        assert hashed.startswith("$argon2id$v=19$m=12288,t=3,p=1$")
        assert check_password(hashed, "some passphrase") and not check_password(hashed, "other passphrase")


def test_password_hash_uses_configured_method(app):
    from portal.passwords import hash_password

    assert hash_password("some passphrase").startswith("scrypt:1024:8:1$")


def test_older_hashes_are_upgraded_at_sign_in(app_factory):
    app = app_factory(PASSWORD_HASH_METHOD="argon2id", ARGON2_MEMORY_KIB=1024, ARGON2_TIME_COST=1)
    with app.app_context():
        from werkzeug.security import generate_password_hash

        from portal.models import Company

        company = Company(name="C")
        db.session.add(User(company=company, email="old@example.com", display_name="Old", role="admin",
                            password_hash=generate_password_hash(PASSWORD, method="scrypt:1024:8:1")))
        db.session.commit()
        client = app.test_client()
        assert client.post("/login", data={"email": "old@example.com", "password": PASSWORD}).status_code == 303
        assert db.session.scalar(db.select(User.password_hash)).startswith("$argon2id$v=19$m=1024,t=1,p=1$")


def test_sign_in_and_out(client, admin_a, login):
    response = login(client, "ADMIN-A@example.com ")
    assert response.headers["Location"] == "/"
    assert client.get("/admin/users").status_code == 200
    assert client.get("/logout").status_code == 405  # sign-out is POST only
    response = client.post("/logout")
    assert response.status_code == 303
    assert client.get("/admin/users").status_code == 302


def test_unknown_email_and_wrong_password_answer_the_same(client, admin_a):
    wrong = client.post("/login", data={"email": admin_a.email, "password": "wrong password!"})
    unknown = client.post("/login", data={"email": "nobody@example.com", "password": "wrong password!"})
    assert wrong.status_code == unknown.status_code == 200
    normalize = lambda r: TOKEN_RE.sub("", r.get_data(as_text=True)).replace(admin_a.email, "E").replace(
        "nobody@example.com", "E")
    assert normalize(wrong) == normalize(unknown)
    assert "The email or the password is not correct." in wrong.get_data(as_text=True)


def test_deactivated_user_cannot_sign_in(client, make_user, company_a):
    user = make_user(company_a, active=False)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "not correct" in response.get_data(as_text=True)


@pytest.mark.parametrize("target,expected", [
    ("/admin/users", "/admin/users"),
    ("/my-shops?page=2", "/my-shops?page=2"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("\\\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("http:/evil.example", "/"),
    ("/%0d%0aSet-Cookie:x=y", "/%0d%0aSet-Cookie:x=y"),
    ("/\tevil", "/"),
    ("", "/"),
])
def test_next_only_to_same_site_paths(client, admin_a, target, expected):
    response = client.post("/login", query_string={"next": target},
                           data={"email": admin_a.email, "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == expected


def _session_cookie(client):
    return client.get_cookie("portal_session").value


def _replay(app, cookie):
    other = app.test_client()
    other.set_cookie("portal_session", cookie)
    return other.get("/admin/users")


def test_sign_out_revokes_captured_session(app, client, admin_a, login):
    login(client, admin_a)
    captured = _session_cookie(client)
    assert _replay(app, captured).status_code == 200
    client.post("/logout")
    assert _replay(app, captured).status_code == 302


def test_password_change_revokes_other_sessions(app, client, admin_a, login):
    login(client, admin_a)
    captured = _session_cookie(client)
    response = client.post("/account/password", data={"current_password": PASSWORD,
                                                      "new_password": "a brand new passphrase",
                                                      "confirm": "a brand new passphrase"})
    assert response.status_code == 303
    assert _replay(app, captured).status_code == 302
    assert client.get("/admin/users").status_code == 200  # this browser got a fresh session


def test_deactivation_revokes_sessions(app, client, admin_a, make_user, company_a, login):
    other_admin = make_user(company_a, role="admin")
    member_client = app.test_client()
    login(member_client, other_admin)
    assert member_client.get("/admin/users").status_code == 200
    login(client, admin_a)
    assert client.post(f"/admin/users/{other_admin.id}/deactivate").status_code == 303
    assert member_client.get("/admin/users").status_code == 302


def test_change_password_requires_current_password(client, member_a, login):
    login(client, member_a)
    response = client.post("/account/password", data={"current_password": "not my password",
                                                      "new_password": "a brand new passphrase",
                                                      "confirm": "a brand new passphrase"})
    assert "The current password is not correct." in response.get_data(as_text=True)
    db.session.expire_all()
    from portal.passwords import check_password

    assert check_password(db.session.get(User, member_a.id).password_hash, PASSWORD)


def test_session_id_cannot_be_forged_into_another_version(app, client, admin_a, login):
    login(client, admin_a)
    with client.session_transaction() as sess:
        assert sess["_user_id"] == f"{admin_a.id}:1"
        sess["_user_id"] = f"{admin_a.id}:2"
    assert client.get("/admin/users").status_code == 302


def test_idle_timeout_ends_session(client, admin_a, login):
    login(client, admin_a)
    with client.session_transaction() as sess:
        sess["seen_at"] -= 3 * 3600
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_absolute_timeout_ends_session(client, admin_a, login):
    login(client, admin_a)
    with client.session_transaction() as sess:
        sess["auth_at"] -= 13 * 3600
    assert client.get("/admin/users").status_code == 302


def test_expired_session_on_htmx_call_gets_401_and_hx_redirect(client, admin_a):
    client.get("/login")
    response = client.get("/admin/users", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")
    assert response.get_data() == b""


def test_session_cookie_flags(app, client, admin_a, login):
    response = login(client, admin_a)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_https_mode_sets_secure_cookie_and_hsts(app_factory):
    app = app_factory(PORTAL_HTTPS=True)
    with app.app_context():
        from portal.passwords import hash_password
        from portal.models import Company

        company = Company(name="C")
        db.session.add(company)
        db.session.add(User(company=company, email="a@example.com", display_name="A", role="admin",
                            password_hash=hash_password(PASSWORD)))
        db.session.commit()
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    response = client.post("/login", data={"email": "a@example.com", "password": PASSWORD},
                           headers={"Referer": "https://localhost/login"})
    assert response.status_code == 303
    # Flask-WTF checks the Referer on HTTPS: our Referrer-Policy keeps it for same-origin posts.
    assert client.post("/logout").status_code == 400
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_sign_in_throttled_per_account(app_factory):
    app = app_factory(LOGIN_LIMIT_PER_ACCOUNT="3 per 5 minutes", LOGIN_LIMIT_PER_IP="100 per 5 minutes")
    client = app.test_client()
    _seed_admin(app)
    statuses = [client.post("/login", data={"email": "a@example.com", "password": "wrong guess!"},
                            environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    # Even the right password waits: the account's bucket is full, whichever address asks.
    blocked = client.post("/login", data={"email": "a@example.com", "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)
    # Another account is not affected.
    other = client.post("/login", data={"email": "b@example.com", "password": "wrong guess!"})
    assert other.status_code == 200


def test_sign_in_throttled_per_ip_and_not_reset_by_forwarded_for(app_factory):
    app = app_factory(LOGIN_LIMIT_PER_IP="3 per 5 minutes", LOGIN_LIMIT_PER_ACCOUNT="100 per 5 minutes")
    client = app.test_client()
    _seed_admin(app)
    statuses = [client.post("/login", data={"email": f"u{i}@example.com", "password": "wrong guess!"},
                            headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_successful_sign_ins_do_not_fill_the_bucket(app_factory):
    app = app_factory(LOGIN_LIMIT_PER_ACCOUNT="2 per 5 minutes")
    _seed_admin(app)
    for _ in range(4):
        client = app.test_client()
        assert client.post("/login", data={"email": "a@example.com", "password": PASSWORD}).status_code == 303


def _seed_admin(app):
    from portal.passwords import hash_password
    from portal.models import Company

    with app.app_context():
        company = Company(name="C")
        db.session.add(company)
        db.session.add(User(company=company, email="a@example.com", display_name="A", role="admin",
                            password_hash=hash_password(PASSWORD)))
        db.session.commit()


def test_temporary_password_must_be_changed_first(client, make_user, company_a, login):
    user = make_user(company_a, must_change_password=True)
    login(client, user)
    response = client.get("/my-shops")
    assert response.status_code == 303 and response.headers["Location"] == "/account/password"
    htmx = client.get("/my-shops", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"] == "/account/password"
    client.post("/account/password", data={"current_password": PASSWORD, "new_password": "my own passphrase",
                                           "confirm": "my own passphrase"})
    assert client.get("/my-shops").status_code == 200
