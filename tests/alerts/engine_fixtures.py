"""Fixtures of the alert engine tests: the robot and SMTP stand-ins, an app that sends to them (with short
timeouts, 3 attempts, 30 s first retry), and a company (alerts in English) with its admin."""
import pytest

from devtools.robots import StandinRobots, StandinSMTP
from portal import queue
from portal.extensions import db
from portal.models import Company, User
from portal.passwords import hash_password
from tests.conftest import PASSWORD


@pytest.fixture
def robots():
    server = StandinRobots(slow_seconds=1).start()
    yield server
    server.stop()


@pytest.fixture
def smtp():
    server = StandinSMTP().start()
    yield server
    server.stop()


@pytest.fixture
def alerts_app(app_factory, robots, smtp):
    app = app_factory(ALERT_ALLOWED_HOSTS=robots.origin, ALERT_TIMEOUT_SECONDS=0.5, ALERTS_MAX_ATTEMPTS=3,
                      ALERTS_RETRY_SECONDS=30, PORTAL_BASE_URL="https://portal.example.com", **smtp.settings())
    queue.huey.storage.flush_all()
    with app.app_context():
        yield app


@pytest.fixture
def admin(alerts_app):
    user = User(company=Company(name="Acme", alert_language="en"), email="admin@example.com", display_name="Admin",
                role="admin", password_hash=hash_password(PASSWORD))
    db.session.add(user)
    db.session.commit()
    return user
