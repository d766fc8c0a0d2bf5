"""The serving ceiling: a WSGI app that answers every request with the saved bytes of a Shop list
page (BENCH_STATIC_FILE), served by the same gunicorn settings as the portal."""
import os
from pathlib import Path

_BODY = Path(os.environ["BENCH_STATIC_FILE"]).read_bytes() if os.environ.get("BENCH_STATIC_FILE") else b""
_HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(_BODY))),
            ("Cache-Control", "no-store")]


def app(environ, start_response):
    start_response("200 OK", list(_HEADERS))
    return [_BODY]
