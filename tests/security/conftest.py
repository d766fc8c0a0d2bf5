"""Fixtures of the attack suite: a stand-in Amazon on loopback, and a module-wide app + world.

The access matrix and the CSRF walk make hundreds of requests against the same cast of users; they
share one app and database per module (in its own PostgreSQL schema when TEST_DATABASE_URL is set,
so it never collides with the per-test databases of tests/conftest.py). Every request that a test
judges gets fresh target objects, so what one case changes cannot decide another case.
"""
import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from devtools.standin import StandinAmazon
from tests.conftest import TEST_DATABASE_URL, PortalClient, make_config
from tests.security import helpers


@pytest.fixture
def standin():
    with StandinAmazon() as server:
        yield server


@pytest.fixture(scope="module")
def module_standin():
    with StandinAmazon() as server:
        yield server


@pytest.fixture(scope="module")
def module_app(tmp_path_factory, module_standin):
    """One app and database for a whole module, with generous sign-in limits (no test here is about them)."""
    from portal import create_app
    from portal.extensions import db

    schema = None
    engine = None
    if TEST_DATABASE_URL:
        schema = f"sec_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        engine = create_engine(TEST_DATABASE_URL)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    # Every refusal audited (AUDIT_SAMPLE_SECONDS=0): the matrix judges the audit row of each refusal.
    config = make_config(tmp_path_factory.mktemp("module"), schema, LOGIN_LIMIT_PER_IP="100000 per minute",
                         LOGIN_LIMIT_PER_ACCOUNT="100000 per minute", AUDIT_SAMPLE_SECONDS=0,
                         **helpers.amazon_settings(module_standin))
    app = create_app(config)
    app.test_client_class = PortalClient
    with app.app_context():
        db.drop_all()
        db.create_all()
        yield app
        client = app.extensions.pop("portal_amazon_client", None)
        if client is not None:
            client.close()
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    if engine is not None:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="module")
def world(module_app):
    """Company A (admin, member with the targets, member without them) and company B (admin, member)."""
    return helpers.World.build(module_app)
