"""The safety layer for alert webhooks: which URLs may be called, and how.

Rules (shared/SECURITY.md, "Outbound HTTP to anything but Amazon"):

- Only the platforms' own hosts, over HTTPS on 443, unless the operator sets ``ALERT_ALLOWED_HOSTS``
  (comma-separated; it replaces the default list). A bare host (``gateway.example.com``) allows
  ``https://host:443``; an entry with a scheme and port (``http://127.0.0.1:8025``) allows exactly that
  origin, plain HTTP included.
- The host is resolved and **every** address checked before anything connects: private, loopback,
  link-local, multicast and reserved addresses are refused unless the operator listed the host in
  ``ALERT_ALLOWED_HOSTS``. The request then goes to the checked address itself (the URL's host is kept
  for the ``Host`` header and for TLS: SNI and certificate check), so a second DNS answer cannot swap
  in another address (DNS rebinding).
- No redirects followed, no proxies from the environment, no cookies, short timeouts, answer size capped.
- Never logged: the URL (its key/token is the credential) or the secret; log lines name only the
  platform and the host. The URL and its parts are handed to the log filter (`remember_secret`).
"""
from __future__ import annotations

import ipaddress
import json
import logging
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from portal.crypto import remember_secret

log = logging.getLogger(__name__)

DEFAULT_HOSTS: tuple[str, ...] = ("qyapi.weixin.qq.com", "oapi.dingtalk.com", "open.feishu.cn",
                                  "open.larksuite.com")
DEFAULT_TIMEOUT = 5.0
MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "ShopPortal-Alerts/1.0"

Resolver = Callable[[str, int], Sequence[str]]


class OutboundRefused(Exception):
    """The URL may not be called; ``reason`` is a short code (never the URL): ``bad_url``,
    ``scheme``, ``host_not_allowed``, ``unresolvable``, ``private_address``."""

    def __init__(self, reason: str, host: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.host = host


@dataclass(frozen=True)
class AllowedOrigin:
    scheme: str
    host: str
    port: int
    private_ok: bool  # listed by the operator: may resolve to private/loopback addresses


@dataclass(frozen=True)
class AllowList:
    origins: tuple[AllowedOrigin, ...]

    @classmethod
    def parse(cls, value: str | Sequence[str] | None) -> AllowList:
        """The default platform hosts when ``value`` is empty; otherwise the operator's entries."""
        entries = value.split(",") if isinstance(value, str) else list(value or ())
        entries = [entry.strip() for entry in entries if entry and entry.strip()]
        if not entries:
            return cls(tuple(AllowedOrigin("https", host, 443, False) for host in DEFAULT_HOSTS))
        return cls(tuple(_parse_entry(entry) for entry in entries))

    def match(self, scheme: str, host: str, port: int) -> AllowedOrigin | None:
        for origin in self.origins:
            if (origin.scheme, origin.host, origin.port) == (scheme, host, port):
                return origin
        return None


def _parse_entry(entry: str) -> AllowedOrigin:
    if "://" not in entry:
        return AllowedOrigin("https", _norm_host(entry), 443, True)
    parts = urlsplit(entry)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"ALERT_ALLOWED_HOSTS: {entry!r} is not a host or an http(s) origin")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return AllowedOrigin(parts.scheme, _norm_host(parts.hostname), port, True)


def _norm_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class OutboundSettings:
    allow: AllowList
    timeout: float = DEFAULT_TIMEOUT
    ca_bundle: str | None = None  # ALERT_CA_BUNDLE: a PEM file of CAs for an on-premise gateway

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OutboundSettings:
        timeout = config.get("ALERT_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT
        return cls(allow=AllowList.parse(config.get("ALERT_ALLOWED_HOSTS")), timeout=float(timeout),
                   ca_bundle=config.get("ALERT_CA_BUNDLE") or None)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and what to say (``host``)."""

    scheme: str
    host: str
    port: int
    address: str
    path_and_query: str

    @property
    def connect_url(self) -> str:
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{address}:{self.port}{self.path_and_query}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    location: str | None = None

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class Timeout(Exception):
    """No answer within ALERT_TIMEOUT_SECONDS."""


class ConnectFailed(Exception):
    """The checked address did not accept the connection."""


class TlsFailed(ConnectFailed):
    """The certificate did not verify for the URL's host name."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url: str, settings: OutboundSettings, resolver: Resolver = system_resolver) -> Target:
    """Check ``url`` against the allow-list and resolve it; raise :class:`OutboundRefused` or return
    the address to connect to. Nothing connects here."""
    remember_url(url)
    url = url.strip()
    if not url or len(url) > 2048 or any(char <= " " or char > "~" for char in url):
        raise OutboundRefused("bad_url")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundRefused("bad_url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise OutboundRefused("bad_url" if parts.scheme in ("http", "https") else "scheme")
    host = _norm_host(parts.hostname)
    origin = settings.allow.match(parts.scheme, host, port)
    if origin is None:
        raise OutboundRefused("scheme" if parts.scheme == "http" and
                              settings.allow.match("https", host, 443) else "host_not_allowed", host)
    try:
        addresses = list(resolver(host, port))
    except (OSError, UnicodeError):
        raise OutboundRefused("unresolvable", host) from None
    if not addresses:
        raise OutboundRefused("unresolvable", host)
    if not origin.private_ok and any(_blocked(address) for address in addresses):
        raise OutboundRefused("private_address", host)
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return Target(parts.scheme, host, port, addresses[0], path + query)


def remember_url(url: str) -> None:
    """Hand the URL, its path segments and query values to the log filter (they are credentials)."""
    remember_secret(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    for segment in parts.path.split("/"):
        if len(segment) >= 16:
            remember_secret(segment)
    for _, value in parse_qsl(parts.query):
        remember_secret(value)
    for pair in parts.query.split("&"):  # the encoded form too (a sign with %2B…)
        remember_secret(pair.partition("=")[2])


def post_json(target: Target, payload: Any, timeout: float, ca_bundle: str | None = None) -> HttpAnswer:
    """POST ``payload`` as JSON to the checked address; redirects are returned, never followed.

    The request goes straight to an ``httpx.HTTPTransport`` (no ``httpx.Client``): nothing follows
    redirects, keeps cookies or reads proxy settings, and no log line carries the URL (httpx's client
    logs every request URL at INFO; the transport's own debug lines name only address and port).
    The TLS certificate is checked against the URL's host name (SNI), not the address.
    Raises :class:`Timeout`, :class:`TlsFailed` or :class:`ConnectFailed`; any HTTP status is an
    :class:`HttpAnswer`."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    remember_secret(target.connect_url)
    headers = {"Host": target.host_header, "Content-Type": "application/json; charset=utf-8",
               "User-Agent": USER_AGENT, "Accept": "application/json", "Connection": "close"}
    extensions: dict[str, Any] = {"timeout": httpx.Timeout(timeout).as_dict()}
    if target.scheme == "https":
        extensions["sni_hostname"] = target.host
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
    request = httpx.Request("POST", target.connect_url, content=body, headers=headers, extensions=extensions)
    with httpx.HTTPTransport(verify=verify, trust_env=False, retries=0) as transport:
        try:
            response = transport.handle_request(request)
            try:
                data = b""
                for chunk in response.iter_raw():
                    data += chunk
                    if len(data) > MAX_ANSWER_BYTES:
                        data = data[:MAX_ANSWER_BYTES]
                        break
                return HttpAnswer(response.status_code, data, response.headers.get("location"))
            finally:
                response.close()
        except httpx.TimeoutException:
            raise Timeout() from None
        except httpx.TransportError as error:
            if (isinstance(error.__context__, ssl.SSLCertVerificationError)
                    or "CERTIFICATE_VERIFY_FAILED" in str(error)):
                raise TlsFailed() from None
            raise ConnectFailed(type(error).__name__) from None
