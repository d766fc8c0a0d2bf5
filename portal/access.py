"""Who may see and do what. Every shop query starts here (see visible_shops)."""
from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import current_user

from .htmx import is_htmx


def unauthorized():
    """Not signed in: htmx callers get 401 + HX-Redirect, browsers a redirect to sign-in."""
    target = request.full_path if request.method == "GET" else None
    if target and target.endswith("?"):
        target = target[:-1]
    login_url = url_for("auth.login", next=target) if target else url_for("auth.login")
    if is_htmx():
        return "", 401, {"HX-Redirect": login_url}
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
    from sqlalchemy import select

    from .models import Shop

    query = select(Shop).where(Shop.company_id == user.company_id)
    if not user.is_admin:
        query = query.where(Shop.id.in_(_assigned_ids(user)))
    return query


def assigned_shops(user):
    """Select of the shops assigned to `user` ("My shops"), for admins and members alike."""
    from .models import Shop

    return visible_shops(user).where(Shop.id.in_(_assigned_ids(user)))


def _assigned_ids(user):
    from sqlalchemy import select

    from .models import ShopAssignment

    return select(ShopAssignment.shop_id).where(ShopAssignment.user_id == user.id)


def get_visible_shop_or_404(user, shop_id: int, *options):
    """The shop if `user` may see it, else 404 — also for ids of other companies, so existence never leaks."""
    from .extensions import db
    from .models import Shop

    shop = db.session.scalar(visible_shops(user).where(Shop.id == shop_id).options(*options))
    if shop is None:
        abort(404)
    return shop


def may_reauthorize(user, shop) -> bool:
    """Admins, and members assigned to the shop (re-authorizing happens at the shop's own computer).
    Members reach a shop only through visible_shops, i.e. only when assigned."""
    return user.is_admin or any(a.user_id == user.id for a in shop.assignments)
