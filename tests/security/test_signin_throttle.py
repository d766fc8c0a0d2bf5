"""Finding 1 of issue 12 from outside: parallel sign-ins through 2 gunicorn workers sharing the throttle.

The slot is taken atomically before the password is checked, in storage every worker shares (the
database, or Redis when REDIS_URL is set), so exactly the configured number of passwords is checked
whatever the parallelism. A checked password writes one `auth.login` failure event: those events count
the checks. Every test runs once per storage; the Redis runs are skipped only when no Redis answers at
127.0.0.1:6379, and each uses its own key prefix (other runs may share that Redis)."""
import threading
import uuid

import pytest
import redis
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, ThrottleCounter
from portal.throttle import give_back, take_slot
from tests.conftest import PASSWORD
from tests.security.portal_server import PortalServer

REDIS_URL = "redis://127.0.0.1:6379/0"


class Storage:
    """Where the throttle counts in one test: its settings, and the counter keys it holds afterwards."""

    def __init__(self, kind: str):
        self.kind = kind
        self.settings = {}
        self.redis = None
        if kind == "redis":
            self.redis = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
            try:
                self.redis.ping()
            except redis.RedisError:
                self.redis.close()
                pytest.skip("no Redis answers at 127.0.0.1:6379")
            self.prefix = f"portal-test-{uuid.uuid4().hex}"
            self.settings = {"REDIS_URL": REDIS_URL, "THROTTLE_KEY_PREFIX": self.prefix}

    def login_keys(self) -> list[str]:
        """The sign-in counters this test's portal wrote, in its storage."""
        if self.redis is not None:
            return sorted(key.decode() for key in self.redis.scan_iter(match=f"{self.prefix}:*", count=1000)
                          if b"login-" in key)
        db.session.commit()
        return sorted(db.session.scalars(select(ThrottleCounter.key).where(ThrottleCounter.key.like("login-%"))))

    def database_login_keys(self) -> list[str]:
        db.session.commit()
        return list(db.session.scalars(select(ThrottleCounter.key).where(ThrottleCounter.key.like("login-%"))))

    def clean_up(self):
        if self.redis is not None:
            keys = list(self.redis.scan_iter(match=f"{self.prefix}:*", count=1000))
            if keys:
                self.redis.delete(*keys)
            self.redis.close()


@pytest.fixture(params=["database", "redis"])
def storage(request):
    storage = Storage(request.param)
    yield storage
    storage.clean_up()


def _assert_counted_in(storage):
    """The counters are in the storage under test, and only there."""
    assert storage.login_keys(), storage.kind
    if storage.kind == "redis":
        assert all(key.startswith(storage.prefix + ":") for key in storage.login_keys())
        assert storage.database_login_keys() == []


def _seed(app):
    from portal.passwords import hash_password
    from portal.models import Company, User

    company = Company(name="Acme")
    db.session.add(User(company=company, email="boss@example.com", display_name="Boss", role="admin",
                        password_hash=hash_password(PASSWORD)))
    db.session.commit()


def _checked_passwords(outcome: str = "failure") -> int:
    db.session.commit()
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "auth.login",
                                                                     AuditEvent.outcome == outcome))


def _burst(server, attempts):
    """Every attempt from its own browser (own session and CSRF token), all sent at the same moment."""
    browsers = [server.client() for _ in attempts]
    for browser in browsers:
        browser.fetch_token()
    barrier = threading.Barrier(len(attempts))
    statuses = [None] * len(attempts)

    def send(i):
        barrier.wait()
        statuses[i] = browsers[i].post("/login", attempts[i]).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for browser in browsers:
        browser.close()
    return statuses


def test_finding_01_parallel_wrong_passwords_for_one_account_check_exactly_the_limit(app, tmp_path, storage):
    _seed(app)
    with PortalServer(app, tmp_path / "gunicorn", workers=2, threads=8, LOGIN_LIMIT_PER_ACCOUNT="5 per 5 minutes",
                      LOGIN_LIMIT_PER_IP="1000 per 5 minutes", **storage.settings) as server:
        statuses = _burst(server, [{"email": "boss@example.com", "password": f"wrong guess {i}"} for i in range(24)])
        assert sorted(statuses) == [200] * 5 + [429] * 19, statuses
        assert _checked_passwords() == 5
        # Locked: the right password is refused too, without being checked.
        right = _burst(server, [{"email": "boss@example.com", "password": PASSWORD}])
        assert right == [429]
        assert _checked_passwords() == 5
        assert _checked_passwords("success") == 0
    _assert_counted_in(storage)


def test_finding_01_parallel_sign_ins_from_one_address_check_exactly_the_ip_limit(app, tmp_path, storage):
    _seed(app)
    with PortalServer(app, tmp_path / "gunicorn", workers=2, threads=8, LOGIN_LIMIT_PER_ACCOUNT="5 per 5 minutes",
                      LOGIN_LIMIT_PER_IP="20 per 5 minutes", **storage.settings) as server:
        statuses = _burst(server, [{"email": f"guess{i}@example.com", "password": "wrong guess!"} for i in range(60)])
        assert sorted(statuses) == [200] * 20 + [429] * 40, statuses
        assert _checked_passwords() == 20
    _assert_counted_in(storage)


def test_successful_sign_in_gives_its_slot_back_and_a_locked_account_refuses_the_right_password(
        app_factory, storage):
    app = app_factory(LOGIN_LIMIT_PER_ACCOUNT="2 per 5 minutes", LOGIN_LIMIT_PER_IP="1000 per 5 minutes",
                      **storage.settings)
    with app.app_context():
        _seed(app)

        def attempt(password):
            return app.test_client().post("/login", data={"email": "boss@example.com", "password": password})

        # wrong (1 of 2), right (2 of 2, given back: 1), wrong (2 of 2), then locked.
        assert [attempt(p).status_code for p in ("wrong one", PASSWORD, "wrong two")] == [200, 303, 200]
        assert attempt("wrong three").status_code == 429
        right = attempt(PASSWORD)
        assert right.status_code == 429 and "Too many attempts" in right.get_data(as_text=True)
        assert _checked_passwords() == 2 and _checked_passwords("success") == 1
        _assert_counted_in(storage)


def test_giving_back_a_slot_never_goes_below_zero(app_factory, storage):
    app = app_factory(**storage.settings)
    with app.test_request_context():
        give_back("login-account:nobody@example.com", "1 per 5 minutes")  # nothing taken: nothing changes
        db.session.commit()
        assert storage.login_keys() == []
        assert take_slot("login-account:nobody@example.com", "1 per 5 minutes")
        give_back("login-account:nobody@example.com", "1 per 5 minutes")
        give_back("login-account:nobody@example.com", "1 per 5 minutes")
        db.session.commit()
        assert take_slot("login-account:nobody@example.com", "1 per 5 minutes")
        assert not take_slot("login-account:nobody@example.com", "1 per 5 minutes")
