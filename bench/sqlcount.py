"""SQL statements per request, counted in-process with the Flask test client against the benchmark
database (a SQLAlchemy `before_cursor_execute` listener, as in tests/test_shop_queries.py).

Each page is requested once to warm up (caches, the throttle claim of the verify row) and then once
more while counting; transaction control (BEGIN/COMMIT/ROLLBACK/SAVEPOINT/PRAGMA) is not counted.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import event

CSRF_FORM_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CSRF_HX_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')
NOT_COUNTED = ("BEGIN", "PRAGMA", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
BROWSER_HEADERS = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8", "Accept": "text/html,application/xhtml+xml"}


@dataclass
class Statement:
    sql: str
    ms: float


class StatementCounter:
    def __init__(self, engine):
        self.engine = engine
        self.statements: list[Statement] = []
        self._started: list[float] = []

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._started.append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        began = self._started.pop() if self._started else time.perf_counter()
        if not statement.lstrip().upper().startswith(NOT_COUNTED):
            self.statements.append(Statement(" ".join(statement.split()), (time.perf_counter() - began) * 1000))

    def __enter__(self):
        self.statements.clear()
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc_info):
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


def sign_in(client, email: str, password: str, landing: str) -> str:
    """Sign in through the real form; returns the CSRF token htmx would send (X-CSRFToken)."""
    page = client.get("/login", headers=BROWSER_HEADERS)
    token = CSRF_FORM_RE.search(page.get_data(as_text=True)).group(1)
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                           headers=BROWSER_HEADERS)
    if response.status_code != 303:
        raise RuntimeError(f"in-process sign-in as {email} failed: HTTP {response.status_code}")
    landing_page = client.get(landing, headers=BROWSER_HEADERS)
    return CSRF_HX_RE.search(landing_page.get_data(as_text=True)).group(1)


def count_requests(app, engine, pages: list[dict], clients: dict, repeat: int = 0) -> dict[str, dict]:
    """pages: dicts with key, method, path, headers, form, user ("admin", "member", None).

    With `repeat`, the page is then requested that many more times to time it in-process (no HTTP, no
    concurrency): CPU and wall milliseconds per request, and the part spent executing SQL."""
    results = {}
    for page in pages:
        client = clients[page.get("user")]
        headers = {**BROWSER_HEADERS, **(page.get("headers") or {})}
        if page.get("csrf_header") and page.get("user"):
            headers["X-CSRFToken"] = clients[page["user"] + ":csrf"]
        form = dict(page.get("form") or {})
        if "csrf_token" in form and page.get("user"):
            form["csrf_token"] = clients[page["user"] + ":csrf"]

        def call():
            if page.get("method", "GET") == "POST":
                return client.post(page["path"], data=form, headers=headers)
            return client.get(page["path"], headers=headers)

        with StatementCounter(engine) as first:
            started = time.perf_counter()
            warm = call()
            first_ms = (time.perf_counter() - started) * 1000
            first_statements = list(first.statements)
        with StatementCounter(engine) as counted:
            started = time.perf_counter()
            response = call()
            elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != page.get("expect", 200):
            raise RuntimeError(f"in-process {page['key']}: HTTP {response.status_code} (warm-up {warm.status_code})")
        timing = {}
        if repeat:
            with StatementCounter(engine) as timed:
                cpu, wall = time.process_time(), time.perf_counter()
                for _ in range(repeat):
                    call()
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            timing = {"inprocess_cpu_ms": round(cpu * 1000 / repeat, 2),
                      "inprocess_wall_ms": round(wall * 1000 / repeat, 2),
                      "inprocess_sql_ms": round(sum(s.ms for s in timed.statements) / repeat, 2)}
        statements = counted.statements
        slowest = max(statements, key=lambda s: s.ms, default=None)
        results[page["key"]] = {
            "statements": len(statements),
            "first_call_statements": len(first_statements),
            "first_call_ms": round(first_ms, 2),
            "request_ms": round(elapsed, 2),
            "sql_ms": round(sum(s.ms for s in statements), 2),
            "bytes": len(response.get_data()),
            "slowest_sql_ms": round(slowest.ms, 2) if slowest else None,
            "slowest_sql": slowest.sql[:400] if slowest else None,
            **timing,
            "sql": [{"ms": round(s.ms, 2), "sql": s.sql[:300]} for s in statements],
        }
    return results
