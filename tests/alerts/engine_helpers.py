"""Factories of the alert engine tests (events, delivery): shops at a chosen point of their authorization's
life, channels on the robot stand-in, sync states, and reads of what the engine stored. The fixtures are in
engine_fixtures.py (loaded with ``pytest_plugins``)."""
from datetime import timedelta

from sqlalchemy import select, update

from portal.alerts.channels import set_credentials
from portal.extensions import db
from portal.models import (AlertChannel, AlertDelivery, AlertEvent, AlertMessage, Company, OrdersSyncState,
                           ShopAssignment, User, utcnow)
from portal.orders_sync import ensure_state
from portal.passwords import hash_password
from portal.shops.services import create_shop
from tests.conftest import PASSWORD

ALL_KINDS = "auth_expiring,auth_expired,check_failed,check_recovered,sync_stopped,sync_failing"
SECRET = "SECsentinel-robot-signing-secret"
VALIDITY = 365


_counter = iter(range(1, 1_000_000))


def other_company_admin():
    user = User(company=Company(name="Company B", alert_language="en"), email="admin-b@example.com",
                display_name="Admin B", role="admin", password_hash=hash_password(PASSWORD))
    db.session.add(user)
    db.session.commit()
    return user


def member(admin, **fields):
    user = User(company_id=admin.company_id, email=f"member{next(_counter)}@example.com", display_name="Member",
                role="member", password_hash=hash_password(PASSWORD), **fields)
    db.session.add(user)
    db.session.commit()
    return user


def shop(admin, *, days_left=200, name=None, marketplaces=("ATVPDKIKX0DER",), assign=()):
    """A shop whose authorization expires `days_left` days (and one hour) from now (negative: expired)."""
    n = next(_counter)
    authorized_at = utcnow() - timedelta(days=VALIDITY - days_left, hours=-1)
    mode = "multi" if len(marketplaces) > 1 else "single"
    result = create_shop(admin, name=name or f"Shop {n}", region="NA", mode=mode,
                         marketplace_ids=list(marketplaces), seller_id=f"A{n:013d}",
                         token=f"Atzr|alerts-test-token-{n:06d}-abcdefghij", authorized_at=authorized_at)
    for user in assign:
        result.shop.assignments.append(ShopAssignment(user_id=user.id))
    db.session.commit()
    return result.shop


def channel(admin, kind="wecom", robots=None, *, name=None, events=ALL_KINDS, digest=False, secret="",
            token=None, email_to="ops@example.com", mention_assignees=True, enabled=True):
    """An alert channel of the admin's company; a robot on the stand-in for webhook kinds."""
    name = name or f"{kind} {next(_counter)}"
    row = AlertChannel(company_id=admin.company_id, name=name, name_key=name.casefold(), kind=kind, enabled=enabled,
                       events=events, digest=digest, mention_assignees=mention_assignees,
                       email_to=email_to if kind == "email" else None)
    db.session.add(row)
    db.session.flush()
    if kind != "email":
        token = token or f"robot-{row.id}"
        set_credentials(row, webhook_url=robots.add(kind, token, secret=secret), secret=secret)
    db.session.commit()
    return row


def sync_state(shop_row, **values):
    """Give the shop's seller authorization an order sync state with these values."""
    ensure_state(shop_row.authorization_id, shop_row.company_id)
    db.session.execute(update(OrdersSyncState).where(OrdersSyncState.authorization_id == shop_row.authorization_id)
                       .values(**values))
    db.session.commit()


def events(**where):
    db.session.commit()
    query = select(AlertEvent).order_by(AlertEvent.id)
    for key, value in where.items():
        query = query.where(getattr(AlertEvent, key) == value)
    return list(db.session.scalars(query))


def messages():
    db.session.commit()
    return list(db.session.scalars(select(AlertMessage).order_by(AlertMessage.id).execution_options(
        populate_existing=True)))


def deliveries():
    db.session.commit()
    return list(db.session.scalars(select(AlertDelivery).order_by(AlertDelivery.id)))
