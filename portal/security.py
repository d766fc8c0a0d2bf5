"""Security headers on every response; request guards every route shares."""
from urllib.parse import urlsplit, urlunsplit

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


def _has_nul(texts) -> bool:
    return any("\x00" in text for text in texts if isinstance(text, str))


def _refuse_nul_characters():
    """No text field of the portal holds a NUL character, and PostgreSQL refuses to store one: refused
    for every body type (urlencoded, multipart fields and file names, JSON and any other body), in the
    query string, names and values alike."""
    args = request.args
    if _has_nul(args.keys()) or _has_nul(args.values()):
        abort(400)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form, files = request.form, request.files
        if _has_nul(form.keys()) or _has_nul(form.values()) or _has_nul(files.keys()) \
                or _has_nul(f.filename for f in files.values()):
            abort(400)
        return
    body = request.get_data(cache=True)
    if b"\x00" in body or (request.is_json and b"\\u0000" in body.lower()):
        abort(400)


def _relative_location(response):
    """A redirect never names the host the client sent (with TRUSTED_HOSTS unset, Host is anyone's
    choice): Werkzeug's slash-normalizing redirects (`//shops//1`) are absolute, so make them relative."""
    location = response.headers.get("Location")
    if location:
        parts = urlsplit(location)
        if parts.netloc and parts.netloc.lower() == request.host.lower():
            path = parts.path if parts.path.startswith("/") else "/" + parts.path
            path = "/" + path.lstrip("/")  # never "//host": that would be another site again
            response.headers["Location"] = urlunsplit(("", "", path, parts.query, parts.fragment))
    return response


def _check_cdn_url(app: Flask) -> None:
    """HTMX_CDN_URL goes into the CSP as it is: one http(s) URL, nothing that could end the directive."""
    if app.config["HTMX_SOURCE"] == "local":
        return
    url = app.config["HTMX_CDN_URL"] or ""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or any(c in url for c in " \t\r\n;,'\""):
        raise ValueError(f"HTMX_CDN_URL must be one http(s) URL of the htmx file, got {url!r}")


def register(app: Flask) -> None:
    _check_cdn_url(app)
    app.before_request(_refuse_nul_characters)
    app.before_request(_refuse_cross_site_writes)
    app.after_request(_set_headers)
    app.after_request(_relative_location)
