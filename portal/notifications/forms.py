"""The Notifications page's forms: a channel (platform, name, where to, which events) and the message
language. The webhook URL is checked here against the allow-list and the platform's path, without
connecting anywhere (the Send test button is what connects)."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..alerts.messages import AUTH_EXPIRED, AUTH_EXPIRING, CHECK_FAILED, CHECK_RECOVERED, SYNC_FAILING, SYNC_STOPPED
from ..alerts.outbound import AllowList
from ..forms import EMAIL_RE, plain_text, strip_filter
from ..models import ALERT_CHANNEL_NAME_MAX

WEBHOOK_KINDS = ("wecom", "dingtalk", "feishu")
SIGNED_KINDS = ("dingtalk", "feishu")
PLATFORM_LABELS = {"wecom": _l("WeCom"), "dingtalk": _l("DingTalk"), "feishu": _l("Feishu / Lark"),
                   "email": _l("E-mail")}
EVENT_LABELS = {AUTH_EXPIRING: _l("Authorization expiring soon"), AUTH_EXPIRED: _l("Authorization expired"),
                CHECK_FAILED: _l("Check failed"), CHECK_RECOVERED: _l("Check passes again"),
                SYNC_STOPPED: _l("Order sync stopped"), SYNC_FAILING: _l("Order sync keeps failing")}
EVENT_KINDS = tuple(EVENT_LABELS)
LANGUAGE_LABELS = {"zh": "中文", "en": "English"}
# What each platform's webhook address looks like (host aside: an operator may route through a gateway).
EXAMPLES = {"wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
            "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token=…",
            "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/…"}
URL_MAX, SECRET_MAX, EMAIL_TO_MAX, RECIPIENTS_MAX = 2048, 200, 1000, 20
_SPLIT = re.compile(r"[,;\s，；]+")


def platform_choices():
    return [SelectChoice(kind, label) for kind, label in PLATFORM_LABELS.items()]


def event_choices():
    return [SelectChoice(kind, label) for kind, label in EVENT_LABELS.items()]


def split_recipients(text: str | None) -> list[str]:
    """The addresses of a recipients field (commas, semicolons, spaces or new lines between them)."""
    return list(dict.fromkeys(part.lower() for part in _SPLIT.split(text or "") if part))


def allowed_hosts_text(allow: AllowList) -> str:
    """The allowed origins as people write them: a bare host for https:443, else scheme://host:port."""
    names = [origin.host if (origin.scheme, origin.port) == ("https", 443) else
             f"{origin.scheme}://{origin.host}:{origin.port}" for origin in allow.origins]
    return ", ".join(names)


def _path_ok(kind: str, path: str, query: str) -> bool:
    params = parse_qs(query)
    if kind == "wecom":
        return path == "/cgi-bin/webhook/send" and bool(params.get("key", [""])[0])
    if kind == "dingtalk":
        return path == "/robot/send" and bool(params.get("access_token", [""])[0])
    prefix = "/open-apis/bot/v2/hook/"
    return path.startswith(prefix) and len(path) > len(prefix) and "/" not in path[len(prefix):]


def webhook_problem(kind: str, url: str, allowed_hosts) -> str | None:
    """Why `url` cannot be a `kind` robot's webhook (a translated message), or None. No connection is made:
    the same rules as outbound.check_url for scheme and host, plus the platform's path."""
    try:
        allow = AllowList.parse(allowed_hosts)
    except ValueError:
        return str(_l("The server setting ALERT_ALLOWED_HOSTS is invalid: ask the operator to fix it."))
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        parts, port = None, 0
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.username
            or parts.password or any(char <= " " or char > "~" for char in url)):
        return str(_l("Paste the robot's webhook address as the platform shows it, e.g. %(example)s",
                      example=EXAMPLES[kind]))
    host = parts.hostname.strip("[]").rstrip(".").lower()
    if allow.match(parts.scheme, host, port) is None:
        if parts.scheme == "http" and allow.match("https", host, 443):
            return str(_l("Use https:// for this address: plain http:// is not allowed."))
        return str(_l("The host %(host)s is not allowed. Allowed hosts: %(hosts)s.", host=host,
                      hosts=allowed_hosts_text(allow)))
    if not _path_ok(kind, parts.path, parts.query):
        return str(_l("This does not look like a %(platform)s webhook address. It looks like %(example)s",
                      platform=PLATFORM_LABELS[kind], example=EXAMPLES[kind]))
    return None


class ChannelForm(FlaskForm):
    """A new channel (platform chosen here) or an edit (the platform stays; blank credentials are kept)."""

    kind = SelectField(_l("Platform"), choices=platform_choices, default="dingtalk")
    name = StringField(_l("Channel name"), filters=[strip_filter],
                       validators=[DataRequired(), Length(max=ALERT_CHANNEL_NAME_MAX), plain_text],
                       description=_l("E.g. “Ops group” or “Boss's e-mail”."))
    webhook_url = PasswordField(_l("Webhook address"), filters=[strip_filter], validators=[Length(max=URL_MAX)],
                                render_kw={"autocomplete": "off", "spellcheck": "false"})
    secret = PasswordField(_l("Signing secret (optional)"), filters=[strip_filter],
                           validators=[Length(max=SECRET_MAX)], render_kw={"autocomplete": "off"},
                           description=_l("Only if the robot's security setting is “Additional signature”: "
                                          "the secret starting with SEC…"))
    remove_secret = BooleanField(_l("Remove the signing secret"))
    email_to = StringField(_l("Recipients"), filters=[strip_filter], validators=[Length(max=EMAIL_TO_MAX)],
                           description=_l("E-mail addresses, separated by commas."))
    events = SelectMultipleField(_l("Events"), choices=event_choices, default=list(EVENT_KINDS),
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    digest = BooleanField(_l("Daily digest instead of one message per event"))
    mention_assignees = BooleanField(_l("@-mention the people assigned to the shop"), default=True)
    enabled = BooleanField(_l("Enabled"), default=True)

    def __init__(self, *args, channel=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel
        if channel is not None:
            self.kind.data = channel.kind  # the platform of a saved channel does not change
            if not self.is_submitted():
                self.name.data, self.email_to.data = channel.name, channel.email_to or ""
                self.events.data = channel.event_kinds()
                self.digest.data, self.enabled.data = channel.digest, channel.enabled
                self.mention_assignees.data = channel.mention_assignees

    @property
    def editing(self) -> bool:
        return self.channel is not None

    def validate_webhook_url(self, field):
        if self.kind.data not in WEBHOOK_KINDS:
            return
        if not field.data:
            if not self.editing or not self.channel.config_ciphertext:
                raise ValidationError(_l("Paste the robot's webhook address."))
            return
        problem = webhook_problem(self.kind.data, field.data, current_app.config.get("ALERT_ALLOWED_HOSTS"))
        if problem:
            raise ValidationError(problem)

    def validate_secret(self, field):
        if field.data and self.kind.data in SIGNED_KINDS and (any(c <= " " or c > "~" for c in field.data)):
            raise ValidationError(_l("The secret has only letters and digits; paste it again without spaces."))

    def validate_email_to(self, field):
        if self.kind.data != "email":
            return
        addresses = split_recipients(field.data)
        if not addresses:
            raise ValidationError(_l("Enter at least one e-mail address."))
        bad = [address for address in addresses if not EMAIL_RE.match(address) or len(address) > 254]
        if bad:
            raise ValidationError(_l("Not an e-mail address: %(address)s", address=bad[0]))
        if len(addresses) > RECIPIENTS_MAX:
            raise ValidationError(_l("At most %(num)d recipients.", num=RECIPIENTS_MAX))

    def validate_events(self, field):
        if not field.data:
            raise ValidationError(_l("Tick at least one event."))

    def values(self) -> dict:
        kind = self.kind.data
        webhook = kind in WEBHOOK_KINDS
        return dict(kind=kind, name=self.name.data, webhook_url=self.webhook_url.data if webhook else "",
                    secret=self.secret.data if kind in SIGNED_KINDS else "",
                    remove_secret=bool(self.remove_secret.data) or kind not in SIGNED_KINDS,
                    email_to=", ".join(split_recipients(self.email_to.data)) if kind == "email" else "",
                    events=[event for event in EVENT_KINDS if event in (self.events.data or [])],
                    digest=bool(self.digest.data), mention_assignees=bool(self.mention_assignees.data),
                    enabled=bool(self.enabled.data))


class LanguageForm(FlaskForm):
    language = SelectField(_l("Message language"),
                           choices=lambda: [SelectChoice(code, label) for code, label in LANGUAGE_LABELS.items()])
