"""Error pages and fragments that reveal nothing internal."""
from flask import Flask, render_template, request
from flask.globals import request_ctx
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

import logging

from .access import ObjectNotFound
from .audit import record_now
from .extensions import db
from .htmx import is_htmx

MESSAGES = {
    400: lambda: _("The request could not be understood. Reload the page and try again."),
    403: lambda: _("You do not have permission to do this."),
    404: lambda: _("This page does not exist, or you do not have access to it."),
    405: lambda: _("This action is not available this way."),
    413: lambda: _("What you sent is too large."),
    429: lambda: _("Too many attempts. Wait a few minutes and try again."),
    500: lambda: _("Something went wrong on our side. Nothing was changed; please try again."),
}


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
    try:
        record_now(action, **fields)
    except Exception:  # the audit must never turn a refusal into a 500
        db.session.rollback()
        logging.getLogger(__name__).exception("could not write audit event %s", action)


def register(app: Flask) -> None:
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
            email = request.form.get("email", "")[:254] if request.endpoint == "auth.login" else None
            _audit("auth.throttled", outcome="denied", user_label=email, detail=f"{request.method} {request.path}")
        if status == 429 and request.endpoint == "auth.login":
            from .auth.forms import LoginForm

            return render_template("auth/login.html", form=LoginForm(),
                                   error=MESSAGES[429]()), 429
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
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return _render(500, MESSAGES[500]())
