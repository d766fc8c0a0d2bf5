"""One row of the Notifications table: what a channel shows (never its URL or secret), and the last test's
answer in plain words, read back from the stored one-line summary (DeliveryResult.summary())."""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..models import AlertChannel
from ..texts import join_list, minute
from .forms import EVENT_KINDS, EVENT_LABELS, PLATFORM_LABELS

# "310000 sign not match (platform_error, not retryable)" or "timeout, retryable" (no answer).
_SUMMARY = re.compile(r"^(?:(?P<code>-?\d+)? ?(?P<text>.*?) \()?(?P<detail>[a-z_]+), (?:not )?retryable\)?$")

HINTS = {
    "sign": _l("the signature does not match: check the signing secret"),
    "keyword": _l("the robot requires a keyword: add “Shop Portal” as a keyword or use signing instead"),
    "token": _l("the platform does not know this webhook address: paste the robot's current address"),
    "busy": _l("the platform asks to send less often: try again in a minute"),
    "ip": _l("the robot only accepts some IP addresses: add the portal's address to the robot's allow-list"),
    "host_not_allowed": _l("the host is not allowed by the portal's settings (ALERT_ALLOWED_HOSTS)"),
    "scheme": _l("only https:// addresses are allowed"),
    "bad_url": _l("the webhook address is not valid: paste it again"),
    "private_address": _l("the host resolves to a private network address, which is refused"),
    "unresolvable": _l("the host name could not be found (DNS)"),
    "timeout": _l("no answer in time: try again later"),
    "connect_failed": _l("the platform could not be reached"),
    "tls_failed": _l("the platform's certificate could not be verified"),
    "redirect_refused": _l("the platform answered with a redirect: check the address"),
    "http_error": _l("the platform answered with an error"),
    "bad_answer": _l("the platform answered unexpectedly"),
    "not_configured": _l("e-mail is not set up on the server (SMTP_HOST): ask the operator"),
    "bad_setting": _l("a server setting for alerts is invalid: ask the operator"),
    "unreadable": _l("the stored webhook address cannot be read: edit the channel and paste it again"),
    "smtp_auth": _l("the mail server refused the portal's login"),
    "smtp_recipients": _l("the mail server refused the recipients"),
    "smtp_no_starttls": _l("the mail server does not offer encryption (STARTTLS)"),
    "smtp_tls": _l("the encrypted connection to the mail server failed"),
    "smtp_error": _l("the mail server refused the message"),
}
# Platform codes and answer texts with a known meaning.
_CODE_HINTS = {310000: "sign", 19021: "sign", 300001: "token", 93000: "token", 19001: "token", 400: "token",
               19024: "keyword", 410100: "busy", 130101: "busy", 45009: "busy", 9499: "busy", 11232: "busy",
               11233: "busy", 19022: "ip", 310001: "ip"}
_TEXT_HINTS = (("keyword", "keyword"), ("key words", "keyword"), ("sign", "sign"), ("token", "token"),
               ("invalid webhook", "token"), ("too fast", "busy"), ("frequency", "busy"), ("whitelist", "ip"), ("ip not", "ip"))


@dataclass(frozen=True)
class TestAnswer:
    """E.g. lead "DingTalk answered:", answer "310000 sign not match" (the platform's own words, shown
    untranslated), hint "the signature does not match: check the signing secret"."""

    ok: bool
    lead: str
    answer: str
    hint: str
    code: str  # a failure's whole stored summary, e.g. "310000 sign not match (platform_error, not retryable)"
    when: str


def hint_key(code: int | None, text: str, detail: str) -> str | None:
    if detail == "platform_error":
        lowered = text.lower()
        for needle, key in _TEXT_HINTS:
            if needle in lowered:
                return key
        return _CODE_HINTS.get(code) if code is not None else None
    return detail if detail in HINTS else None


def test_answer(platform: str, summary: str | None, ok: bool | None, when) -> TestAnswer | None:
    """The last test's answer in words, from the stored summary; None when never tested."""
    if not summary:
        return None
    match = _SUMMARY.match(summary)
    code = int(match["code"]) if match and match["code"] else None
    text = (match["text"] or "") if match else ""
    detail = match["detail"] if match else ""
    answer = " ".join(part for part in (str(code) if code is not None else "", text) if part)
    key = None if ok else hint_key(code, text, detail)
    hint = str(HINTS[key]) if key else ""
    if ok:
        lead = _("Sent: %(platform)s answered", platform=platform)
    elif answer:
        lead = _("%(platform)s answered:", platform=platform)
    else:
        lead = _("Not sent:") if hint else _("Not sent")
    # The full stored summary only helps with a failure (its detail code and whether it is retried).
    return TestAnswer(bool(ok), lead, answer, hint, "" if ok else summary, minute(when) if when else "")


@dataclass(frozen=True)
class ChannelRow:
    id: int
    name: str
    platform: str
    kind: str
    target: str
    signed: bool
    events: str
    all_events: bool
    digest: bool
    enabled: bool
    test: TestAnswer | None
    edit_url: str
    delete_url: str
    toggle_url: str
    test_url: str


def channel_row(channel: AlertChannel) -> ChannelRow:
    platform = str(PLATFORM_LABELS.get(channel.kind, channel.kind))
    kinds = channel.event_kinds()
    target = (channel.email_to or "") if channel.kind == "email" else (channel.target_host or "")
    return ChannelRow(
        id=channel.id, name=channel.name, platform=platform, kind=channel.kind, target=target,
        signed=bool(channel.has_secret) and channel.kind != "email",
        events=join_list([str(EVENT_LABELS[kind]) for kind in EVENT_KINDS if kind in kinds]),
        all_events=set(EVENT_KINDS) <= set(kinds), digest=bool(channel.digest), enabled=bool(channel.enabled),
        test=test_answer(platform, channel.last_test_summary, channel.last_test_ok, channel.last_test_at),
        edit_url=url_for("notifications.edit", channel_id=channel.id),
        delete_url=url_for("notifications.delete", channel_id=channel.id),
        toggle_url=url_for("notifications.toggle", channel_id=channel.id),
        test_url=url_for("notifications.send_test", channel_id=channel.id))
