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
