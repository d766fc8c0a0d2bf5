"""Alert channels: save, delete, switch on/off, send a test; the company's message language.
Plain arguments in, flush, the view commits. Credentials go only through alerts/channels.py."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..alerts.channels import channel_config, set_credentials, stored_credentials
from ..alerts.messages import TEST, AlertMessage, build_message
from ..alerts.platforms import ChannelConfig, DeliveryResult, send
from ..crypto import TokenUnavailable
from ..extensions import db
from ..forms import FormError, name_key
from ..models import AlertChannel, Company, User, utcnow

LANGUAGES = ("zh", "en")
NAME_TAKEN = _l("Your company already has a channel with this name.")


def _check_name_free(company_id: int, name: str, exclude_id: int | None) -> None:
    query = select(AlertChannel.id).where(AlertChannel.company_id == company_id,
                                          AlertChannel.name_key == name_key(name))
    if exclude_id:
        query = query.where(AlertChannel.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise FormError(NAME_TAKEN, field="name")


def save_channel(user: User, channel: AlertChannel | None, *, kind: str, name: str, webhook_url: str = "",
                 secret: str = "", remove_secret: bool = False, email_to: str = "", events: list[str],
                 digest: bool = False, mention_assignees: bool = True, enabled: bool = True) -> AlertChannel:
    """Create (channel=None) or update a channel. Blank `webhook_url` / `secret` keep the stored ones;
    `remove_secret` drops the secret. The platform of a saved channel never changes."""
    _check_name_free(user.company_id, name, channel.id if channel else None)
    if channel is None:
        channel = AlertChannel(company_id=user.company_id, created_by_id=user.id, kind=kind)
        db.session.add(channel)
    channel.name, channel.name_key = name, name_key(name)
    channel.events = ",".join(events)
    channel.digest, channel.mention_assignees, channel.enabled = digest, mention_assignees, enabled
    channel.email_to = email_to or None if channel.kind == "email" else None
    channel.updated_at = utcnow()
    db.session.flush()  # the id the credentials are sealed to
    if channel.kind != "email" and (webhook_url or secret or (remove_secret and channel.has_secret)):
        _store(channel, webhook_url, secret, remove_secret)
    return channel


def _store(channel: AlertChannel, webhook_url: str, secret: str, remove_secret: bool) -> None:
    try:
        stored = stored_credentials(channel)
    except TokenUnavailable:
        stored = {}
    url = webhook_url or stored.get("url", "")
    if not url:
        raise FormError(_l("The stored webhook address cannot be read any more: paste it again."),
                        field="webhook_url")
    keep = "" if remove_secret else stored.get("secret", "")
    set_credentials(channel, webhook_url=url, secret=secret or keep)
    # The last test was of the old address or secret: it says nothing about the new ones.
    channel.last_test_at = channel.last_test_ok = channel.last_test_summary = None
    db.session.flush()


def delete_channel(channel: AlertChannel) -> None:
    db.session.delete(channel)
    db.session.flush()


def set_enabled(channel: AlertChannel, enabled: bool) -> None:
    channel.enabled = enabled
    channel.updated_at = utcnow()
    db.session.flush()


def set_alert_language(company: Company, language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    company.alert_language = language
    db.session.flush()


def prepare_test(channel: AlertChannel, language: str) -> tuple[ChannelConfig | None, AlertMessage]:
    """What the test sends, read before the send (so the send itself needs no database): the decrypted
    channel (None when its credentials cannot be read) and the test message in `language`."""
    message = build_message(TEST, language=language or "zh")
    try:
        return channel_config(channel), message
    except TokenUnavailable:
        return None, message


def send_test(channel: AlertChannel, prepared: tuple[ChannelConfig | None, AlertMessage]) -> DeliveryResult:
    """Send the prepared test message now (synchronously) and keep the platform's answer on the channel."""
    config, message = prepared
    result = send(config, message) if config is not None else DeliveryResult(False, None, "", False, "unreadable")
    channel.last_test_at = utcnow()
    channel.last_test_ok = result.ok
    channel.last_test_summary = result.summary()[:300]
    db.session.flush()
    return result
