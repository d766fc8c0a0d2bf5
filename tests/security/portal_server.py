"""A real portal under gunicorn (several worker processes) on a free 127.0.0.1 port, for the attack
tests that need more than one process or a worker that is not root."""
from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import httpx
from cryptography.fernet import Fernet

from tests.conftest import CSRF_RE, TEST_DATABASE_URL

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(app) -> str:
    """The URL of the test app's database, for another process (PostgreSQL: with its schema)."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql"):
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["options"]
        return f"{TEST_DATABASE_URL}?options={quote(options)}"
    return url


class PortalServer:
    """`with PortalServer(app, instance) as server:` serves the same database as `app`."""

    def __init__(self, app, instance: Path, *, workers: int = 2, threads: int = 4, user: str | None = None,
                 **settings):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        instance.mkdir(parents=True, exist_ok=True)
        self.log = instance / "gunicorn.log"
        # Settings of the environment that would change what is tested are dropped; `settings` may set them.
        inherited = {k: v for k, v in os.environ.items()
                     if k not in ("TRUSTED_HOSTS", "REDIS_URL", "THROTTLE_KEY_PREFIX")}
        self.env = dict(inherited, INSTANCE_PATH=str(instance), DATABASE_URL=database_url(app),
                        SECRET_KEY=app.config["SECRET_KEY"] or secrets.token_urlsafe(48),
                        TOKEN_ENC_KEYS=app.config["TOKEN_ENC_KEYS"] or Fernet.generate_key().decode(),
                        ARGON2_MEMORY_KIB="1024", ARGON2_TIME_COST="1", HTMX_SOURCE="local", LOG_LEVEL="WARNING")
        self.env.update({k: str(v) for k, v in settings.items()})
        self.args = [str(GUNICORN), "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
                     "--threads", str(threads), "--chdir", str(ROOT), "--timeout", "30", "--graceful-timeout", "2"]
        if user:
            self.args += ["--user", user, "--group", "nogroup"]
        self.args.append("wsgi:app")
        self.process = None

    def __enter__(self):
        self._log_file = open(self.log, "wb")
        self.process = subprocess.Popen(self.args, env=self.env, stdout=self._log_file, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise AssertionError("gunicorn did not start:\n" + self.log.read_text()[-3000:])

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log_file.close()

    def client(self) -> "Browser":
        return Browser(self.url)


class Browser:
    """An httpx client with its own cookies that knows the page's CSRF token."""

    def __init__(self, base: str):
        self.http = httpx.Client(base_url=base, timeout=20, headers={"Accept-Language": "en"})
        self.token = None

    def fetch_token(self, path: str = "/login") -> str:
        body = self.http.get(path).text
        match = CSRF_RE.search(body)
        assert match, body[:500]
        self.token = match.group(1) or match.group(2)
        return self.token

    def post(self, path: str, data: dict, **kwargs) -> httpx.Response:
        return self.http.post(path, data=dict(data, csrf_token=self.token), **kwargs)

    def sign_in(self, email: str, password: str) -> None:
        self.fetch_token("/login")
        response = self.post("/login", {"email": email, "password": password})
        assert response.status_code == 303, response.text[:500]
        self.fetch_token("/account/password")  # signing in starts a new session, with a new token

    def close(self):
        self.http.close()


def clean(text: str) -> str:
    return re.sub(r"\s+", " ", text)
