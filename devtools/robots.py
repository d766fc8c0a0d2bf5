"""Stand-ins for the chat robots (WeCom, DingTalk, Feishu/Lark) and an SMTP server, on 127.0.0.1.

``StandinRobots`` serves the three webhook APIs from one Werkzeug server in a daemon thread (the
pattern of devtools/standin.py), answering like the real ones:

- WeCom ``POST /cgi-bin/webhook/send?key=K`` → ``{"errcode":0,"errmsg":"ok"}``; unknown key →
  93000 "invalid webhook url"; bad/empty message → 40008 / 44004.
- DingTalk ``POST /robot/send?access_token=T[&timestamp=&sign=]`` → ``{"errcode":0,"errmsg":"ok"}``;
  unknown token → 300001 "token is not exist"; with a secret a missing/wrong sign or a timestamp more
  than one hour off → 310000 "sign not match"; a keyword missing → 310000 "keywords not in content".
- Feishu ``POST /open-apis/bot/v2/hook/T`` → ``{"code":0,"msg":"success","data":{}}``; unknown token →
  19001 "param invalid: incoming webhook access token invalid"; bad sign → 19021 "sign match fail or
  timestamp is not within one hour from current time"; keyword missing → 19024 "Key Words Not Found".

``fail(fault, times=None)`` switches the next ``times`` answers (all when None): ``500`` (an HTTP
status), ``"timeout"`` (sleeps ``slow_seconds``), ``"redirect"`` (302 to ``redirect_to``);
``forced_answers`` gives platform answers such as DingTalk 410100 "send too fast" in place of success. ``received`` records every message accepted or refused,
``connections`` counts TCP connections accepted.

``StandinSMTP`` is an aiosmtpd server recording messages (``messages``: parsed ``EmailMessage``).
"""
from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import unquote

from aiosmtpd.controller import Controller
from devtools.local_server import LocalServer
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response


@dataclass
class Robot:
    platform: str
    token: str
    secret: str = ""
    keyword: str = ""


@dataclass
class Received:
    platform: str
    token: str
    body: Any
    query: dict[str, str]
    headers: dict[str, str]
    answer: dict = field(default_factory=dict)


class _Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.server.robots._connected()  # type: ignore[attr-defined]

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class StandinRobots(LocalServer):
    """WeCom + DingTalk + Feishu robot stand-in. Use as a context manager."""

    _thread_name = "standin-robots"

    def __init__(self, *, slow_seconds: float = 3.0, ssl_context: Any = None) -> None:
        self.slow_seconds = slow_seconds
        self.ssl_context = ssl_context  # (cert_file, key_file) or an SSLContext: serve HTTPS
        self.fault: int | str | None = None
        # With fault set: how many requests it hits before answering normally again (None: all).
        self.fault_times: int | None = None
        # An answer body to give (once per entry, in order) instead of checking the message, e.g.
        # {"errcode": 410100, "errmsg": "send too fast"}.
        self.forced_answers: list[dict] = []
        self.redirect_to = ""
        self.received: list[Received] = []
        self.connections = 0
        self._robots: dict[tuple[str, str], Robot] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> StandinRobots:
        self._serve(0, _Handler, self.ssl_context)
        self._server.robots = self  # type: ignore[attr-defined]
        return self

    @property
    def origin(self) -> str:
        if self._server is None:
            raise RuntimeError("StandinRobots is not started")
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_port}"

    # -- robots ------------------------------------------------------------------------------

    def add(self, platform: str, token: str, *, secret: str = "", keyword: str = "") -> str:
        """Register a robot; returns its webhook URL on this stand-in."""
        self._robots[(platform, token)] = Robot(platform, token, secret, keyword)
        return self.url(platform, token)

    def url(self, platform: str, token: str) -> str:
        if platform == "wecom":
            return f"{self.origin}/cgi-bin/webhook/send?key={token}"
        if platform == "dingtalk":
            return f"{self.origin}/robot/send?access_token={token}"
        if platform == "feishu":
            return f"{self.origin}/open-apis/bot/v2/hook/{token}"
        raise ValueError(platform)

    def accepted(self, platform: str | None = None) -> list[Received]:
        return [r for r in self.received if r.answer.get("errcode", r.answer.get("code")) == 0
                and (platform is None or r.platform == platform)]

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any):
        request = Request(environ)
        return self._dispatch(request)(environ, start_response)

    def fail(self, fault: int | str, times: int | None = None) -> None:
        """Answer the next ``times`` requests (all when None) with ``fault``: an HTTP status,
        ``"timeout"`` or ``"redirect"``."""
        self.fault, self.fault_times = fault, times

    def _take_fault(self) -> int | str | None:
        with self._lock:
            fault = self.fault
            if fault is not None and self.fault_times is not None:
                self.fault_times -= 1
                if self.fault_times <= 0:
                    self.fault, self.fault_times = None, None
            return fault

    def _dispatch(self, request: Request) -> Response:
        fault = self._take_fault()
        if fault == "timeout":
            self._stopping.wait(self.slow_seconds)
        elif fault == "redirect":
            return Response("", status=302, headers={"Location": self.redirect_to})
        elif isinstance(fault, int):
            return Response("<html>Internal Server Error</html>", status=fault, mimetype="text/html")
        if request.method != "POST":
            return Response("", status=405)
        path = request.path
        if path == "/cgi-bin/webhook/send":
            return self._wecom(request)
        if path == "/robot/send":
            return self._dingtalk(request)
        if path.startswith("/open-apis/bot/v2/hook/"):
            return self._feishu(request, unquote(path.rsplit("/", 1)[1]))
        return Response("not found", status=404)

    def _record(self, platform: str, token: str, request: Request, body: Any, answer: dict) -> Response:
        with self._lock:
            if self.forced_answers and answer.get("errcode", answer.get("code")) == 0:
                answer = self.forced_answers.pop(0)
            self.received.append(Received(platform, token, body, dict(request.args), dict(request.headers),
                                          answer))
        return Response(json.dumps(answer, ensure_ascii=False), status=200, mimetype="application/json")

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            return None

    def _wecom(self, request: Request) -> Response:
        key = request.args.get("key", "")
        body = self._body(request)
        robot = self._robots.get(("wecom", key))
        if robot is None:
            answer = {"errcode": 93000, "errmsg": "invalid webhook url, hint: [standin]"}
        elif not isinstance(body, dict) or body.get("msgtype") not in ("text", "markdown", "image", "news",
                                                                        "file", "template_card"):
            answer = {"errcode": 40008, "errmsg": "invalid message type"}
        elif not str((body.get(body["msgtype"]) or {}).get("content", "")).strip():
            answer = {"errcode": 44004, "errmsg": "empty content"}
        else:
            answer = {"errcode": 0, "errmsg": "ok"}
        return self._record("wecom", key, request, body, answer)

    def _dingtalk(self, request: Request) -> Response:
        token = request.args.get("access_token", "")
        body = self._body(request)
        robot = self._robots.get(("dingtalk", token))
        if robot is None:
            answer = {"errcode": 300001, "errmsg": "token is not exist"}
        elif robot.secret and not _dingtalk_sign_ok(robot.secret, request.args.get("timestamp", ""),
                                                    request.args.get("sign", "")):
            answer = {"errcode": 310000, "errmsg": "sign not match, more: [standin]"}
        elif robot.keyword and robot.keyword not in json.dumps(body, ensure_ascii=False):
            answer = {"errcode": 310000, "errmsg": "keywords not in content, more: [standin]"}
        elif not isinstance(body, dict) or body.get("msgtype") not in ("text", "markdown", "link",
                                                                        "actionCard", "feedCard"):
            answer = {"errcode": 40035, "errmsg": "缺少参数 json"}
        else:
            answer = {"errcode": 0, "errmsg": "ok"}
        return self._record("dingtalk", token, request, body, answer)

    def _feishu(self, request: Request, token: str) -> Response:
        body = self._body(request)
        robot = self._robots.get(("feishu", token))
        if robot is None:
            answer = {"code": 19001, "msg": "param invalid: incoming webhook access token invalid", "data": {}}
        elif robot.secret and not _feishu_sign_ok(robot.secret, body):
            answer = {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time",
                      "data": {}}
        elif robot.keyword and robot.keyword not in json.dumps(body, ensure_ascii=False):
            answer = {"code": 19024, "msg": "Key Words Not Found", "data": {}}
        elif not isinstance(body, dict) or body.get("msg_type") not in ("text", "post", "image", "share_chat",
                                                                         "interactive"):
            answer = {"code": 19002, "msg": "params error, msg_type need", "data": {}}
        else:
            answer = {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}
        return self._record("feishu", token, request, body, answer)


def _dingtalk_sign_ok(secret: str, timestamp: str, sign: str) -> bool:
    if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > 3600 * 1000:
        return False
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    # Werkzeug already URL-decoded the query parameter.
    return hmac.compare_digest(base64.b64encode(digest).decode(), sign)


def _feishu_sign_ok(secret: str, body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    timestamp, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 3600:
        return False
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), sign)


# -- SMTP ---------------------------------------------------------------------------------------

class _Recorder:
    def __init__(self, owner: StandinSMTP) -> None:
        self.owner = owner

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.owner.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.owner.messages.append(message)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StandinSMTP:
    """An aiosmtpd server on 127.0.0.1 (no TLS, no auth) recording every message."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.port = _free_port()
        self._controller = Controller(_Recorder(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> StandinSMTP:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def settings(self) -> dict[str, Any]:
        """Portal settings that send e-mail here."""
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port, "SMTP_SECURITY": "none",
                "SMTP_FROM": "alerts@portal.test", "SMTP_USER": None, "SMTP_PASSWORD": None}
