"""Reads of the Notifications page: the company's channels, by name."""
from __future__ import annotations

from ..extensions import db
from ..models import AlertChannel
from .rows import ChannelRow, channel_row


def channel_rows(channels) -> list[ChannelRow]:
    """The rows of `channels` (a Select from access.company_channels), ordered by name."""
    query = channels.order_by(AlertChannel.name_key, AlertChannel.id)
    return [channel_row(channel) for channel in db.session.scalars(query)]
