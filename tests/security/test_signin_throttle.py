"""Finding 1 of issue 12 from outside: parallel sign-ins through 2 gunicorn workers sharing the database.

The slot is taken atomically before the password is checked, in the database every worker shares, so
exactly the configured number of passwords is checked whatever the parallelism. A checked password
writes one `auth.login` failure event: those events count the checks."""
import threading

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent
from tests.conftest import PASSWORD
from tests.security.portal_server import PortalServer


def _seed(app):
    from portal.auth.passwords import hash_password
    from portal.models import Company, User

    company = Company(name="Acme")
    db.session.add(User(company=company, email="boss@example.com", display_name="Boss", role="admin",
                        password_hash=hash_password(PASSWORD)))
    db.session.commit()


def _checked_passwords() -> int:
    db.session.commit()
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "auth.login",
                                                                     AuditEvent.outcome == "failure"))


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


def test_finding_01_parallel_wrong_passwords_for_one_account_check_exactly_the_limit(app, tmp_path):
    _seed(app)
    with PortalServer(app, tmp_path / "gunicorn", workers=2, threads=8, LOGIN_LIMIT_PER_ACCOUNT="5 per 5 minutes",
                      LOGIN_LIMIT_PER_IP="1000 per 5 minutes") as server:
        statuses = _burst(server, [{"email": "boss@example.com", "password": f"wrong guess {i}"} for i in range(24)])
        assert sorted(statuses) == [200] * 5 + [429] * 19, statuses
        assert _checked_passwords() == 5
        # Locked: the right password is refused too, without being checked.
        right = _burst(server, [{"email": "boss@example.com", "password": PASSWORD}])
        assert right == [429]
        assert _checked_passwords() == 5


def test_finding_01_parallel_sign_ins_from_one_address_check_exactly_the_ip_limit(app, tmp_path):
    _seed(app)
    with PortalServer(app, tmp_path / "gunicorn", workers=2, threads=8, LOGIN_LIMIT_PER_ACCOUNT="5 per 5 minutes",
                      LOGIN_LIMIT_PER_IP="20 per 5 minutes") as server:
        statuses = _burst(server, [{"email": f"guess{i}@example.com", "password": "wrong guess!"} for i in range(60)])
        assert sorted(statuses) == [200] * 20 + [429] * 40, statuses
        assert _checked_passwords() == 20
