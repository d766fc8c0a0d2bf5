"""Portal configuration: every setting comes from an environment variable.

Secrets (`SECRET_KEY`, `TOKEN_ENC_KEYS`) are resolved in `portal.keys` at start-up: from the
environment, else from owner-only files under `instance/`, generated on first start unless
`PORTAL_ENV=production` asks for them to be configured explicitly.
"""
import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"Configuration error: {name} must be a whole number, got {value!r}.") from None


def env_float(name: str, default: float) -> float:
    value = env_str(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"Configuration error: {name} must be a number, got {value!r}.") from None


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise SystemExit(f"Configuration error: {name} must be 1 or 0, got {value!r}.")


def env_list(name: str) -> list[str]:
    value = env_str(name)
    return [part.strip() for part in value.split(",") if part.strip()] if value else []


class Config:
    """Settings for a running portal; tests subclass it (tests/conftest.py)."""

    PORTAL_ENV = env_str("PORTAL_ENV", "development")  # "production" refuses generated keys
    INSTANCE_PATH = env_str("INSTANCE_PATH", str(BASE_DIR / "instance"))

    SECRET_KEY = env_str("SECRET_KEY")
    TOKEN_ENC_KEYS = env_str("TOKEN_ENC_KEYS")

    SQLALCHEMY_DATABASE_URI = env_str("DATABASE_URL")  # default: SQLite file under INSTANCE_PATH
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLITE_BUSY_TIMEOUT_MS = env_int("SQLITE_BUSY_TIMEOUT_MS", 15000)

    # Sessions and cookies
    PORTAL_HTTPS = env_bool("PORTAL_HTTPS", False)
    SESSION_COOKIE_NAME = "portal_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 120)
    SESSION_MAX_HOURS = env_int("SESSION_MAX_HOURS", 12)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=SESSION_MAX_HOURS)
    REMEMBER_COOKIE_DURATION = timedelta(days=14)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PROXY_FIX_HOPS = env_int("PROXY_FIX_HOPS", 0)  # reverse proxies in front of the portal
    TRUSTED_HOSTS = env_list("TRUSTED_HOSTS") or None

    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 1024 * 1024)
    MAX_FORM_MEMORY_SIZE = MAX_CONTENT_LENGTH

    # Passwords: Argon2id with OWASP's m=12 MiB, t=3, p=1 (tests use a cheap Werkzeug method for speed).
    PASSWORD_HASH_METHOD = "argon2id"
    ARGON2_MEMORY_KIB = env_int("ARGON2_MEMORY_KIB", 12288)
    ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 3)
    ARGON2_PARALLELISM = 1
    PASSWORD_MIN_LENGTH = 8
    PASSWORD_MAX_LENGTH = 128

    # Sign-in throttling (portal/throttle.py): counters in the database every worker shares, or in
    # Redis when REDIS_URL is set (its keys start with THROTTLE_KEY_PREFIX).
    REDIS_URL = env_str("REDIS_URL")
    THROTTLE_KEY_PREFIX = env_str("THROTTLE_KEY_PREFIX", "portal")
    LOGIN_LIMIT_PER_IP = env_str("LOGIN_LIMIT_PER_IP", "20 per 5 minutes")
    LOGIN_LIMIT_PER_ACCOUNT = env_str("LOGIN_LIMIT_PER_ACCOUNT", "5 per 5 minutes")
    # Refusals of anonymous callers: the first per address and action in this many seconds is audited,
    # the others only counted (0: audit every one).
    AUDIT_SAMPLE_SECONDS = env_int("AUDIT_SAMPLE_SECONDS", 60)

    # Forms
    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead; sessions time out on their own

    # Front end
    HTMX_SOURCE = env_str("HTMX_SOURCE", "cdn")  # "cdn" (with same-origin fallback) or "local"
    HTMX_VERSION = "2.0.11"
    # Any mirror must serve the identical file: the browser checks it against HTMX_CDN_INTEGRITY.
    HTMX_CDN_URL = env_str("HTMX_CDN_URL", "https://cdn.jsdelivr.net/npm/htmx.org@2.0.11/dist/htmx.min.js")
    HTMX_CDN_INTEGRITY = env_str("HTMX_CDN_INTEGRITY",
                                 "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg")
    # Past this many milliseconds without the CDN file, the same-origin copy is used.
    HTMX_CDN_TIMEOUT_MS = env_int("HTMX_CDN_TIMEOUT_MS", 2000)

    # Languages
    LANGUAGES = ["zh", "en"]
    BABEL_DEFAULT_LOCALE = env_str("DEFAULT_LANGUAGE", "zh")
    BABEL_DEFAULT_TIMEZONE = env_str("TIMEZONE", "Asia/Shanghai")
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "portal" / "translations")

    PAGE_SIZE = env_int("PAGE_SIZE", 50)

    LOG_LEVEL = env_str("LOG_LEVEL", "INFO")

    # Amazon shops
    SELLER_ID_PATTERN = env_str("SELLER_ID_PATTERN", r"A[0-9A-Z]{9,15}")
    AUTHORIZATION_VALIDITY_DAYS = env_int("AUTHORIZATION_VALIDITY_DAYS", 365)
    AUTHORIZATION_WARN_DAYS = env_int("AUTHORIZATION_WARN_DAYS", 30)
    # MWS-era developer name and per-region developer IDs: shown in the paste guidance only when the
    # operator sets them (they never yield an SP-API refresh token).
    AMAZON_DEVELOPER_NAME = env_str("AMAZON_DEVELOPER_NAME")
    AMAZON_DEVELOPER_ID_NA = env_str("AMAZON_DEVELOPER_ID_NA")
    AMAZON_DEVELOPER_ID_EU = env_str("AMAZON_DEVELOPER_ID_EU")
    AMAZON_DEVELOPER_ID_FE = env_str("AMAZON_DEVELOPER_ID_FE")
    # "Authorize with Amazon" (website authorization workflow of a public app); off without an app id.
    AMAZON_APP_ID = env_str("AMAZON_APP_ID")
    AMAZON_REDIRECT_URI = env_str("AMAZON_REDIRECT_URI")  # default: this portal's /amazon/callback
    AMAZON_APP_DRAFT = env_bool("AMAZON_APP_DRAFT", False)  # adds version=beta for a draft app
    AMAZON_SELLER_CENTRAL_URL = env_str("AMAZON_SELLER_CENTRAL_URL")  # one base URL for every consent link
    AMAZON_AUTH_STATE_MINUTES = env_int("AMAZON_AUTH_STATE_MINUTES", 10)

    # Amazon SP-API: the portal's application, where to call, how patiently.
    AMAZON_LWA_CLIENT_ID = env_str("AMAZON_LWA_CLIENT_ID")
    AMAZON_LWA_CLIENT_SECRET = env_str("AMAZON_LWA_CLIENT_SECRET")
    AMAZON_LWA_TOKEN_URL = env_str("AMAZON_LWA_TOKEN_URL", "https://api.amazon.com/auth/o2/token")
    AMAZON_SPAPI_ENDPOINT_NA = env_str("AMAZON_SPAPI_ENDPOINT_NA", "https://sellingpartnerapi-na.amazon.com")
    AMAZON_SPAPI_ENDPOINT_EU = env_str("AMAZON_SPAPI_ENDPOINT_EU", "https://sellingpartnerapi-eu.amazon.com")
    AMAZON_SPAPI_ENDPOINT_FE = env_str("AMAZON_SPAPI_ENDPOINT_FE", "https://sellingpartnerapi-fe.amazon.com")
    AMAZON_CONNECT_TIMEOUT = env_float("AMAZON_CONNECT_TIMEOUT", 3.0)
    AMAZON_READ_TIMEOUT = env_float("AMAZON_READ_TIMEOUT", 8.0)
    AMAZON_MAX_TRIES = env_int("AMAZON_MAX_TRIES", 3)
    AMAZON_MAX_TOTAL_WAIT = env_float("AMAZON_MAX_TOTAL_WAIT", 6.0)
    AMAZON_MAX_TOTAL_TIME = env_float("AMAZON_MAX_TOTAL_TIME", 20.0)
    # At most one Amazon check per seller authorization in this many seconds (the Sellers API refills
    # one request every 62.5 s).
    VERIFY_THROTTLE_SECONDS = env_int("VERIFY_THROTTLE_SECONDS", 63)

    # Orders from Amazon (searchOrders v2026-01-01), synced per seller authorization.
    ORDERS_BACKFILL_DAYS = env_int("ORDERS_BACKFILL_DAYS", 30)  # the first run's createdAfter window
    ORDERS_SYNC_MINUTES = env_int("ORDERS_SYNC_MINUTES", 15)  # how often an authorization is due
    ORDERS_OVERLAP_MINUTES = env_int("ORDERS_OVERLAP_MINUTES", 5)  # incremental runs start this much earlier
    ORDERS_BEFORE_LAG_SECONDS = env_int("ORDERS_BEFORE_LAG_SECONDS", 180)  # …Before: >= 2 minutes before now
    ORDERS_PAGE_SIZE = env_int("ORDERS_PAGE_SIZE", 100)  # maxResultsPerPage
    # searchOrders usage plan per seller and app: 0.0056 requests/s, burst 20.
    ORDERS_RATE_PER_SECOND = env_float("ORDERS_RATE_PER_SECOND", 0.0056)
    ORDERS_BURST = env_int("ORDERS_BURST", 20)
    # The Orders page's shop filter is a select up to this many shops and other shops, a name search beyond.
    ORDERS_PLACE_SELECT_LIMIT = env_int("ORDERS_PLACE_SELECT_LIMIT", 300)
    # Spend a token only with this much refill to spare: requests arrive at Amazon unevenly (see take_token).
    ORDERS_BUCKET_MARGIN_SECONDS = env_float("ORDERS_BUCKET_MARGIN_SECONDS", 1.0)
    ORDERS_THROTTLE_WAIT_SECONDS = env_int("ORDERS_THROTTLE_WAIT_SECONDS", 180)  # after a 429 (never less)
    ORDERS_BUCKET_MAX_WAIT_SECONDS = env_float("ORDERS_BUCKET_MAX_WAIT_SECONDS", 0.0)  # wait in a run for a token
    ORDERS_LEASE_SECONDS = env_int("ORDERS_LEASE_SECONDS", 600)  # one consumer per authorization
    ORDERS_MAX_TRIES = env_int("ORDERS_MAX_TRIES", 3)  # per page, on 5xx/timeouts
    ORDERS_RETRY_BACKOFF_SECONDS = env_float("ORDERS_RETRY_BACKOFF_SECONDS", 2.0)
    ORDERS_ERROR_RETRY_MINUTES = env_int("ORDERS_ERROR_RETRY_MINUTES", 5)  # after a run failed transiently

    # Job queue (portal/queue.py, huey): a SQLite file in the instance folder, or Redis when REDIS_URL is
    # set (then every consumer on every machine sharing the database and Redis takes jobs from one queue).
    JOBS_QUEUE_NAME = env_str("JOBS_QUEUE_NAME", "portal")  # the huey name (Redis key prefix)
    JOBS_SQLITE_FILE = env_str("JOBS_SQLITE_FILE")  # default: INSTANCE_PATH/jobs.db
    JOBS_WORKERS = env_int("JOBS_WORKERS", 2)  # worker threads per consumer
    JOBS_SYNC_MAX_PAGES = env_int("JOBS_SYNC_MAX_PAGES", 20)  # pages per sync job; the job re-queues itself
    JOBS_SYNC_NOW_SECONDS = env_int("JOBS_SYNC_NOW_SECONDS", 60)  # "Sync now": once per authorization per …
    JOBS_VERIFY_HOUR = env_int("JOBS_VERIFY_HOUR", 19)  # daily verify of every shop at this UTC hour (03:00 Beijing)
    JOBS_VERIFY_WORKERS = env_int("JOBS_VERIFY_WORKERS", 4)
    JOBS_KEEP_RUNS = env_int("JOBS_KEEP_RUNS", 5000)  # job run history kept for the Jobs page

    # Alerts (portal/alerts): links in messages, which webhook origins may be called, SMTP for e-mail.
    PORTAL_BASE_URL = env_str("PORTAL_BASE_URL")  # e.g. https://portal.example.com
    # Comma-separated; replaces the platforms' own hosts. A bare host allows https on 443; an origin
    # with scheme and port (http://127.0.0.1:8025) allows exactly that. Listed hosts may be private.
    ALERT_ALLOWED_HOSTS = env_str("ALERT_ALLOWED_HOSTS")
    ALERT_TIMEOUT_SECONDS = env_float("ALERT_TIMEOUT_SECONDS", 5.0)
    ALERT_CA_BUNDLE = env_str("ALERT_CA_BUNDLE")  # PEM file of extra CAs (an on-premise gateway); default: system
    SMTP_HOST = env_str("SMTP_HOST")
    SMTP_PORT = env_int("SMTP_PORT", 0)  # 0: 587 for starttls, 465 for ssl, 25 for none
    SMTP_USER = env_str("SMTP_USER")
    SMTP_PASSWORD = env_str("SMTP_PASSWORD")
    SMTP_FROM = env_str("SMTP_FROM")  # default: SMTP_USER
    SMTP_SECURITY = env_str("SMTP_SECURITY", "starttls")  # starttls | ssl | none
    ALERTS_SCAN_MINUTES = env_int("ALERTS_SCAN_MINUTES", 5)  # how often the queue looks for new alert events
    ALERTS_EXPIRY_DAYS = env_str("ALERTS_EXPIRY_DAYS", "30,7,1")  # "expires in N days" thresholds
    ALERTS_SYNC_FAILING_MINUTES = env_int("ALERTS_SYNC_FAILING_MINUTES", 60)  # an order sync failing this long
    ALERTS_MAX_ATTEMPTS = env_int("ALERTS_MAX_ATTEMPTS", 6)  # sends of one message before it is failed
    ALERTS_RETRY_SECONDS = env_int("ALERTS_RETRY_SECONDS", 30)  # first retry; doubles each time (30 s, 1, 2, 4, 8 min)
    ALERTS_DIGEST_HOUR = env_int("ALERTS_DIGEST_HOUR", 9)  # daily digest at this hour of TIMEZONE
    ALERTS_TEST_SECONDS = env_int("ALERTS_TEST_SECONDS", 10)  # "Send test": once per channel per …
