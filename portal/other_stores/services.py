"""Other stores and their manual orders: plain arguments in, flush, the view commits."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import (ORDER_SOURCE_MANUAL, ROLE_MEMBER, Order, OtherStore, OtherStoreAssignment, OtherStoreCountry,
                      User)
from ..forms import FormError, name_key
from .catalog import OTHER, default_currency

StoreError = FormError  # kept for callers; the one error class lives in portal/forms.py


def platform_key(platform: str, platform_other: str | None) -> str:
    return f"{OTHER}:{name_key(platform_other or '')}" if platform == OTHER else platform


def _check_name_free(company_id: int, key: str, name: str, exclude_id: int | None = None) -> None:
    query = select(OtherStore.id).where(OtherStore.company_id == company_id, OtherStore.platform_key == key,
                                        OtherStore.name_key == name_key(name))
    if exclude_id:
        query = query.where(OtherStore.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise FormError(_l("Your company already has a store with this name on this platform."), field="name")


def save_store(user: User, store: OtherStore | None, *, platform: str, platform_other: str | None, name: str,
               countries: list[str], url: str | None, login_name: str | None, notes: str | None,
               currency: str | None = None) -> OtherStore:
    """Create (store=None) or update a store record. A member who creates one is assigned to it.
    Without a `currency` the store's orders default to that of its first country (Shopee TW: TWD)."""
    key = platform_key(platform, platform_other)
    _check_name_free(user.company_id, key, name, exclude_id=store.id if store else None)
    created = store is None
    if created:
        store = OtherStore(company_id=user.company_id, created_by_id=user.id)
        db.session.add(store)
    store.platform, store.platform_other = platform, (platform_other if platform == OTHER else None)
    store.platform_key, store.name, store.name_key = key, name, name_key(name)
    store.url, store.login_name, store.notes = url or None, login_name or None, notes or None
    codes = list(dict.fromkeys(countries))
    store.currency = currency or default_currency(codes)
    if store.country_codes != codes:
        store.countries.clear()
        db.session.flush()
        store.countries.extend(OtherStoreCountry(country_code=code, position=i) for i, code in enumerate(codes))
    if created and user.role == ROLE_MEMBER:
        store.assignments.append(OtherStoreAssignment(user_id=user.id))
    db.session.flush()
    return store


def delete_store(store: OtherStore) -> None:
    db.session.delete(store)
    db.session.flush()


def store_orders(store: OtherStore):
    return select(Order).where(Order.other_store_id == store.id)


def delete_order(order: Order) -> None:
    db.session.delete(order)
    db.session.flush()


def save_order(user: User, store: OtherStore, order: Order | None, *, order_number: str, order_date, status: str,
               currency: str, total: Decimal, buyer_name: str | None, notes: str | None) -> Order:
    query = store_orders(store).where(Order.order_number == order_number)
    if order is not None:
        query = query.where(Order.id != order.id)
    if db.session.scalar(query.with_only_columns(Order.id)) is not None:
        raise FormError(_l("This store already has an order with this number."), field="order_number")
    if order is None:
        order = Order(company_id=store.company_id, other_store_id=store.id, source=ORDER_SOURCE_MANUAL,
                      created_by_id=user.id)
        db.session.add(order)
    order.order_number, order.order_date, order.status = order_number, order_date, status
    order.currency, order.total = currency, total
    order.buyer_name, order.notes = buyer_name or None, notes or None
    db.session.flush()
    return order

