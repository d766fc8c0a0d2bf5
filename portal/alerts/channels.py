"""Alert channels' credentials: the one place that seals and opens them (through portal/crypto.py).

- ``set_credentials(channel, webhook_url=..., secret=...)``: encrypt and store (the row must have an
  id: flush first); also sets the displayable ``target_host`` and ``has_secret``.
- ``channel_config(channel, mentions=())``: the decrypted :class:`ChannelConfig` a sender needs.
"""
from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from ..crypto import decrypt_channel_config, encrypt_channel_config
from ..models import AlertChannel
from .platforms import ChannelConfig


def set_credentials(channel: AlertChannel, *, webhook_url: str, secret: str = "") -> None:
    """Seal the webhook URL and secret into ``channel`` (caller commits)."""
    if channel.id is None:
        raise ValueError("flush the channel before storing its credentials (they are sealed to its id)")
    channel.config_ciphertext = encrypt_channel_config({"url": webhook_url, "secret": secret or ""},
                                                       company_id=channel.company_id, channel_id=channel.id)
    channel.target_host = (urlsplit(webhook_url).hostname or "")[:255] or None
    channel.has_secret = bool(secret)


def stored_credentials(channel: AlertChannel) -> dict:
    """{"url", "secret"} of a webhook channel ({} for e-mail). Raises crypto.TokenUnavailable."""
    if not channel.config_ciphertext:
        return {}
    return decrypt_channel_config(channel.config_ciphertext, company_id=channel.company_id, channel_id=channel.id)


def channel_config(channel: AlertChannel, mentions: Sequence[str] = ()) -> ChannelConfig:
    """What ``platforms.send`` needs. Raises crypto.TokenUnavailable when the credentials cannot be read."""
    credentials = stored_credentials(channel)
    return ChannelConfig(kind=channel.kind, webhook_url=credentials.get("url", ""),
                         secret=credentials.get("secret", ""), email_to=channel.email_to or "",
                         mentions=tuple(mentions) if channel.mention_assignees else ())
