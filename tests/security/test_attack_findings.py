"""Issue 12: what an outside attack on the running portal found, one test (or group) per finding.

Each test failed on the code before the fixes and passes after, on SQLite and on PostgreSQL
(TEST_DATABASE_URL). The parallel sign-in tests are in test_signin_throttle.py; findings 4–7 and
the view side of 15 (fixed in files other helpers own) are in test_attack_findings_views.py."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import AuditEvent, Company, Order, OtherStore, User
from tests.conftest import PASSWORD, TEST_DATABASE_URL

HX = {"HX-Request": "true"}
sqlite_only = pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="about the SQLite file")
postgresql_only = pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")


def events(action: str | None = None, outcome: str | None = None) -> list[AuditEvent]:
    db.session.commit()
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    if outcome:
        query = query.where(AuditEvent.outcome == outcome)
    return list(db.session.scalars(query))


def count(model) -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(model))


def signed_in(app, user, login):
    client = app.test_client()
    login(client, user)
    return client


def make_store(user, name="Canary Store"):
    from portal.other_stores.services import save_store

    store = save_store(user, None, platform="etsy", platform_other=None, name=name, countries=["DE"], url=None,
                       login_name=None, notes=None)
    db.session.commit()
    return store


# --- 1. sign-in throttling: the slot is taken before the password is checked -----------------------

def test_finding_01_locked_account_refuses_the_right_password(app_factory):
    app = app_factory(LOGIN_LIMIT_PER_ACCOUNT="5 per 5 minutes", LOGIN_LIMIT_PER_IP="1000 per 5 minutes")
    with app.app_context():
        from portal.passwords import hash_password

        db.session.add(User(company=Company(name="C"), email="a@example.com", display_name="A", role="admin",
                            password_hash=hash_password(PASSWORD)))
        db.session.commit()
        client = app.test_client()
        statuses = [client.post("/login", data={"email": "a@example.com", "password": f"wrong {i}"}).status_code
                    for i in range(14)]
        assert statuses == [200] * 5 + [429] * 9
        right = client.post("/login", data={"email": "a@example.com", "password": PASSWORD})
        assert right.status_code == 429 and "Too many attempts" in right.get_data(as_text=True)
        assert len(events("auth.login", "failure")) == 5  # passwords checked
        assert events("auth.login", "success") == []


# --- 2. ids beyond the database's integer range -------------------------------------------------------

BIG = ["2147483648", "9223372036854775808", "99999999999999999999999"]


@pytest.mark.parametrize("big", BIG)
@pytest.mark.parametrize("method,path", [
    ("GET", "/shops/{big}"), ("GET", "/shops/{big}/edit"), ("POST", "/shops/{big}/verify"),
    ("GET", "/other-stores/{big}"), ("POST", "/other-stores/{big}/delete"),
    ("GET", "/other-stores/{store}/orders/{big}/edit"), ("POST", "/other-stores/{store}/orders/{big}/delete"),
    ("POST", "/admin/users/{big}/role"), ("GET", "/admin/users/{big}/shops"), ("GET", "/admin/users/{big}/password"),
])
def test_finding_02_ids_out_of_range_in_urls_are_audited_404s(app, admin_a, login, method, path, big):
    store = make_store(admin_a)
    client = signed_in(app, admin_a, login)
    url = path.format(big=big, store=store.id)
    before = len(events("access.denied"))
    response = client.get(url) if method == "GET" else client.post(url, data={"role": "member"})
    assert response.status_code == 404, (url, response.status_code)
    denied = events("access.denied")
    assert len(denied) == before + 1 and denied[-1].user_id == admin_a.id and denied[-1].outcome == "denied"


@pytest.mark.parametrize("bad", ["2147483648", "9223372036854775808", "²", "①", "１２"])
@pytest.mark.parametrize("form", ["shop_assign_selected", "shop_assign_shown", "store_assign", "bulk_user",
                                  "bulk_shops", "user_shops"])
def test_finding_02_ids_out_of_range_in_forms_are_400(app, admin_a, member_a, make_shop, login, form, bad):
    shop = make_shop(admin_a)
    store = make_store(admin_a)
    client = signed_in(app, admin_a, login)
    url, data = {
        "shop_assign_selected": (f"/shops/{shop.id}/assign", {"selected": [bad], "shown": [str(member_a.id)]}),
        "shop_assign_shown": (f"/shops/{shop.id}/assign", {"shown": [str(member_a.id), bad]}),
        "store_assign": (f"/other-stores/{store.id}/assign", {"selected": [bad], "shown": [bad]}),
        "bulk_user": ("/shops/bulk-assign", {"user_id": bad, "shop_ids": [str(shop.id)]}),
        "bulk_shops": ("/shops/bulk-assign", {"user_id": str(member_a.id), "shop_ids": [str(shop.id), bad]}),
        "user_shops": (f"/admin/users/{member_a.id}/shops", {"selected": [bad], "shown": [bad]}),
    }[form]
    response = client.post(url, data=data, headers=HX)
    assert response.status_code == 400, (form, bad, response.status_code)


def test_finding_02_parse_db_id_accepts_only_ascii_digits_in_range():
    from portal.fields import DB_ID_MAX, parse_db_id

    assert parse_db_id("1") == 1 and parse_db_id(str(DB_ID_MAX)) == DB_ID_MAX and parse_db_id("007") == 7
    for bad in ["", "0", "-1", "+1", " 1", "1 ", "²", "①", "１２", "٣", "1_000", "1e3", "2147483648",
                "9223372036854775808", None, "abc"]:
        assert parse_db_id(bad) is None, bad


# --- 3. NUL characters, whatever the body type ---------------------------------------------------------

def test_finding_03_nul_in_multipart_sign_in_is_refused(app, admin_a):
    client = app.test_client()
    response = client.post("/login", data={"email": "admin-a@example.com\x00", "password": "x\x00y"},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert all("\x00" not in (event.user_label or "") for event in events())


@pytest.mark.parametrize("kind", ["multipart field", "multipart name", "multipart filename", "json", "text",
                                  "query", "urlencoded"])
def test_finding_03_nul_refused_for_every_body_type(app, admin_a, login, kind):
    import io

    client = signed_in(app, admin_a, login)
    token = client.csrf_token()
    store = {"platform": "etsy", "name": "Nul Store", "countries": "DE", "notes": "fine", "csrf_token": token}
    headers = {"X-CSRFToken": token}
    if kind == "multipart field":
        response = client.post("/other-stores/new", data=dict(store, notes="a\x00b"), content_type="multipart/form-data",
                               csrf=False)
    elif kind == "multipart name":
        response = client.post("/other-stores/new", data=dict(store, **{"no\x00tes": "x"}),
                               content_type="multipart/form-data", csrf=False)
    elif kind == "multipart filename":
        response = client.post("/other-stores/new", data=dict(store, notes=(io.BytesIO(b"x"), "a\x00.txt")),
                               content_type="multipart/form-data", csrf=False)
    elif kind == "json":
        response = client.post("/other-stores/new", json={"name": "Nul\u0000Store"}, headers=headers, csrf=False)
    elif kind == "text":
        response = client.post("/other-stores/new", data=b"name=Nul\x00", content_type="text/plain", headers=headers,
                               csrf=False)
    elif kind == "query":
        response = client.post("/other-stores/new?q=%00", data=store, csrf=False)
    else:
        response = client.post("/other-stores/new", data=dict(store, notes="a\x00b"), csrf=False)
    assert response.status_code == 400, (kind, response.status_code)
    assert count(OtherStore) == 0


# --- 8. changing the password: wrong current passwords are throttled and audited -----------------------

def test_finding_08_wrong_current_password_throttled_and_audited(app_factory):
    app = app_factory(LOGIN_LIMIT_PER_ACCOUNT="5 per 5 minutes", LOGIN_LIMIT_PER_IP="1000 per 5 minutes")
    with app.app_context():
        from portal.passwords import check_password, hash_password

        user = User(company=Company(name="C"), email="a@example.com", display_name="A", role="admin",
                    password_hash=hash_password(PASSWORD))
        db.session.add(user)
        db.session.commit()
        client = app.test_client()
        assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
        new = "a brand new passphrase"
        statuses = [client.post("/account/password", data={"current_password": f"guess number {i}",
                                                            "new_password": new, "confirm": new}).status_code
                    for i in range(8)]
        assert statuses == [200] * 5 + [429] * 3
        failed = events("auth.password_change_failed")
        assert len(failed) == 5 and all(e.user_id == user.id and e.outcome == "failure" for e in failed)
        assert len(events("auth.throttled")) >= 1
        right = client.post("/account/password", data={"current_password": PASSWORD, "new_password": new,
                                                        "confirm": new})
        assert right.status_code == 429
        db.session.expire_all()
        assert check_password(db.session.get(User, user.id).password_hash, PASSWORD)


# --- 9. anonymous refusals are sampled: the audit table cannot be flooded ---------------------------------

def test_finding_09_anonymous_csrf_failures_sampled_per_address(app, admin_a):
    from portal.models import ThrottleCounter

    client = app.test_client()
    addresses = ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
    for i in range(150):
        response = client.post("/login", data={"email": "x@example.com", "password": "y"}, csrf=False,
                               environ_base={"REMOTE_ADDR": addresses[i % 3]})
        assert response.status_code == 400
    refused = events("security.csrf_failed")
    assert sorted(e.ip for e in refused) == addresses  # the first per address (and minute) is kept
    db.session.commit()
    counted = {row.key: row.hits for row in db.session.scalars(select(ThrottleCounter).where(
        ThrottleCounter.key.like("audit:security.csrf_failed:%")))}
    assert counted == {f"audit:security.csrf_failed:{a}": 50 for a in addresses}


def test_finding_09_signed_in_refusals_are_all_audited(app, admin_a, login):
    client = signed_in(app, admin_a, login)
    for _ in range(3):
        assert client.post("/logout", data={}, csrf=False).status_code == 400
    assert len(events("security.csrf_failed")) == 3


# --- 10. races: the first set-up, two admins demoting each other; the repair path -------------------------

def _parallel(functions):
    barrier = threading.Barrier(len(functions))
    results = [None] * len(functions)
    errors = []

    def run(i):
        try:
            barrier.wait()
            results[i] = functions[i]()
        except Exception as error:  # reported below, with the thread's own failure
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(functions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def test_finding_10_parallel_setup_makes_one_company_and_one_admin(app):
    clients = [app.test_client() for _ in range(6)]
    tokens = [c.csrf_token() for c in clients]

    def setup(i):
        return lambda: clients[i].post("/setup", csrf=False, data={
            "csrf_token": tokens[i], "company_name": f"Company {i}", "display_name": f"Boss {i}",
            "email": f"boss{i}@example.com", "password": PASSWORD, "confirm": PASSWORD}).status_code

    statuses = _parallel([setup(i) for i in range(6)])
    assert statuses.count(303) == 1, statuses
    assert all(s in (200, 303, 404) for s in statuses), statuses
    assert count(Company) == 1 and count(User) == 1
    assert db.session.scalar(select(User)).role == "admin"


def test_finding_10_admins_demoting_each_other_leave_an_admin(app, company_a, make_user, login):
    first = make_user(company_a, role="admin", email="first@example.com")
    second = make_user(company_a, role="admin", email="second@example.com")
    one, two = signed_in(app, first, login), signed_in(app, second, login)
    ids = first.id, second.id
    for _round in range(6):
        db.session.execute(db.update(User).where(User.id.in_(ids)).values(role="admin"))
        db.session.commit()
        tokens = one.csrf_token(), two.csrf_token()
        _parallel([
            lambda: one.post(f"/admin/users/{ids[1]}/role", data={"role": "member", "csrf_token": tokens[0]},
                             headers=HX, csrf=False),
            lambda: two.post(f"/admin/users/{ids[0]}/role", data={"role": "member", "csrf_token": tokens[1]},
                             headers=HX, csrf=False),
        ])
        db.session.commit()
        admins = db.session.scalar(select(func.count(User.id)).where(User.company_id == company_a.id,
                                                                   User.role == "admin", User.active.is_(True)))
        assert admins >= 1, f"round {_round}: no admin left"


def test_finding_10_admins_deactivating_each_other_leave_an_admin(app, company_a, make_user, login):
    first = make_user(company_a, role="admin", email="first@example.com")
    second = make_user(company_a, role="admin", email="second@example.com")
    one, two = signed_in(app, first, login), signed_in(app, second, login)
    tokens = one.csrf_token(), two.csrf_token()
    ids = first.id, second.id
    _parallel([
        lambda: one.post(f"/admin/users/{ids[1]}/deactivate", data={"csrf_token": tokens[0]}, headers=HX, csrf=False),
        lambda: two.post(f"/admin/users/{ids[0]}/deactivate", data={"csrf_token": tokens[1]}, headers=HX, csrf=False),
    ])
    db.session.commit()
    assert db.session.scalar(select(func.count(User.id)).where(User.company_id == company_a.id, User.role == "admin",
                                                               User.active.is_(True))) == 1


def test_finding_10_repair_a_company_without_admin(app, runner, company_a, make_user, admin_b):
    stuck = make_user(company_a, role="member", email="former-admin@example.com", active=False)
    make_user(company_a, role="member", email="staff@example.com")
    result = runner.invoke(args=["promote-admin", "--company-id", str(company_a.id), "--email", "Former-Admin@example.com"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    repaired = db.session.get(User, stuck.id)
    assert repaired.role == "admin" and repaired.active
    audit = events("user.role_changed")
    assert [(e.object_id, e.user_label, e.company_id) for e in audit] == [(stuck.id, "cli", company_a.id)]

    # create-admin works when users exist, in the company named by its id
    result = runner.invoke(args=["create-admin", "--company-id", str(company_a.id), "--email", "new-boss@example.com",
                                 "--name", "New Boss"], input="a long enough passphrase\na long enough passphrase\n")
    assert result.exit_code == 0, result.output
    boss = db.session.scalar(select(User).where(User.email == "new-boss@example.com"))
    assert boss.company_id == company_a.id and boss.role == "admin" and boss.must_change_password
    assert [e.object_id for e in events("user.created")] == [boss.id]
    # an address of another company is refused, without saying where it is used
    result = runner.invoke(args=["promote-admin", "--company-id", str(company_a.id), "--email", admin_b.email])
    assert result.exit_code != 0 and "Company B" not in result.output
    assert db.session.get(User, admin_b.id).company_id != company_a.id


# --- 11. emails: unique across the portal, refused with a message that leaks nothing -------------------------

def test_finding_11_email_of_another_company_refused_without_leaking(app, admin_a, member_a, admin_b, login):
    new = {"display_name": "Someone", "role": "member", "password": "a temporary passphrase"}
    other = signed_in(app, admin_b, login).post("/admin/users/new", data=dict(new, email="member-a@example.com"),
                                                headers=HX).get_data(as_text=True)
    own = signed_in(app, admin_a, login).post("/admin/users/new", data=dict(new, email="member-a@example.com"),
                                              headers=HX).get_data(as_text=True)
    message = "This email address cannot be used for a new account. Use another address."
    assert message in other and message in own
    assert "already exists" not in other and "Company A" not in other
    assert count(User) == 3
    # Sign-in with that address is unambiguous: it is the member of company A.
    client = app.test_client()
    login(client, "Member-A@example.com")
    assert client.get("/my-shops").status_code == 200
    # and the database refuses the same address in a second company
    db.session.add(User(company_id=admin_b.company_id, email="member-a@example.com", display_name="Copy",
                        role="member", password_hash="x"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


# --- 12. the SQLite files are owner-only --------------------------------------------------------------------

@sqlite_only
def test_finding_12_sqlite_files_created_owner_only(app, admin_a, login):
    client = signed_in(app, admin_a, login)
    client.post("/logout")
    path = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        assert name.exists(), name
        assert stat.S_IMODE(name.stat().st_mode) == 0o600, (name, oct(name.stat().st_mode))


@sqlite_only
def test_finding_12_existing_sqlite_files_made_owner_only_at_start(app_factory, tmp_path):
    path = tmp_path / "old.db"
    import sqlite3

    sqlite3.connect(path).close()
    os.chmod(path, 0o644)
    app = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with app.app_context():
        db.session.execute(text("SELECT 1"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- 13. redirects never name the Host header's host ---------------------------------------------------------

@pytest.mark.parametrize("path", ["/shops//1", "/shops//1//edit", "/other-stores//2/edit"])
def test_finding_13_redirects_are_relative(app, admin_a, path):
    assert app.config["TRUSTED_HOSTS"] is None
    response = app.test_client().get(path, headers={"Host": "evil.example"})
    assert response.status_code in (301, 302, 307, 308), response.status_code
    location = response.headers["Location"]
    assert "evil.example" not in location and location.startswith("/") and not location.startswith("//")


# --- 14. amounts: ASCII digits and one decimal point --------------------------------------------------------

@pytest.mark.parametrize("amount", ["1_000", "１２", "٣", "1e3", "१२", "12.50\u0660"])
def test_finding_14_amounts_only_ascii_digits(app, admin_a, login, amount):
    store = make_store(admin_a)
    client = signed_in(app, admin_a, login)
    order = {"order_number": "A-1", "order_date": "2026-11-20", "status": "paid", "currency": "USD", "total": amount}
    body = client.post(f"/other-stores/{store.id}/orders/new", data=order, headers=HX).get_data(as_text=True)
    assert "digits 0-9 and at most one decimal point" in body
    assert count(Order) == 0
    ok = client.post(f"/other-stores/{store.id}/orders/new", data=dict(order, total="1000.50"), headers=HX)
    assert ok.status_code == 200 and "HX-Redirect" in ok.headers
    assert str(db.session.scalar(select(Order.total))) == "1000.50"


# --- 15. "Nothing was changed" only when it is true ----------------------------------------------------------

def test_finding_15_error_after_commit_does_not_say_nothing_was_changed(app, admin_a):
    from portal.audit import record

    def save_then_fail():
        record("keys.rotated", user_label="test", detail="saved")
        db.session.commit()
        raise RuntimeError("after the commit")

    def fail_before_saving():
        record("keys.rotated", user_label="test", detail="not saved")
        db.session.flush()
        raise RuntimeError("before the commit")

    app.add_url_rule("/test-only/save-then-fail", "save_then_fail", save_then_fail)
    app.add_url_rule("/test-only/fail-before-saving", "fail_before_saving", fail_before_saving)
    client = app.test_client()
    after = client.get("/test-only/save-then-fail")
    assert after.status_code == 500
    text_after = after.get_data(as_text=True)
    assert "Nothing was changed" not in text_after and "after your change was saved" in text_after
    before = client.get("/test-only/fail-before-saving")
    assert before.status_code == 500 and "Nothing was changed" in before.get_data(as_text=True)
    assert [e.detail for e in events("keys.rotated")] == ["saved"]


# --- 16. a connection poisoned by an error is replaced ----------------------------------------------------

def _read_only(path: Path, on: bool) -> None:
    """Make the file unwritable even for root (an immutable file), or writable again."""
    if os.geteuid() != 0:
        os.chmod(path, 0o400 if on else 0o600)
        return
    if shutil.which("chattr") is None:
        pytest.skip("needs chattr to make a file read-only for root")
    result = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"chattr refused: {result.stderr.strip()}")


@sqlite_only
def test_finding_16_read_only_database_recovers_without_restart(app, tmp_path):
    from portal.passwords import hash_password
    from tests.security.portal_server import PortalServer

    db.session.add(User(company=Company(name="C"), email="a@example.com", display_name="A", role="admin",
                        password_hash=hash_password(PASSWORD)))
    db.session.commit()
    path = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    _read_only(path, True)
    try:
        with PortalServer(app, tmp_path / "gunicorn", workers=1, threads=1) as server:
            browser = server.client()
            browser.fetch_token()  # a read: the worker opens its connection while the file is read-only
            refused = browser.post("/login", {"email": "a@example.com", "password": PASSWORD})
            assert refused.status_code == 503, (refused.status_code, refused.text[:300])
            assert "cannot save changes" in refused.text and "Traceback" not in refused.text
            _read_only(path, False)
            for _ in range(3):  # the same worker: its next writes succeed
                fresh = server.client()
                fresh.sign_in("a@example.com", PASSWORD)
                assert fresh.post("/logout", {}).status_code == 303
                fresh.close()
            browser.close()
    finally:
        _read_only(path, False)
    assert len(events("auth.login", "success")) == 3


@postgresql_only
def test_finding_16_terminated_postgresql_backends_are_replaced(app_factory, pg_schema):
    name = f"portal-{uuid.uuid4().hex[:12]}"
    app = app_factory(SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "connect_args": {
        "options": f"-csearch_path={pg_schema}", "application_name": name}})
    admin_engine = create_engine(TEST_DATABASE_URL)
    try:
        with app.app_context():
            from portal.passwords import hash_password

            db.session.add(User(company=Company(name="C"), email="a@example.com", display_name="A", role="admin",
                                password_hash=hash_password(PASSWORD)))
            db.session.commit()
            db.session.remove()
            client = app.test_client()
            assert client.post("/login", data={"email": "a@example.com", "password": PASSWORD}).status_code == 303
            for _ in range(3):
                with admin_engine.begin() as conn:
                    killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                               "WHERE application_name = :name"), {"name": name}).scalar()
                assert killed >= 1
                response = client.post("/other-stores/new", data={"platform": "etsy", "name": f"S {uuid.uuid4().hex}",
                                                                  "countries": "DE"})
                assert response.status_code == 303, response.get_data(as_text=True)[:300]
    finally:
        admin_engine.dispose()
