"""Fixtures: a fresh real database per test (SQLite file, or PostgreSQL via TEST_DATABASE_URL),
the test client with CSRF switched ON, and callable factories."""
import os
import re
import secrets
import uuid

import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from config import Config

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')
FAST_HASH = "scrypt:1024:8:1"  # tests only; the production cost is asserted in test_auth.py
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def pg_schema():
    """One PostgreSQL schema per test run, so parallel runs on one server never collide."""
    if not TEST_DATABASE_URL:
        yield None
        return
    schema = f"t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    engine = create_engine(TEST_DATABASE_URL)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield schema
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def make_config(tmp_path, pg_schema, **overrides):
    attrs = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "TOKEN_ENC_KEYS": Fernet.generate_key().decode(),
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "HTMX_SOURCE": "local",
        "SERVER_NAME": None,
    }
    if pg_schema:
        attrs["SQLALCHEMY_DATABASE_URI"] = TEST_DATABASE_URL
        attrs["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"options": f"-csearch_path={pg_schema}"}}
    else:
        attrs["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'portal.db'}"
    attrs.update(overrides)
    return type("TestConfig", (Config,), attrs)


class PortalClient(FlaskClient):
    """The test client, with CSRF on: `post()` adds a real token taken from a rendered page.
    It asks for English pages unless a test sets another Accept-Language."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.environ_base.setdefault("HTTP_ACCEPT_LANGUAGE", "en")

    def csrf_token(self) -> str:
        for path in ("/account/password", "/login", "/setup"):
            response = self.get(path)
            match = CSRF_RE.search(response.get_data(as_text=True))
            if match:
                return match.group(1) or match.group(2)
        raise AssertionError("no page rendered a CSRF token")

    def open(self, *args, **kwargs):
        # Each request gets its own app context (fresh `g` and database session), as in production,
        # even while the test itself holds one; the test's session then sees what the request committed.
        from portal.extensions import db

        from flask import has_app_context

        with self.application.app_context():
            response = super().open(*args, **kwargs)
        if has_app_context():
            db.session.commit()
        return response

    def post(self, *args, csrf=True, **kwargs):
        if csrf:
            data = dict(kwargs.pop("data", None) or {})
            data.setdefault("csrf_token", self.csrf_token())
            kwargs["data"] = data
        return super().post(*args, **kwargs)


@pytest.fixture
def app_factory(tmp_path, pg_schema):
    """Build an app with config overrides; its database is created empty and dropped afterwards."""
    from portal import create_app
    from portal.extensions import db

    apps = []

    def build(**overrides):
        app = create_app(make_config(tmp_path, pg_schema, **overrides))
        app.test_client_class = PortalClient
        with app.app_context():
            db.drop_all()
            db.create_all()
        apps.append(app)
        return app

    yield build
    for app in apps:
        client = app.extensions.get("portal_amazon_client")
        if client is not None:
            client.close()
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()



@pytest.fixture
def standin():
    """A stand-in Amazon on 127.0.0.1 (its "slow" scenario answers after 3 s). Modules that need
    other sellers or settings define their own."""
    from devtools.standin import StandinAmazon

    server = StandinAmazon(slow_seconds=3).start()
    yield server
    server.stop()


@pytest.fixture
def amazon_app(app_factory, standin):
    """An app that talks to the stand-in Amazon, with short timeouts; the test runs in its app context."""
    app = app_factory(
        **standin.portal_settings(),
        AMAZON_READ_TIMEOUT=0.5, AMAZON_CONNECT_TIMEOUT=0.5, AMAZON_MAX_TOTAL_WAIT=1.5, AMAZON_BACKOFF_BASE=0.05,
        AMAZON_MAX_TOTAL_TIME=4)
    with app.app_context():
        yield app


@pytest.fixture
def people(amazon_app):
    """Company Acme with an admin (admin@example.com) and a member (member@example.com)."""
    from portal.extensions import db
    from portal.models import Company, User
    from portal.passwords import hash_password

    company = Company(name="Acme")
    users = [User(company=company, email=f"{role}@example.com", display_name=role.title(), role=role,
                  password_hash=hash_password(PASSWORD)) for role in ("admin", "member")]
    db.session.add_all(users)
    db.session.commit()
    return users


@pytest.fixture
def app(app_factory):
    app = app_factory()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_company(app):
    from portal.extensions import db
    from portal.models import Company

    def make(name="Acme Trading"):
        company = Company(name=name)
        db.session.add(company)
        db.session.commit()
        return company

    return make


@pytest.fixture
def make_user(app, make_company):
    from portal.passwords import hash_password
    from portal.extensions import db
    from portal.models import User

    counter = iter(range(1, 10_000))

    def make(company=None, role="member", email=None, password=PASSWORD, name=None, **fields):
        company = company or make_company()
        n = next(counter)
        user = User(company=company, role=role, email=email or f"user{n}@example.com",
                    display_name=name or f"User {n}", password_hash=hash_password(password), **fields)
        db.session.add(user)
        db.session.commit()
        return user

    return make


@pytest.fixture
def login():
    def do(client, user_or_email, password=PASSWORD, **kwargs):
        email = getattr(user_or_email, "email", user_or_email)
        response = client.post("/login", data={"email": email, "password": password}, **kwargs)
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        return response

    return do


@pytest.fixture
def company_a(make_company):
    return make_company("Company A")


@pytest.fixture
def admin_a(make_user, company_a):
    return make_user(company_a, role="admin", email="admin-a@example.com", name="Admin A")


@pytest.fixture
def member_a(make_user, company_a):
    return make_user(company_a, role="member", email="member-a@example.com", name="Member A")


@pytest.fixture
def admin_b(make_user, make_company):
    return make_user(make_company("Company B"), role="admin", email="admin-b@example.com", name="Admin B")


@pytest.fixture
def make_shop(app):
    """Bind a shop through the real service (token encrypted as in production)."""
    from portal.extensions import db
    from portal.shops.services import create_shop

    counter = iter(range(1, 10_000))

    def make(creator, name=None, region="NA", marketplaces=("ATVPDKIKX0DER",), seller_id=None,
             token=None, assign=()):
        n = next(counter)
        mode = "multi" if len(marketplaces) > 1 else "single"
        result = create_shop(creator, name=name or f"Shop {n}", region=region, mode=mode,
                             marketplace_ids=list(marketplaces), seller_id=seller_id or f"A{n:012d}",
                             token=token or f"Atzr|test-refresh-token-{n:04d}-abcdefghijklmnop")
        for user in assign:
            from portal.models import ShopAssignment

            result.shop.assignments.append(ShopAssignment(user_id=user.id))
        db.session.commit()
        return result.shop

    return make
