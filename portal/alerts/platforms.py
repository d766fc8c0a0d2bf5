"""One sender per platform: ``send(channel, message) -> DeliveryResult``.

- WeCom group robot: ``markdown`` (mentions as ``<@userid>`` in the text). WeCom's markdown has no
  mobile mentions (``mentioned_mobile_list`` exists only for ``text``), so a message that must mention
  a mobile number goes as ``text`` with ``mentioned_list`` / ``mentioned_mobile_list``.
- DingTalk custom robot: ``markdown`` with ``at.atMobiles`` / ``at.atUserIds``; DingTalk only renders
  the mention when ``@<mobile>``/``@<userid>`` also appears in the text, so it is appended. With a
  secret: ``timestamp`` (ms) and ``sign`` as query parameters.
- Feishu/Lark custom bot: an interactive card (header, ``lark_md`` text with ``<at id=…></at>`` for
  user/open ids, a button to the portal). Custom bots cannot mention by mobile number: those are
  skipped. With a secret: ``timestamp`` (s) and ``sign`` in the body.
- E-mail: multipart/alternative (plain text + HTML) over SMTP (``SMTP_SECURITY`` starttls|ssl|none).

The platform's own answer (``errcode``/``code`` in a 200) is read: ``ok`` only on code 0. Timeouts,
connection failures, 5xx and the platforms' "busy"/rate-limit codes are ``retryable``; 4xx, redirects,
bad key, bad sign, missing keyword etc. are not (the key or the robot's settings must change first).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlencode

from flask import current_app

from portal.alerts.messages import AlertMessage
from portal.alerts.outbound import (
    ConnectFailed,
    HttpAnswer,
    OutboundRefused,
    OutboundSettings,
    Resolver,
    Timeout,
    TlsFailed,
    check_url,
    post_json,
    system_resolver,
)
from portal.crypto import remember_secret

log = logging.getLogger(__name__)

KINDS = ("wecom", "dingtalk", "feishu", "email")
_MOBILE = re.compile(r"^\+?[0-9][0-9 -]{5,18}$")
# Platform codes that mean "busy / too many messages, try again later".
RETRYABLE_CODES = {
    "wecom": {-1, 45009},
    "dingtalk": {-1, 410100, 130101},
    "feishu": {9499, 11232, 11233},
}
WECOM_MARKDOWN_MAX = 4096  # bytes
WECOM_TEXT_MAX = 2048
DINGTALK_MAX = 18000
_SAFE_MESSAGE_LEN = 200


@dataclass(frozen=True)
class ChannelConfig:
    """A channel, decrypted: ``webhook_url`` and ``secret`` are credentials (never log them)."""

    kind: str
    webhook_url: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    email_to: Sequence[str] | str = ()
    mentions: Sequence[str] = ()

    def recipients(self) -> list[str]:
        values = self.email_to.split(",") if isinstance(self.email_to, str) else list(self.email_to)
        return [value.strip() for value in values if value and value.strip()]


@dataclass(frozen=True)
class DeliveryResult:
    """``platform_code``: the platform's errcode/code, the HTTP status, or the SMTP reply code (None when
    no answer came). ``detail``: a short code of ours (``sent``, ``platform_error``, ``http_error``,
    ``timeout``, ``connect_failed``, ``redirect_refused``, ``bad_answer``, refused reasons of
    :class:`~portal.alerts.outbound.OutboundRefused`, ``smtp_*``, ``not_configured``)."""

    ok: bool
    platform_code: int | None = None
    platform_message: str = ""
    retryable: bool = False
    detail: str = ""

    def summary(self) -> str:
        """One line for the UI/Jobs page, e.g. ``310000 sign not match (platform_error, not retryable)``."""
        head = " ".join(str(part) for part in (self.platform_code, self.platform_message) if part not in (None, ""))
        tail = f"{self.detail}, {'retryable' if self.retryable else 'not retryable'}"
        return f"{head} ({tail})" if head else tail


_USER_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def split_mentions(mentions: Sequence[str]) -> tuple[list[str], list[str]]:
    """(mobiles, user ids): a mention that looks like a phone number is a mobile. Anything else that is
    not a plain id, and "all" (which would mention everyone), is dropped."""
    mobiles, ids = [], []
    for mention in mentions:
        value = (mention or "").strip()
        if _MOBILE.match(value):
            mobiles.append(re.sub(r"[ -]", "", value))
        elif _USER_ID.match(value) and value.lstrip("@").lower() != "all":
            ids.append(value)
    return list(dict.fromkeys(mobiles)), list(dict.fromkeys(ids))


# -- signing ------------------------------------------------------------------------------------

def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk: base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}")) (not yet URL-encoded)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark: base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


# -- message bodies -----------------------------------------------------------------------------

_MARK = {"danger": "🔴", "warning": "🟠", "ok": "🟢"}


def _clip(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit - 3].decode("utf-8", "ignore") + "..."


# User text (shop names) must not become markup: no tags (WeCom <@all>, Feishu <at id=all>), no links.
# Backslash escapes are not understood by every platform, so these become their full-width forms.
_NEUTRAL = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］", "`": "｀"})


def _md_escape(text: str) -> str:
    return text.translate(_NEUTRAL)


def wecom_payload(message: AlertMessage, mentions: Sequence[str]) -> dict:
    mobiles, ids = split_mentions(mentions)
    if mobiles:
        return {"msgtype": "text", "text": {"content": _clip(message.plain_text(), WECOM_TEXT_MAX),
                                            "mentioned_list": ids, "mentioned_mobile_list": mobiles}}
    lines = [f"### {_MARK.get(message.severity, '')} {_md_escape(message.title)}".replace("###  ", "### ")]
    lines += [f"> {_md_escape(line)}" for line in message.lines]
    if message.link:
        lines.append(f"[{_md_escape(message.link_text or message.link)}]({message.link})")
    if ids:
        lines.append(" ".join(f"<@{user_id}>" for user_id in ids))
    return {"msgtype": "markdown", "markdown": {"content": _clip("\n".join(lines), WECOM_MARKDOWN_MAX)}}


def dingtalk_payload(message: AlertMessage, mentions: Sequence[str]) -> dict:
    mobiles, ids = split_mentions(mentions)
    lines = [f"### {_md_escape(message.title)}", ""]
    lines += [f"- {_md_escape(line)}" for line in message.lines]
    if message.link:
        lines += ["", f"[{_md_escape(message.link_text or message.link)}]({message.link})"]
    if mobiles or ids:
        lines += ["", " ".join(f"@{who}" for who in [*mobiles, *ids])]
    return {"msgtype": "markdown",
            "markdown": {"title": message.title[:64], "text": _clip("\n".join(lines), DINGTALK_MAX)},
            "at": {"atMobiles": mobiles, "atUserIds": ids, "isAtAll": False}}


_FEISHU_TEMPLATE = {"danger": "red", "warning": "orange", "ok": "green"}


def feishu_payload(message: AlertMessage, mentions: Sequence[str]) -> dict:
    _, ids = split_mentions(mentions)
    text = "\n".join(_md_escape(line) for line in message.lines)
    if ids:
        text += "\n" + " ".join(f"<at id={user_id}></at>" for user_id in ids)
    elements: list[dict] = [{"tag": "div", "text": {"tag": "lark_md", "content": text}}]
    if message.link:
        elements.append({"tag": "action", "actions": [{
            "tag": "button", "type": "primary", "url": message.link,
            "text": {"tag": "plain_text", "content": message.link_text or message.link}}]})
    return {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"template": _FEISHU_TEMPLATE.get(message.severity, "blue"),
                   "title": {"tag": "plain_text", "content": message.title}},
        "elements": elements}}


def email_message(message: AlertMessage, sender: str, recipients: Sequence[str]) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.title
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip(">") or "localhost")
    mail.set_content(message.plain_text())
    items = "".join(f"<li>{html.escape(line)}</li>" for line in message.lines)
    link = (f'<p><a href="{html.escape(message.link, quote=True)}">'
            f"{html.escape(message.link_text or message.link)}</a></p>") if message.link else ""
    mail.add_alternative(f"<!doctype html><html><body><h2>{html.escape(message.title)}</h2>"
                         f"<ul>{items}</ul>{link}</body></html>", subtype="html")
    return mail


# -- reading answers -----------------------------------------------------------------------------

def _safe_text(value: Any) -> str:
    return re.sub(r"[\r\n\t]+", " ", str(value or ""))[:_SAFE_MESSAGE_LEN]


def read_answer(kind: str, answer: HttpAnswer) -> DeliveryResult:
    """Turn a platform's HTTP answer into a :class:`DeliveryResult`."""
    if 300 <= answer.status < 400:
        return DeliveryResult(False, answer.status, "", False, "redirect_refused")
    try:
        body = answer.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    code, text = _platform_code(kind, body)
    if answer.status >= 500 or answer.status == 429:
        return DeliveryResult(False, code if code is not None else answer.status, text or "", True,
                              "http_error")
    if answer.status >= 400 and code is None:
        return DeliveryResult(False, answer.status, "", False, "http_error")
    if code is None:
        return DeliveryResult(False, answer.status, "", answer.status >= 500, "bad_answer")
    if code == 0:
        return DeliveryResult(True, 0, text, False, "sent")
    return DeliveryResult(False, code, text, code in RETRYABLE_CODES.get(kind, set()), "platform_error")


def _platform_code(kind: str, body: Any) -> tuple[int | None, str]:
    if not isinstance(body, dict):
        return None, ""
    for code_key, text_key in (("errcode", "errmsg"), ("code", "msg"), ("StatusCode", "StatusMessage")):
        value = body.get(code_key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value, _safe_text(body.get(text_key))
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,9}", value):
            return int(value), _safe_text(body.get(text_key))
    return None, ""


# -- senders --------------------------------------------------------------------------------------

def _post(kind: str, url: str, payload: dict, settings: OutboundSettings, resolver: Resolver) -> DeliveryResult:
    try:
        target = check_url(url, settings, resolver)
    except OutboundRefused as refused:
        log.warning("alert via %s refused before connecting (%s, host %s)", kind, refused.reason,
                    refused.host or "-")
        # A name that does not resolve now may resolve later; every other refusal needs a new URL/setting.
        return DeliveryResult(False, None, "", refused.reason == "unresolvable", refused.reason)
    try:
        answer = post_json(target, payload, settings.timeout, settings.ca_bundle)
    except Timeout:
        result = DeliveryResult(False, None, "", True, "timeout")
    except TlsFailed:
        result = DeliveryResult(False, None, "", False, "tls_failed")
    except ConnectFailed:
        result = DeliveryResult(False, None, "", True, "connect_failed")
    else:
        result = read_answer(kind, answer)
    log.info("alert via %s to %s: ok=%s code=%s retryable=%s", kind, target.host, result.ok,
             result.platform_code, result.retryable)
    return result


def send_wecom(channel: ChannelConfig, message: AlertMessage, settings: OutboundSettings,
               resolver: Resolver = system_resolver) -> DeliveryResult:
    return _post("wecom", channel.webhook_url, wecom_payload(message, channel.mentions), settings, resolver)


def send_dingtalk(channel: ChannelConfig, message: AlertMessage, settings: OutboundSettings,
                  resolver: Resolver = system_resolver, clock: Callable[[], float] = time.time) -> DeliveryResult:
    url = channel.webhook_url
    if channel.secret:
        remember_secret(channel.secret)
        timestamp = int(clock() * 1000)
        sign = dingtalk_sign(channel.secret, timestamp)
        remember_secret(sign)
        url += ("&" if "?" in url else "?") + urlencode({"timestamp": timestamp, "sign": sign})
    return _post("dingtalk", url, dingtalk_payload(message, channel.mentions), settings, resolver)


def send_feishu(channel: ChannelConfig, message: AlertMessage, settings: OutboundSettings,
                resolver: Resolver = system_resolver, clock: Callable[[], float] = time.time) -> DeliveryResult:
    payload = feishu_payload(message, channel.mentions)
    if channel.secret:
        remember_secret(channel.secret)
        timestamp = int(clock())
        payload = {"timestamp": str(timestamp), "sign": feishu_sign(channel.secret, timestamp), **payload}
        remember_secret(payload["sign"])
    return _post("feishu", channel.webhook_url, payload, settings, resolver)


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int
    user: str | None
    password: str | None = field(repr=False)
    sender: str | None
    security: str  # starttls | ssl | none
    timeout: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings:
        security = (config.get("SMTP_SECURITY") or "starttls").lower()
        if security not in ("starttls", "ssl", "none"):
            raise ValueError("SMTP_SECURITY must be starttls, ssl or none")
        default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
        return cls(host=config.get("SMTP_HOST"), port=int(config.get("SMTP_PORT") or default_port),
                   user=config.get("SMTP_USER"), password=config.get("SMTP_PASSWORD"),
                   sender=config.get("SMTP_FROM") or config.get("SMTP_USER"), security=security,
                   timeout=float(config.get("ALERT_TIMEOUT_SECONDS") or 5))


def smtp_connection(settings: SmtpSettings) -> smtplib.SMTP:
    """Connect as ``SMTP_SECURITY`` says: implicit TLS (ssl), STARTTLS before any login (starttls;
    refused if the server does not offer it), or plain (none). Certificates are verified."""
    context = ssl.create_default_context()
    if settings.security == "ssl":
        connection: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                                    context=context)
    else:
        connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        connection.ehlo()
        if settings.security == "starttls":
            connection.starttls(context=context)  # raises SMTPNotSupportedError without STARTTLS
            connection.ehlo()
        if settings.user and settings.password:
            connection.login(settings.user, settings.password)
    except BaseException:
        connection.close()
        raise
    return connection


def send_email(channel: ChannelConfig, message: AlertMessage, settings: SmtpSettings) -> DeliveryResult:
    recipients = channel.recipients()
    if not settings.host or not settings.sender or not recipients:
        return DeliveryResult(False, None, "", False, "not_configured")
    if settings.password:
        remember_secret(settings.password)
    mail = email_message(message, settings.sender, recipients)
    try:
        with smtp_connection(settings) as connection:
            refused = connection.send_message(mail, from_addr=settings.sender, to_addrs=recipients)
    except smtplib.SMTPNotSupportedError:
        result = DeliveryResult(False, None, "STARTTLS not offered", False, "smtp_no_starttls")
    except smtplib.SMTPAuthenticationError as error:
        result = DeliveryResult(False, error.smtp_code, "authentication failed", False, "smtp_auth")
    except smtplib.SMTPRecipientsRefused:
        result = DeliveryResult(False, None, "all recipients refused", False, "smtp_recipients")
    except smtplib.SMTPResponseException as error:
        result = DeliveryResult(False, error.smtp_code, _safe_text(error.smtp_error.decode("utf-8", "replace")
                                                                   if isinstance(error.smtp_error, bytes)
                                                                   else error.smtp_error),
                                400 <= error.smtp_code < 500, "smtp_error")
    except TimeoutError:
        result = DeliveryResult(False, None, "", True, "timeout")
    except ssl.SSLError:
        result = DeliveryResult(False, None, "TLS failed", False, "smtp_tls")
    except (OSError, smtplib.SMTPException):
        result = DeliveryResult(False, None, "", True, "connect_failed")
    else:
        partial = ", ".join(sorted(refused)) if refused else ""
        result = DeliveryResult(True, 250, _safe_text(f"refused: {partial}") if partial else "", False, "sent")
    log.info("alert via email to %s: ok=%s code=%s retryable=%s", settings.host, result.ok,
             result.platform_code, result.retryable)
    return result


def send(channel: ChannelConfig, message: AlertMessage, *, config: Mapping[str, Any] | None = None,
         resolver: Resolver = system_resolver) -> DeliveryResult:
    """Send ``message`` over ``channel``; settings from ``config`` (default: the current app's)."""
    config = current_app.config if config is None else config
    if channel.kind not in KINDS:
        raise ValueError(f"unknown channel kind {channel.kind!r}")
    try:
        smtp = SmtpSettings.from_config(config) if channel.kind == "email" else None
        settings = OutboundSettings.from_config(config)
    except ValueError as error:  # a bad ALERT_*/SMTP_* setting: the operator's to fix, shown, not a 500
        log.error("alert via %s not sent: %s", channel.kind, error)
        return DeliveryResult(False, None, _safe_text(error), False, "bad_setting")
    if smtp is not None:
        return send_email(channel, message, smtp)
    if channel.kind == "wecom":
        return send_wecom(channel, message, settings, resolver)
    if channel.kind == "dingtalk":
        return send_dingtalk(channel, message, settings, resolver)
    return send_feishu(channel, message, settings, resolver)


__all__ = [
    "KINDS",
    "ChannelConfig",
    "DeliveryResult",
    "SmtpSettings",
    "dingtalk_sign",
    "feishu_sign",
    "send",
    "send_dingtalk",
    "send_email",
    "send_feishu",
    "send_wecom",
    "smtp_connection",
    "split_mentions",
]
