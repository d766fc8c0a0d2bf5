"""All models, SQLAlchemy 2.0 typed style. Every row of company data carries company_id."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import (Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text,
                        UniqueConstraint, event, func)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .extensions import db
from .sorting import SortKeyType, sort_key

ROLE_ADMIN = "admin"
ROLE_MEMBER = "member"
ROLES = (ROLE_ADMIN, ROLE_MEMBER)

EMAIL_MAX = 254
NAME_MAX = 100


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _sort_key_of(source: str):
    """Column default for a sort key: computed from `source` for Core inserts that do not give it."""
    def default(context):
        return sort_key(context.get_current_parameters().get(source))
    return default


class UTCDateTime(db.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Company(db.Model):
    __tablename__ = "company"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The language of the alerts sent to the company's channels (portal/alerts): one of LANGUAGES.
    alert_language: Mapped[str] = mapped_column(String(8), default="zh", server_default="zh")

    users: Mapped[list[User]] = relationship(back_populates="company")


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    # The Users table lists a company's users by sort_name.
    __table_args__ = (Index("ix_user_account_company_sort_name", "company_id", "sort_name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(EMAIL_MAX), unique=True)  # stored lower-cased
    display_name: Mapped[str] = mapped_column(String(NAME_MAX))
    # The name's pinyin / case-folded key (portal/sorting.py), kept in step by _set_sort_name.
    sort_name: Mapped[str] = mapped_column(SortKeyType, server_default="", default=_sort_key_of("display_name"))
    role: Mapped[str] = mapped_column(String(16), default=ROLE_MEMBER)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # Part of the session id: bumping it ends every existing session of this user.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Optional, for @-mentions in alerts about the user's shops: a mobile number (WeCom, DingTalk) and
    # a platform user id (WeCom userid, DingTalk userId, Feishu open_id/user_id).
    alert_mobile: Mapped[str | None] = mapped_column(String(20))
    alert_user_id: Mapped[str | None] = mapped_column(String(64))

    company: Mapped[Company] = relationship(back_populates="users")

    @validates("display_name")
    def _set_sort_name(self, _key, value):
        self.sort_name = sort_key(value)
        return value

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


def count_users() -> int:
    return db.session.scalar(db.select(func.count(User.id))) or 0


# --- Amazon shops -------------------------------------------------------------------------------

SHOP_NAME_MAX = 100
SELLER_ID_MAX = 32
MODE_SINGLE = "single"
MODE_MULTI = "multi"
CHECK_NEVER, CHECK_VERIFIED, CHECK_FAILED = "never", "verified", "failed"


class SellerAuthorization(db.Model):
    """One seller's grant to the portal in one region: the LWA refresh token, encrypted.

    Several shops of the company may use it (one seller, several countries)."""

    __tablename__ = "seller_authorization"
    __table_args__ = (UniqueConstraint("company_id", "seller_id", "region"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    seller_id: Mapped[str] = mapped_column(String(SELLER_ID_MAX))  # normalized: trimmed, upper case
    region: Mapped[str] = mapped_column(String(2))
    token_ciphertext: Mapped[str] = mapped_column(Text)  # see portal/crypto.py; never rendered
    token_last4: Mapped[str] = mapped_column(String(4))
    authorized_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    token_updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    token_updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the last upstream check started: claimed atomically, so rapid clicks make one Amazon call.
    check_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    shops: Mapped[list[Shop]] = relationship(back_populates="authorization")


class Shop(db.Model):
    __tablename__ = "shop"
    __table_args__ = (UniqueConstraint("company_id", "name_key"),
                      # Counts and the attention banner read only these columns of a company's shops.
                      Index("ix_shop_company_authorization_status", "company_id", "authorization_id",
                            "check_status"),
                      # The list's name sorts read the page's ids from this index alone.
                      Index("ix_shop_company_sort_name", "company_id", "sort_name", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    authorization_id: Mapped[int] = mapped_column(ForeignKey("seller_authorization.id"), index=True)
    name: Mapped[str] = mapped_column(String(SHOP_NAME_MAX))
    name_key: Mapped[str] = mapped_column(String(SHOP_NAME_MAX))  # case-folded name: unique per company
    # The name's pinyin / case-folded key (portal/sorting.py), kept in step by _set_sort_name.
    sort_name: Mapped[str] = mapped_column(SortKeyType, server_default="", default=_sort_key_of("name"))
    mode: Mapped[str] = mapped_column(String(8), default=MODE_SINGLE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # Verification. The status is the last conclusive answer (verified or failed); a failure of
    # Amazon itself (unreachable, throttled, ...) is only recorded as the latest attempt.
    check_status: Mapped[str] = mapped_column(String(16), default=CHECK_NEVER, server_default=CHECK_NEVER)
    check_code: Mapped[str | None] = mapped_column(String(32))
    check_data: Mapped[str | None] = mapped_column(Text)  # JSON: marketplaces missing/suspended, ...
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_good_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    store_name: Mapped[str | None] = mapped_column(String(200))
    attempt_code: Mapped[str | None] = mapped_column(String(32))
    attempt_data: Mapped[str | None] = mapped_column(Text)
    attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempt_request_id: Mapped[str | None] = mapped_column(String(64))  # x-amzn-RequestId, for Amazon support

    authorization: Mapped[SellerAuthorization] = relationship(back_populates="shops", lazy="joined")
    marketplaces: Mapped[list[ShopMarketplace]] = relationship(
        back_populates="shop", cascade="all, delete-orphan", order_by="ShopMarketplace.position")
    assignments: Mapped[list[ShopAssignment]] = relationship(back_populates="shop", cascade="all, delete-orphan")

    @validates("name")
    def _set_sort_name(self, _key, value):
        self.sort_name = sort_key(value)
        return value

    @property
    def seller_id(self) -> str:
        return self.authorization.seller_id

    @property
    def region(self) -> str:
        return self.authorization.region

    @property
    def marketplace_ids(self) -> list[str]:
        return [m.marketplace_id for m in self.marketplaces]


class ShopMarketplace(db.Model):
    """A marketplace a shop covers. One marketplace of a seller belongs to one shop of the company:
    the unique constraint makes that hold under concurrent binds too."""

    __tablename__ = "shop_marketplace"
    __table_args__ = (UniqueConstraint("authorization_id", "marketplace_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id", ondelete="CASCADE"), index=True)
    authorization_id: Mapped[int] = mapped_column(ForeignKey("seller_authorization.id", ondelete="CASCADE"))
    marketplace_id: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=0)

    shop: Mapped[Shop] = relationship(back_populates="marketplaces")


class ShopAssignment(db.Model):
    __tablename__ = "shop_assignment"
    __table_args__ = (UniqueConstraint("shop_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    shop: Mapped[Shop] = relationship(back_populates="assignments")
    user: Mapped[User] = relationship()


# --- Other stores (records only) and orders entered by hand -------------------------------------

STORE_NAME_MAX = 100
ORDER_SOURCE_MANUAL, ORDER_SOURCE_AMAZON = "manual", "amazon"
ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")


class OtherStore(db.Model):
    """A shop on another platform, kept as a record: no API is called for it."""

    __tablename__ = "other_store"
    __table_args__ = (UniqueConstraint("company_id", "platform_key", "name_key"),
                      Index("ix_other_store_company_sort_name", "company_id", "sort_name", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))  # a code of portal/other_stores/platforms.py
    platform_other: Mapped[str | None] = mapped_column(String(60))  # the name, when platform is "other"
    platform_key: Mapped[str] = mapped_column(String(80))  # platform, or "other:<name case-folded>"
    name: Mapped[str] = mapped_column(String(STORE_NAME_MAX))
    name_key: Mapped[str] = mapped_column(String(STORE_NAME_MAX))
    # The name's pinyin / case-folded key (portal/sorting.py), kept in step by _set_sort_name.
    sort_name: Mapped[str] = mapped_column(SortKeyType, server_default="", default=_sort_key_of("name"))
    url: Mapped[str | None] = mapped_column(String(500))
    login_name: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    # The currency new orders start with: chosen, or that of the first country (TW -> TWD).
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    countries: Mapped[list[OtherStoreCountry]] = relationship(
        back_populates="store", cascade="all, delete-orphan", order_by="OtherStoreCountry.position")
    assignments: Mapped[list[OtherStoreAssignment]] = relationship(back_populates="store",
                                                                   cascade="all, delete-orphan")

    @validates("name")
    def _set_sort_name(self, _key, value):
        self.sort_name = sort_key(value)
        return value

    @property
    def country_codes(self) -> list[str]:
        return [c.country_code for c in self.countries]


class OtherStoreCountry(db.Model):
    __tablename__ = "other_store_country"
    __table_args__ = (UniqueConstraint("store_id", "country_code"), Index("ix_other_store_country_code",
                                                                          "country_code", "store_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("other_store.id", ondelete="CASCADE"))
    country_code: Mapped[str] = mapped_column(String(2))
    position: Mapped[int] = mapped_column(Integer, default=0)

    store: Mapped[OtherStore] = relationship(back_populates="countries")


class OtherStoreAssignment(db.Model):
    __tablename__ = "other_store_assignment"
    __table_args__ = (UniqueConstraint("store_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("other_store.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    store: Mapped[OtherStore] = relationship(back_populates="assignments")
    user: Mapped[User] = relationship()


class Order(db.Model):
    """An order of a store. Manual orders belong to an other store; orders pulled from Amazon later
    belong to a shop (source "amazon") and live in the same table."""

    __tablename__ = "store_order"
    __table_args__ = (
        UniqueConstraint("other_store_id", "order_number"),
        UniqueConstraint("shop_id", "order_number"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint("(other_store_id IS NULL) <> (shop_id IS NULL)", name="one_store"),
        Index("ix_store_order_store_date", "other_store_id", "order_date"),
        # The Orders page: a company's (or a shop's) orders newest first, paged by (order_date, id).
        Index("ix_store_order_company_date", "company_id", "order_date", "id"),
        Index("ix_store_order_shop_date", "shop_id", "order_date", "id"),
        # Orders pulled from Amazon are upserted by their Amazon order id (NULL for manual orders).
        UniqueConstraint("company_id", "source", "amazon_order_id", name="uq_store_order_amazon_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16), default=ORDER_SOURCE_MANUAL)
    other_store_id: Mapped[int | None] = mapped_column(ForeignKey("other_store.id", ondelete="CASCADE"))
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shop.id", ondelete="CASCADE"), index=True)
    order_number: Mapped[str] = mapped_column(String(64))
    order_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    buyer_name: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # Orders from Amazon (source "amazon"): read-only copies, newest lastUpdatedTime wins.
    amazon_order_id: Mapped[str | None] = mapped_column(String(64))
    marketplace_id: Mapped[str | None] = mapped_column(String(20))
    amazon_status: Mapped[str | None] = mapped_column(String(32))  # fulfillmentStatus as Amazon sends it
    fulfillment_channel: Mapped[str | None] = mapped_column(String(16))  # AMAZON or MERCHANT
    item_count: Mapped[int | None] = mapped_column(Integer)
    ordered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


SYNC_NEVER, SYNC_RUNNING, SYNC_OK, SYNC_WAITING, SYNC_ERROR, SYNC_STOPPED = (
    "never", "running", "ok", "waiting", "error", "stopped")


class OrdersSyncState(db.Model):
    """Order sync of one seller authorization, shared by every process: the searchOrders token bucket,
    the cursor, the run in progress (its parameters and pagination token), the lease, the last result.

    The bucket and the lease are taken with single atomic UPDATEs (portal/orders_sync.py)."""

    __tablename__ = "orders_sync_state"

    authorization_id: Mapped[int] = mapped_column(ForeignKey("seller_authorization.id", ondelete="CASCADE"),
                                                  primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=SYNC_NEVER)
    # Rate budget: tokens left and when they were counted (epoch seconds).
    bucket_level: Mapped[float] = mapped_column(db.Float)
    bucket_at: Mapped[float] = mapped_column(db.Float)
    # lastUpdatedBefore (or createdBefore of the backfill) of the last complete run.
    cursor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The run in progress: its parameters are repeated with its pagination token on every page.
    run_family: Mapped[str | None] = mapped_column(String(8))
    run_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_marketplaces: Mapped[str | None] = mapped_column(Text)  # comma-separated, all chunks
    run_chunk: Mapped[int] = mapped_column(Integer, default=0)
    run_token: Mapped[str | None] = mapped_column(Text)
    run_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_pages: Mapped[int] = mapped_column(Integer, default=0)
    run_orders: Mapped[int] = mapped_column(Integer, default=0)
    # Results.
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_orders: Mapped[int] = mapped_column(Integer, default=0)  # orders written by the last complete run
    orders_total: Mapped[int] = mapped_column(Integer, default=0)  # orders ever created by the sync
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_detail: Mapped[str | None] = mapped_column(String(300))
    error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    request_id: Mapped[str | None] = mapped_column(String(64))  # x-amzn-RequestId of the last answer
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # no call to Amazon before this
    # A stopped sync stays stopped while the authorization's token_updated_at is still this one.
    stopped_token_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- Audit trail ----------------------------------------------------------------------------------

class AuditEvent(db.Model):
    """Append-only record of who did what, when, from where, and how it ended. Never a secret."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_company_time", "company_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    user_label: Mapped[str | None] = mapped_column(String(EMAIL_MAX))  # the email at the time, or the one tried
    action: Mapped[str] = mapped_column(String(48))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[int | None] = mapped_column(Integer)
    object_label: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(String(500))
    ip: Mapped[str | None] = mapped_column(String(64))


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _audit_is_append_only(_mapper, _connection, _target):
    raise RuntimeError("audit events are append-only")


# --- Counters shared by every worker: sign-in throttling, sampling of anonymous audit events -------

class ThrottleCounter(db.Model):
    """One counting window per key, taken atomically (INSERT … ON CONFLICT DO UPDATE … RETURNING), so
    the limit holds exactly across worker processes without Redis. See portal/throttle.py."""

    __tablename__ = "throttle_counter"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    # Epoch seconds at which the window ends and the count starts again from zero.
    reset_at: Mapped[int] = mapped_column(db.BigInteger, index=True)


# --- Authorize with Amazon (website authorization workflow) -----------------------------------------

AUTH_PURPOSE_NEW, AUTH_PURPOSE_REAUTHORIZE = "new", "reauthorize"


class AmazonAuthState(db.Model):
    """One "Authorize with Amazon" attempt: the OAuth `state` (only its SHA-256 is stored), bound to
    the user, company, purpose and region; single-use and short-lived. Between Amazon's callback and
    the finished dialog it holds the refresh token, encrypted, never sent to the browser."""

    __tablename__ = "amazon_auth_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))  # AUTH_PURPOSE_NEW or AUTH_PURPOSE_REAUTHORIZE
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shop.id", ondelete="CASCADE"))
    region: Mapped[str] = mapped_column(String(2))
    marketplace_id: Mapped[str] = mapped_column(String(20))
    shop_name: Mapped[str | None] = mapped_column(String(SHOP_NAME_MAX))  # typed before leaving, if any
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Filled by the callback for a new shop; cleared when the dialog is finished.
    seller_id: Mapped[str | None] = mapped_column(String(SELLER_ID_MAX))
    token_ciphertext: Mapped[str | None] = mapped_column(Text)
    participations: Mapped[str | None] = mapped_column(Text)  # JSON list of marketplace ids, or null
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- Job queue (portal/queue.py): what ran, the consumers' heartbeats, claimed periodic slots ------

JOB_QUEUED, JOB_RUNNING, JOB_OK, JOB_FAILED = "queued", "running", "ok", "failed"


class JobRun(db.Model):
    """One run of a queued job, for the Jobs page: created when a job is queued (Sync now) or when it
    starts, finished with its status. company_id is None for the portal's own jobs (cycle, daily verify)."""

    __tablename__ = "job_run"
    __table_args__ = (Index("ix_job_run_company_started", "company_id", "started_at"),
                      Index("ix_job_run_authorization", "authorization_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    authorization_id: Mapped[int | None] = mapped_column(Integer)  # kept after the authorization is deleted
    target: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default=JOB_QUEUED)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(String(300))
    consumer: Mapped[str | None] = mapped_column(String(64))


class JobHeartbeat(db.Model):
    """The last sign of life of each job consumer (one row per consumer process)."""

    __tablename__ = "job_heartbeat"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class JobClaim(db.Model):
    """The last slot of a periodic job that a consumer claimed: every consumer's scheduler enqueues the
    periodic jobs, and one atomic UPDATE lets exactly one of them do the work of a slot."""

    __tablename__ = "job_claim"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    slot: Mapped[int] = mapped_column(db.BigInteger, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consumer: Mapped[str | None] = mapped_column(String(64))


# --- Alerts (portal/alerts): channels, events, the messages sent and who has seen what -------------

ALERT_CHANNEL_NAME_MAX = 60
MESSAGE_QUEUED, MESSAGE_SENDING, MESSAGE_SENT, MESSAGE_FAILED = "queued", "sending", "sent", "failed"
DIGEST = "digest"  # alert_message.kind of a daily digest


class AlertChannel(db.Model):
    """Where a company's alerts go: a WeCom, DingTalk or Feishu/Lark robot, or e-mail recipients.

    The webhook URL and signing secret are credentials: encrypted together in ``config_ciphertext``
    (portal/crypto.py, sealed to this row), never rendered; ``target_host`` (the URL's host) and
    ``has_secret`` are what the pages show. ``events`` is a comma-separated list of alert kinds."""

    __tablename__ = "alert_channel"
    __table_args__ = (UniqueConstraint("company_id", "name_key", name="uq_alert_channel_company_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(ALERT_CHANNEL_NAME_MAX))
    name_key: Mapped[str] = mapped_column(String(ALERT_CHANNEL_NAME_MAX))
    kind: Mapped[str] = mapped_column(String(16))  # wecom | dingtalk | feishu | email
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    events: Mapped[str] = mapped_column(Text, default="")
    digest: Mapped[bool] = mapped_column(Boolean, default=False)  # one message a day instead of one per event
    mention_assignees: Mapped[bool] = mapped_column(Boolean, default=True)
    config_ciphertext: Mapped[str | None] = mapped_column(Text)
    target_host: Mapped[str | None] = mapped_column(String(255))
    has_secret: Mapped[bool] = mapped_column(Boolean, default=False)
    email_to: Mapped[str | None] = mapped_column(String(1000))  # comma-separated addresses (e-mail)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_test_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_test_summary: Mapped[str | None] = mapped_column(String(300))

    def event_kinds(self) -> list[str]:
        return [kind for kind in (self.events or "").split(",") if kind]


class AlertEvent(db.Model):
    """Something about one shop worth telling its team, recorded once: (shop, kind, episode) is unique.

    ``episode`` names the occurrence, so the next scan does not repeat it and a new one (after a
    re-authorization, a recovery) is a new row: e.g. ``30:<authorized_at>`` for "expires in 30 days".
    ``closed_at``: the condition is over (re-authorized, recovered); closed events are no longer open
    alerts in the portal."""

    __tablename__ = "alert_event"
    __table_args__ = (UniqueConstraint("shop_id", "kind", "episode", name="uq_alert_event_shop_kind_episode"),
                      Index("ix_alert_event_company_open", "company_id", "closed_at", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shop.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # a kind of portal/alerts/messages.py
    episode: Mapped[str] = mapped_column(String(64))
    days: Mapped[int | None] = mapped_column(Integer)  # the threshold, for "expires in N days"
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # expiry, or since when it fails
    detail: Mapped[str | None] = mapped_column(String(300))  # a short code/reason, never a secret
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    shop: Mapped[Shop] = relationship()


class AlertSeen(db.Model):
    """A user marked an alert seen (in the portal): it no longer counts in their header."""

    __tablename__ = "alert_seen"

    event_id: Mapped[int] = mapped_column(ForeignKey("alert_event.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertMessage(db.Model):
    """One message to one channel: about one or more events (grouped by kind), or a daily digest.
    Sent by the alerts.send job; retried with back-off while the failure is retryable, then failed."""

    __tablename__ = "alert_message"
    __table_args__ = (Index("ix_alert_message_status_next", "status", "next_attempt_at"),
                      Index("ix_alert_message_company_created", "company_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("alert_channel.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # an event kind, or DIGEST
    status: Mapped[str] = mapped_column(String(16), default=MESSAGE_QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_summary: Mapped[str | None] = mapped_column(String(300))  # DeliveryResult.summary(), never a secret
    last_code: Mapped[int | None] = mapped_column(Integer)

    channel: Mapped[AlertChannel] = relationship()


class AlertDelivery(db.Model):
    """An event owed to a channel: (event, channel) is unique, so no event reaches a channel twice.
    ``message_id`` is set when a message carries it (at once, or in the channel's next digest)."""

    __tablename__ = "alert_delivery"
    __table_args__ = (UniqueConstraint("event_id", "channel_id", name="uq_alert_delivery_event_channel"),
                      Index("ix_alert_delivery_channel_waiting", "channel_id", "message_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("alert_event.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("alert_channel.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("alert_message.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
