"""URLs: where a redirect may go, and a fast builder for the same URL with many ids (list rows)."""
from urllib.parse import urlsplit

from flask import request, url_for

# An id no real row has: the placeholder a builder is made from (an `int` route converter accepts it).
_PLACEHOLDER = 987654321987654321


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (no scheme, host, `//` or backslash tricks)."""
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ch in target for ch in "\\") or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def same_site_referrer(prefix: str) -> str | None:
    """The Referer's path and query when it is a page of this site under `prefix`, else None."""
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc != request.host or not parts.path.startswith(prefix):
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


class UrlBuilder:
    """`url_for(endpoint, **{id_arg: id})` for many ids at the cost of one url_for call.

    url_for runs once with a placeholder id; each call then puts the (integer) id in its place, so the
    URL is still exactly what url_for builds."""

    def __init__(self, endpoint: str, id_arg: str, **values):
        built = url_for(endpoint, **{id_arg: _PLACEHOLDER}, **values)
        self._head, self._tail = built.split(str(_PLACEHOLDER), 1)

    def __call__(self, object_id: int) -> str:
        return f"{self._head}{int(object_id)}{self._tail}"
