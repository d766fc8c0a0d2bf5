"""Security headers on every response."""
from flask import Flask, abort, current_app, request


def content_security_policy() -> str:
    scripts = "'self'"
    if current_app.config["HTMX_SOURCE"] != "local":
        # The exact CDN file, never the whole host: a host allow-list lets any script on it run.
        scripts += " " + current_app.config["HTMX_CDN_URL"]
    return (
        "default-src 'self'; "
        f"script-src {scripts}; "
        "style-src 'self'; "
        "img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


def _set_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config["PORTAL_HTTPS"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint != "static":
        # Pages carry CSRF tokens and company data: never cache them anywhere.
        headers["Cache-Control"] = "no-store"
        response.vary.add("HX-Request")
        response.vary.add("Cookie")
    return response


def _refuse_cross_site_writes():
    """Browsers say where a request comes from (Fetch Metadata): a write from another site is refused,
    whatever cookies it carries (one without a CSRF token is refused by the CSRF check already)."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.headers.get("Sec-Fetch-Site") == "cross-site":
        abort(403)


def _refuse_nul_characters():
    """No text field of the portal holds a NUL character, and PostgreSQL refuses to store one."""
    values = list(request.args.values())
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype != "multipart/form-data":
        values += list(request.form.values())
    if any("\x00" in value for value in values):
        abort(400)


def register(app: Flask) -> None:
    app.before_request(_refuse_nul_characters)
    app.before_request(_refuse_cross_site_writes)
    app.after_request(_set_headers)
