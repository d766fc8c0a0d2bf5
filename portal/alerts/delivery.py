"""Sending the queued alert messages, with back-off; the daily digests; the Jobs page's Retry.

- ``send_message(message_id, now=None) -> SendOutcome | None``: claim the message (one atomic UPDATE
  queued → sending, so two consumers never send it twice), build its text from its events, send it,
  record the result. ``None``: not claimed (sent, failed, not due yet, or taken by another consumer).
  The outcome is a :class:`~portal.alerts.platforms.DeliveryResult` plus ``status`` and ``retry_in``
  (seconds until the next try when the failure is retryable and attempts are left).
- ``build_digest(channel_id, now=None) -> message id | None``: one DIGEST message carrying the channel's
  waiting deliveries.
- ``resend_failed(message_id) -> bool``: a failed message back to the queue with its attempts reset.
- ``stuck_messages(now) -> [message id]``: queued messages whose try is long overdue, and sends that a
  killed consumer left "sending" (put back to queued), for the scan to queue again.

Each function commits its own steps (a claim must be visible to other consumers before the slow send).
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from ..amazon.marketplaces import in_list_order, marketplace_by_id
from ..crypto import TokenUnavailable
from ..extensions import db
from ..models import (DIGEST, MESSAGE_FAILED, MESSAGE_QUEUED, MESSAGE_SENDING, MESSAGE_SENT, AlertChannel,
                      AlertDelivery, AlertEvent, AlertMessage, Company, SellerAuthorization, Shop, ShopAssignment,
                      ShopMarketplace, User, utcnow)
from ..texts import zone
from . import platforms
from .channels import channel_config
from .messages import AUTH_EXPIRING, DigestGroup, ShopRef, build_digest_message, build_message, days_left
from .platforms import DeliveryResult

log = logging.getLogger(__name__)

STUCK_QUEUED_MINUTES = 5  # a queued message this overdue lost its job (queue down, consumer killed)
STUCK_SENDING_MINUTES = 10  # far beyond any send's timeout: the consumer that claimed it died


@dataclass(frozen=True)
class SendOutcome(DeliveryResult):
    """A send's result and what became of the message: ``status`` (sent, queued, failed) and
    ``retry_in`` (seconds, when queued again for a retry)."""

    status: str = ""
    retry_in: int | None = None
    attempts: int = 0


def _failure(detail: str, text: str) -> DeliveryResult:
    return DeliveryResult(False, None, text, False, detail)


def claim_message(message_id: int, now: datetime | None = None) -> bool:
    """Take a due queued message for sending (queued → sending): True for exactly one caller. Commits."""
    now = now or utcnow()
    m = AlertMessage
    claimed = db.session.execute(update(m).where(
        m.id == message_id, m.status == MESSAGE_QUEUED,
        or_(m.next_attempt_at.is_(None), m.next_attempt_at <= now)).values(status=MESSAGE_SENDING,
                                                                          last_attempt_at=now))
    db.session.commit()
    return claimed.rowcount == 1


def send_message(message_id: int, now: datetime | None = None) -> SendOutcome | None:
    """Claim, send and record one message (see the module docstring). Commits."""
    now = now or utcnow()
    if not claim_message(message_id, now):
        return None
    return deliver_claimed(message_id, now)


def deliver_claimed(message_id: int, now: datetime | None = None) -> SendOutcome:
    """Send a message this caller claimed and store the result. Commits."""
    now = now or utcnow()
    message = db.session.get(AlertMessage, message_id, populate_existing=True)
    channel = db.session.get(AlertChannel, message.channel_id) if message is not None else None
    if message is None:
        return SendOutcome(False, None, "", False, "missing", status=MESSAGE_FAILED)
    if channel is None or not channel.enabled:
        result = _failure("channel_disabled", "the channel was disabled or deleted")
    else:
        result = _send(message, channel)
    return _store(message, result, now)


def _send(message: AlertMessage, channel: AlertChannel) -> DeliveryResult:
    message_id = message.id
    language = db.session.scalar(select(Company.alert_language).where(Company.id == message.company_id)) or "zh"
    events = _events(message_id)
    if not events:
        return _failure("nothing_to_send", "the shops of this alert were deleted")
    text = _text(message.kind, events, language, utcnow())
    mentions = _mentions([event.shop_id for event in events]) if channel.mention_assignees else []
    try:
        config = channel_config(channel, mentions)
    except TokenUnavailable:
        return _failure("credentials_unreadable", "the channel's webhook cannot be decrypted; enter it again")
    db.session.commit()  # no transaction (on SQLite: no write lock) stays open during the network call
    try:
        return platforms.send(config, text)
    except Exception:  # noqa: BLE001 (a bug must not leave the message "sending" for ever)
        log.exception("alert message %s: the send failed unexpectedly", message_id)
        return _failure("internal_error", "unexpected error (see the log)")


def _store(message: AlertMessage, result: DeliveryResult, now: datetime) -> SendOutcome:
    cfg = current_app.config
    attempts = (message.attempts or 0) + 1
    retry_in = None
    if result.ok:
        status = MESSAGE_SENT
    elif result.retryable and attempts < int(cfg["ALERTS_MAX_ATTEMPTS"]):
        status, retry_in = MESSAGE_QUEUED, int(cfg["ALERTS_RETRY_SECONDS"]) * 2 ** (attempts - 1)
    else:
        status = MESSAGE_FAILED
    db.session.execute(update(AlertMessage).where(AlertMessage.id == message.id).values(
        status=status, attempts=attempts, last_attempt_at=now, last_summary=result.summary()[:300],
        last_code=result.platform_code if isinstance(result.platform_code, int) and abs(result.platform_code) < 2**31
        else None,
        sent_at=now if result.ok else None,
        next_attempt_at=now + timedelta(seconds=retry_in) if retry_in is not None else None))
    db.session.commit()
    log.info("alert message %s: %s after %d attempts", message.id, status, attempts)
    return SendOutcome(result.ok, result.platform_code, result.platform_message, result.retryable, result.detail,
                       status=status, retry_in=retry_in, attempts=attempts)


# -- the text ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Event:
    shop_id: int
    kind: str
    days: int | None
    due_at: datetime | None
    shop: ShopRef
    detail: str | None = None


def _events(message_id: int) -> list[_Event]:
    """The message's events with their shops (name, Seller ID, countries): two queries."""
    rows = db.session.execute(
        select(AlertEvent.shop_id, AlertEvent.kind, AlertEvent.days, AlertEvent.due_at, AlertEvent.detail, Shop.name,
               Shop.sort_name, SellerAuthorization.seller_id)
        .join(AlertDelivery, AlertDelivery.event_id == AlertEvent.id)
        .join(Shop, Shop.id == AlertEvent.shop_id)
        .join(SellerAuthorization, SellerAuthorization.id == Shop.authorization_id)
        .where(AlertDelivery.message_id == message_id)
        .order_by(AlertEvent.kind, AlertEvent.days, Shop.sort_name, Shop.id)).all()
    marketplaces: dict[int, list[str]] = defaultdict(list)
    shop_ids = sorted({row.shop_id for row in rows})
    for start in range(0, len(shop_ids), 500):
        for shop_id, marketplace_id in db.session.execute(
                select(ShopMarketplace.shop_id, ShopMarketplace.marketplace_id)
                .where(ShopMarketplace.shop_id.in_(shop_ids[start:start + 500]))
                .order_by(ShopMarketplace.position)):
            marketplaces[shop_id].append(marketplace_id)
    return [_Event(row.shop_id, row.kind, row.days, row.due_at,
                   ShopRef(row.name, row.seller_id, _countries(marketplaces.get(row.shop_id, []))), row.detail)
            for row in rows]


def _countries(marketplace_ids: list[str]) -> tuple[str, ...]:
    codes = []
    for marketplace_id in in_list_order(marketplace_ids):
        marketplace = marketplace_by_id(marketplace_id)
        code = marketplace.country_code if marketplace else marketplace_id
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def _local_day(value: datetime | None) -> date | None:
    return value.astimezone(zone()).date() if value is not None else None


def _earliest(events: list[_Event]) -> date | None:
    moments = [event.due_at for event in events if event.due_at is not None]
    return _local_day(min(moments)) if moments else None


def _path(events: list[_Event]) -> str:
    shop_ids = {event.shop_id for event in events}
    return f"/shops/{next(iter(shop_ids))}" if len(shop_ids) == 1 else "/shops"


def _days(kind: str, threshold: int | None, events: list[_Event], now: datetime) -> int | None:
    """For "expires in N days": the days actually left (of the shop expiring first), not the threshold. A
    shop first seen 10 days before expiry is past the 30-day threshold; its message says 10, as its row does."""
    moments = [event.due_at for event in events if event.due_at is not None]
    return days_left(min(moments), now) if kind == AUTH_EXPIRING and moments else threshold


def _text(kind: str, events: list[_Event], language: str, now: datetime):
    if kind == DIGEST:
        groups: dict[tuple[str, int | None], list[_Event]] = defaultdict(list)
        for event in events:
            groups[(event.kind, event.days if event.kind == AUTH_EXPIRING else None)].append(event)
        return build_digest_message(
            [DigestGroup(kind=group_kind, shops=[e.shop for e in items], days=_days(group_kind, days, items, now),
                         on=_earliest(items))
             for (group_kind, days), items in groups.items()], language=language, path=_path(events))
    days = _days(kind, next((event.days for event in events if event.days is not None), None), events, now)
    details = {event.detail for event in events}  # one reason line when every shop failed the same way
    return build_message(kind, [event.shop for event in events], language=language, days=days,
                         on=_earliest(events), path=_path(events),
                         reason_code=(next(iter(details)) or "") if len(details) == 1 else "")


def _mentions(shop_ids: list[int]) -> list[str]:
    """The platform user id (else the mobile) of each active user assigned to these shops."""
    found: list[str] = []
    for start in range(0, len(shop_ids), 500):
        rows = db.session.execute(
            select(User.id, User.alert_user_id, User.alert_mobile).join(ShopAssignment, ShopAssignment.user_id == User.id)
            .where(ShopAssignment.shop_id.in_(shop_ids[start:start + 500]), User.active.is_(True),
                   or_(User.alert_user_id.is_not(None), User.alert_mobile.is_not(None)))
            .order_by(User.id).distinct())
        for _id, user_id, mobile in rows:
            value = (user_id or "").strip() or (mobile or "").strip()
            if value and value not in found:
                found.append(value)
    return found


# -- digests, retries, stuck messages ---------------------------------------------------------------------

def waiting_channels() -> list[int]:
    """Enabled channels with deliveries waiting for a digest (digest channels, and any channel whose
    digest was switched off while some waited)."""
    return list(db.session.scalars(
        select(AlertDelivery.channel_id).join(AlertChannel, AlertChannel.id == AlertDelivery.channel_id)
        .where(AlertDelivery.message_id.is_(None), AlertChannel.enabled.is_(True))
        .distinct().order_by(AlertDelivery.channel_id)))


def build_digest(channel_id: int, now: datetime | None = None) -> int | None:
    """One DIGEST message with every waiting delivery of the channel; None when nothing waits. Commits."""
    now = now or utcnow()
    channel = db.session.get(AlertChannel, channel_id)
    if channel is None or not channel.enabled:
        return None
    waiting = list(db.session.scalars(select(AlertDelivery.id).where(
        AlertDelivery.channel_id == channel_id, AlertDelivery.message_id.is_(None)).order_by(AlertDelivery.id)))
    if not waiting:
        db.session.commit()
        return None
    message = AlertMessage(company_id=channel.company_id, channel_id=channel_id, kind=DIGEST, status=MESSAGE_QUEUED,
                           attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(message)
    db.session.flush()
    taken = 0
    for start in range(0, len(waiting), 500):
        taken += db.session.execute(update(AlertDelivery).where(
            AlertDelivery.id.in_(waiting[start:start + 500]), AlertDelivery.message_id.is_(None))
            .values(message_id=message.id)).rowcount
    if not taken:  # another digest took them meanwhile
        db.session.rollback()
        return None
    db.session.commit()
    return message.id


def resend_failed(message_id: int) -> bool:
    """Put a failed message back in the queue, attempts reset ("Retry"). Caller commits."""
    result = db.session.execute(update(AlertMessage).where(AlertMessage.id == message_id,
                                                           AlertMessage.status == MESSAGE_FAILED)
                                .values(status=MESSAGE_QUEUED, attempts=0, next_attempt_at=utcnow()))
    return result.rowcount == 1


def stuck_messages(now: datetime | None = None) -> list[int]:
    """Ids of queued messages overdue by STUCK_QUEUED_MINUTES, after putting back to queued the ones left
    "sending" for STUCK_SENDING_MINUTES. Caller commits."""
    now = now or utcnow()
    m = AlertMessage
    abandoned = and_(m.status == MESSAGE_SENDING, m.last_attempt_at < now - timedelta(minutes=STUCK_SENDING_MINUTES))
    revived = list(db.session.scalars(select(m.id).where(abandoned).order_by(m.id).limit(1000)))
    if revived:
        db.session.execute(update(m).where(m.id.in_(revived), abandoned).values(status=MESSAGE_QUEUED,
                                                                                 next_attempt_at=now))
    overdue = now - timedelta(minutes=STUCK_QUEUED_MINUTES)
    late = db.session.scalars(select(m.id).where(
        m.status == MESSAGE_QUEUED,
        or_(m.next_attempt_at < overdue, and_(m.next_attempt_at.is_(None), m.created_at < overdue)))
        .order_by(m.id).limit(1000))
    return sorted({*revived, *late})


def message_target(message_id: int) -> tuple[int, str] | None:
    """(company id, "channel name · kind") of a message, for its job runs; None when it is gone."""
    row = db.session.execute(select(AlertMessage.company_id, AlertMessage.kind, AlertChannel.name)
                             .join(AlertChannel, AlertChannel.id == AlertMessage.channel_id)
                             .where(AlertMessage.id == message_id)).first()
    if row is None:
        return None
    return row.company_id, f"{row.name} · {row.kind}"[:120]


__all__ = ["SendOutcome", "build_digest", "claim_message", "deliver_claimed", "message_target", "resend_failed",
           "send_message", "stuck_messages", "waiting_channels"]
