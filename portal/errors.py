"""Error pages and fragments that reveal nothing internal."""
import logging

from flask import Flask, current_app, g, has_request_context, render_template, request
from flask.globals import request_ctx
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from .access import ObjectNotFound
from .audit import record
from .extensions import db
from .htmx import is_htmx
from .throttle import hit


MESSAGES = {
    400: lambda: _("The request could not be understood. Reload the page and try again."),
    403: lambda: _("You do not have permission to do this."),
    404: lambda: _("This page does not exist, or you do not have access to it."),
    405: lambda: _("This action is not available this way."),
    413: lambda: _("What you sent is too large."),
    429: lambda: _("Too many attempts. Wait a few minutes and try again."),
    500: lambda: _("Something went wrong on our side. Nothing was changed; please try again."),
    503: lambda: _("The database cannot save changes at the moment. Nothing was changed; please try again "
                   "in a minute."),
}
# When the request had already saved its change before it failed, "Nothing was changed" would be false.
AFTER_SAVE = lambda: _("Something went wrong on our side after your change was saved. Reload the page to "  # noqa: E731
                       "see the current state before you try again.")


def _render(status: int, message: str):
    if request_ctx.url_adapter is None:  # an untrusted Host header: no page can be built for it
        return message, status, {"Content-Type": "text/plain; charset=utf-8"}
    if is_htmx():
        # htmx swaps error answers (see htmx-config) into the page's message area, not the target.
        headers = {"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"}
        return render_template("errors/_fragment.html", status=status, message=message), status, headers
    return render_template("errors/page.html", status=status, message=message), status


def _audit(action: str, **fields) -> None:
    """Audit a refusal; the request's own work is dropped first (a refused request saves nothing)."""
    if request_ctx.url_adapter is None:
        return
    fields.setdefault("outcome", "denied")
    audit_refusal(action, **fields)


def audit_refusal(action: str, *, outcome: str = "denied", **fields) -> None:
    """Record a refusal on its own (the request's work is rolled back first). Anonymous callers are
    sampled: the first refusal per address and action in AUDIT_SAMPLE_SECONDS is written, the others
    only counted (throttle_counter, key "audit:<action>:<address>"), so anonymous traffic cannot grow
    the audit table without bound."""
    window = current_app.config["AUDIT_SAMPLE_SECONDS"]
    try:
        db.session.rollback()
        if window > 0 and not current_user.is_authenticated:
            key = f"audit:{action}:{request.remote_addr or '?'}"
            if hit(key, window) > 1:
                db.session.commit()
                return
        record(action, outcome=outcome, **fields)
        db.session.commit()
    except Exception:  # the audit must never turn a refusal into a 500
        db.session.rollback()
        logging.getLogger(__name__).exception("could not write audit event %s", action)


def _flushed(_session, _context):
    if has_request_context():
        g.portal_flushed = True


def _committed(_session):
    if has_request_context() and g.get("portal_flushed"):
        g.portal_saved = True


def _rolled_back(_session):
    if has_request_context():
        g.portal_flushed = False


def _track_commits() -> None:
    """Remember in `g` whether this request already committed a change (for an honest 500 message)."""
    for name, listener in (("after_flush", _flushed), ("after_commit", _committed),
                           ("after_rollback", _rolled_back)):
        if not event.contains(db.session, name, listener):  # one session for every app of the process
            event.listen(db.session, name, listener)


def database_unavailable(error: Exception) -> bool:
    """A database that refuses writes or lost its connection: a temporary condition, not a bug."""
    if not isinstance(error, DBAPIError):
        return False
    text = str(getattr(error, "orig", error)).lower()
    return bool(error.connection_invalidated) or "readonly database" in text or "read-only" in text \
        or "database is locked" in text


def register(app: Flask) -> None:
    _track_commits()

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        app.logger.warning("CSRF refused: %s", error.description)
        _audit("security.csrf_failed", outcome="denied", detail=error.description)
        return _render(400, _("This form has expired or was not sent by the portal. Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        if isinstance(error, ObjectNotFound):
            _audit("access.denied", outcome="denied", object_type=error.object_type, object_id=error.object_id,
                   detail=f"{request.method} {request.path}")
        elif status == 403 and request.headers.get("Sec-Fetch-Site") == "cross-site":
            _audit("security.cross_site", outcome="denied", detail=f"{request.method} {request.path}")
        elif status == 403:
            _audit("access.forbidden", outcome="denied", detail=f"{request.method} {request.path}")
        elif status == 429:
            _audit("auth.throttled", outcome="denied", detail=f"{request.method} {request.path}")
        message = MESSAGES.get(status, lambda: error.name)()
        body, code, *headers = _render(status, message)
        extra = dict(headers[0]) if headers else {}
        allow = dict(error.get_headers()).get("Allow")
        if allow:
            extra["Allow"] = allow
        return body, code, extra

    @app.errorhandler(Exception)
    def server_error(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        db.session.rollback()
        saved = g.get("portal_saved", False)
        if database_unavailable(error):
            app.logger.error("Database unavailable on %s %s: %s", request.method, request.path,
                             getattr(error, "orig", error))
            return _render(503, AFTER_SAVE() if saved else MESSAGES[503]())
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return _render(500, AFTER_SAVE() if saved else MESSAGES[500]())
