"""Who may see and do what. Every shop, store, order and user query of a page starts here."""
from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import false, or_, select
from werkzeug.exceptions import NotFound

from .extensions import db
from .htmx import hx_redirect, is_htmx
from .models import (ORDER_SOURCE_MANUAL, AlertChannel, AlertEvent, AlertMessage, Order, OtherStore, OtherStoreAssignment,
                     Shop, ShopAssignment, User)


class ObjectNotFound(NotFound):
    """A 404 for an id the user may not reach (or that does not exist): audited as a denial."""

    def __init__(self, object_type: str, object_id):
        super().__init__()
        self.object_type = object_type
        self.object_id = object_id


def deny(object_type: str, object_id) -> None:
    raise ObjectNotFound(object_type, object_id)


def unauthorized():
    """Not signed in: htmx callers get 401 + HX-Redirect, browsers a redirect to sign-in."""
    target = request.full_path if request.method == "GET" else None
    if target and target.endswith("?"):
        target = target[:-1]
    login_url = url_for("auth.login", next=target) if target else url_for("auth.login")
    if is_htmx():
        return hx_redirect(login_url, 401)
    return redirect(login_url)


def admin_required(view):
    """Company admins only: anonymous users are sent to sign in, members get 403."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return unauthorized()
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def visible_shops(user):
    """Select of the shops `user` may see: every shop of the company for admins, the assigned ones
    for members. Every shop list, count, search and lookup by id starts here."""
    return _scoped(user, Shop, ShopAssignment.shop_id)


def assigned_shops(user):
    """Select of the shops assigned to `user` ("My shops"), for admins and members alike."""
    return _assigned(user, Shop, ShopAssignment.shop_id)


def visible_other_stores(user):
    """Select of the other-platform stores `user` may see, by the same rule as shops."""
    return _scoped(user, OtherStore, OtherStoreAssignment.store_id)


def visible_orders(user):
    """Select of the orders `user` may see, Amazon and manual alike: every order of the company for
    admins; for members the orders of their assigned shops and assigned other stores. Every order list,
    total, export and lookup by id starts here."""
    query = select(Order).where(Order.company_id == user.company_id)
    if user.is_admin:
        return query
    return query.where(or_(Order.shop_id.in_(_assigned_ids(user, ShopAssignment.shop_id)),
                           Order.other_store_id.in_(_assigned_ids(user, OtherStoreAssignment.store_id))))


def company_users(user):
    """Select of the users of `user`'s company: every user query of the admin pages starts here."""
    return select(User).where(User.company_id == user.company_id)


def get_visible_shop_or_404(user, shop_id: int, *options):
    """The shop if `user` may see it, else 404 — also for ids of other companies, so existence never leaks."""
    return _one_or_404(visible_shops(user), Shop, shop_id, options)


def get_visible_store_or_404(user, store_id: int, *options):
    """The other store if `user` may see it, else 404."""
    return _one_or_404(visible_other_stores(user), OtherStore, store_id, options)


def get_visible_order_or_404(user, store_id: int, order_id: int, *store_options) -> tuple:
    """(store, order) when `user` may see the store and the order is one of its manual orders, else 404.
    Orders pulled from Amazon are read-only: no edit or delete route ever gets one."""
    store = get_visible_store_or_404(user, store_id, *store_options)
    order = db.session.scalar(visible_orders(user).where(Order.other_store_id == store.id, Order.id == order_id,
                                                         Order.source == ORDER_SOURCE_MANUAL))
    if order is None:
        deny("store_order", order_id)
    return store, order


def get_company_user_or_404(user, user_id: int) -> User:
    """A user of `user`'s company, else 404."""
    return _one_or_404(company_users(user), User, user_id, ())


def company_channels(user):
    """Select of the alert channels of `user`'s company: every channel list and lookup starts here."""
    return select(AlertChannel).where(AlertChannel.company_id == user.company_id)


def get_company_channel_or_404(user, channel_id: int) -> AlertChannel:
    """An alert channel of `user`'s company, else 404."""
    return _one_or_404(company_channels(user), AlertChannel, channel_id, ())


def may_reauthorize(user, shop) -> bool:
    """Admins, and members assigned to the shop (re-authorizing happens at the shop's own computer).
    Members reach a shop only through visible_shops, i.e. only when assigned."""
    return user.is_admin or any(a.user_id == user.id for a in shop.assignments)


def _scoped(user, model, assignment_fk):
    if not user.is_admin:
        return _assigned(user, model, assignment_fk)
    return select(model).where(model.company_id == user.company_id)


def _assigned(user, model, assignment_fk):
    # The user's assignments pick the rows; `company_id + 0` keeps SQLite (which has no statistics without
    # ANALYZE) from walking the whole company's index instead of looking up the few assigned ids.
    return select(model).where(model.id.in_(_assigned_ids(user, assignment_fk)),
                               (model.company_id + 0) == user.company_id)


def _assigned_ids(user, assignment_fk):
    return select(assignment_fk).where(assignment_fk.class_.user_id == user.id)


def _one_or_404(query, model, object_id: int, options):
    found = db.session.scalar(query.where(model.id == object_id).options(*options))
    if found is None:
        deny(model.__tablename__, object_id)
    return found


def visible_alert_events(user):
    """Select of the alert events (portal/alerts) about the shops `user` may see: every event of the
    company for admins, those of the assigned shops for members. Every alert list, count, action and
    lookup by id starts here.

    For admins the event's own company_id is the scope: an event is written from its shop, so both carry
    the same company, and the count stays an index-only read of ix_alert_event_company_open however many
    shops the company has. For members the assigned shop ids pick the events (ix_alert_event_shop_id);
    `company_id + 0` keeps SQLite from walking the company's index instead, as in _assigned."""
    query = select(AlertEvent)
    if user.is_admin:
        return query.where(AlertEvent.company_id == user.company_id)
    shop_ids = visible_shops(user).with_only_columns(Shop.id).order_by(None)
    return query.where(AlertEvent.shop_id.in_(shop_ids), (AlertEvent.company_id + 0) == user.company_id)


def get_visible_alert_or_404(user, event_id: int, *options):
    """The alert event if `user` may see its shop, else 404 (other companies' ids included)."""
    return _one_or_404(visible_alert_events(user), AlertEvent, event_id, options)


def company_alert_messages(user):
    """Select of the alert messages `user` may see: every message of the company for admins (a message
    names shops of the whole company), none for members. Every alert message query of a page starts here."""
    query = select(AlertMessage).where(AlertMessage.company_id == user.company_id)
    return query if user.is_admin else query.where(false())
