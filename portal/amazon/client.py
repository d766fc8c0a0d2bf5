"""SP-API client: checks a seller authorization (LWA refresh token) against the Sellers API.

One call, :meth:`SpApiClient.check_authorization`, exchanges the refresh token for an access token
(Login with Amazon) and calls ``getMarketplaceParticipations``. Every failure becomes a
:class:`VerifyOutcome` with a code; nothing here raises for an Amazon-side problem, and nothing here
logs or returns a token or secret.

Reliability rules (shared/SECURITY.md, "Calls to Amazon"): explicit timeouts; retries only on
timeouts, connection errors and 5xx, and on a 429 only when it carries a ``Retry-After`` that fits
the time budget (Amazon's 429 usually has none, and the Sellers API refills one request every
62.5 s, so a blind retry would only be throttled again); at most ``max_tries`` tries per HTTP
call; exponential back-off with full jitter; bounded total sleeping and total time so a verify
click always answers before a browser or worker timeout.

Every outcome keeps the ``x-amzn-RequestId`` of the last answer Amazon gave (what Amazon support
asks for), and it is logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar
from typing import Any

import httpx

from portal.amazon.marketplaces import REGIONS, marketplace_by_id

log = logging.getLogger(__name__)

VERIFIED = "verified"
INVALID_GRANT = "invalid_grant"
INVALID_CLIENT = "invalid_client"
FORBIDDEN = "forbidden"
NOT_PARTICIPATING = "not_participating"
THROTTLED = "throttled"
UNAVAILABLE = "unavailable"
BAD_RESPONSE = "bad_response"
NOT_CONFIGURED = "not_configured"
BAD_REQUEST = "bad_request"
# The portal's LWA client secret has expired (Amazon says so in a 403 of the Sellers API): the
# portal's own credentials are at fault, like INVALID_CLIENT, not the shop's authorization.
SECRET_EXPIRED = "secret_expired"
# Amazon refused the request for a reason our input did not cause (LWA unauthorized_client or
# invalid_request, SP-API 404/413/415 or another 4xx): says nothing about the shop.
REFUSED = "refused"

ALL_CODES: tuple[str, ...] = (
    VERIFIED, INVALID_GRANT, INVALID_CLIENT, FORBIDDEN, NOT_PARTICIPATING,
    THROTTLED, UNAVAILABLE, BAD_RESPONSE, NOT_CONFIGURED, BAD_REQUEST, SECRET_EXPIRED, REFUSED,
)
# Failures of Amazon itself: they say nothing about the shop, so they must not overwrite its
# last good status.
TRANSIENT_CODES = frozenset({THROTTLED, UNAVAILABLE, BAD_RESPONSE})

DEFAULT_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
DEFAULT_ENDPOINTS: dict[str, str] = {code: r.default_endpoint for code, r in REGIONS.items()}
# getMarketplaceParticipations allows 0.016 requests/s per seller: one request refills every 62.5 s.
DEFAULT_THROTTLE_SECONDS = 63
PARTICIPATIONS_PATH = "/sellers/v1/marketplaceParticipations"
USER_AGENT = "ShopPortal/1.0 (Language=Python)"

_REQUIRED_SETTINGS = ("AMAZON_LWA_CLIENT_ID", "AMAZON_LWA_CLIENT_SECRET")
# Only short code-like words from Amazon's error bodies go into `detail`, never free text that
# could echo a parameter back.
_SAFE_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")
# x-amzn-RequestId is a UUID-like reference; anything else is not kept.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
# What Amazon's Sellers API puts in `details` of a 403 when the portal's LWA client secret expired.
_SECRET_EXPIRED_DETAILS = "The LWA secret token you provided has expired."
_TOKEN_MISSING_DETAILS = "Access token is missing in the request header."
# The LWA client id of an SP-API application; the app id (amzn1.sp.solution.… /
# amzn1.sellerapps.app.…) pasted in its place gives invalid_client.
_LWA_CLIENT_ID = re.compile(r"^amzn1\.application-oa2-client\.[0-9a-z]+$")


@dataclass(frozen=True)
class AmazonSettings:
    """Where and how to call Amazon. Build it with :meth:`from_config` from the Flask config."""

    lwa_token_url: str = DEFAULT_TOKEN_URL
    endpoints: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_ENDPOINTS), hash=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    connect_timeout: float = 3.0
    read_timeout: float = 8.0
    max_tries: int = 3
    max_total_wait: float = 6.0
    backoff_base: float = 0.5
    # Hard cap on one whole check (both HTTP calls, all tries and sleeps), below the usual 30 s
    # worker/proxy timeout, so a slow Amazon gives an "unavailable" row instead of a 502.
    max_total_time: float = 20.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AmazonSettings:
        """Read ``AMAZON_*`` keys from a Flask-style mapping; missing or empty keys get defaults."""

        def get(key: str) -> Any:
            value = config.get(key)
            if isinstance(value, str):
                value = value.strip()
            return None if value in (None, "") else value

        defaults = cls()
        endpoints = {
            code: str(get(f"AMAZON_SPAPI_ENDPOINT_{code}") or url).rstrip("/")
            for code, url in DEFAULT_ENDPOINTS.items()
        }
        return cls(
            lwa_token_url=str(get("AMAZON_LWA_TOKEN_URL") or defaults.lwa_token_url),
            endpoints=endpoints,
            client_id=_opt_str(get("AMAZON_LWA_CLIENT_ID")),
            client_secret=_opt_str(get("AMAZON_LWA_CLIENT_SECRET")),
            connect_timeout=float(get("AMAZON_CONNECT_TIMEOUT") or defaults.connect_timeout),
            read_timeout=float(get("AMAZON_READ_TIMEOUT") or defaults.read_timeout),
            max_tries=max(1, int(get("AMAZON_MAX_TRIES") or defaults.max_tries)),
            max_total_wait=float(get("AMAZON_MAX_TOTAL_WAIT") or defaults.max_total_wait),
            backoff_base=float(get("AMAZON_BACKOFF_BASE") or defaults.backoff_base),
            max_total_time=float(get("AMAZON_MAX_TOTAL_TIME") or defaults.max_total_time),
        )

    def missing_settings(self) -> list[str]:
        """Names of required settings that are empty: without them no call to Amazon is made."""
        values = (self.client_id, self.client_secret)
        return [name for name, value in zip(_REQUIRED_SETTINGS, values) if not value]


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def settings_warnings(config: Mapping[str, Any]) -> list[str]:
    """Problems in the AMAZON_* settings worth a warning at start-up (empty list: none)."""
    client_id = config.get("AMAZON_LWA_CLIENT_ID")
    client_id = client_id.strip() if isinstance(client_id, str) else client_id
    if client_id and not _LWA_CLIENT_ID.match(str(client_id)):
        hint = ""
        if str(client_id).startswith(("amzn1.sp.solution.", "amzn1.sellerapps.app.")):
            hint = " It looks like the application ID, not the LWA client ID."
        return ["AMAZON_LWA_CLIENT_ID does not look like an LWA client ID "
                "(amzn1.application-oa2-client.…); Amazon will answer invalid_client." + hint]
    return []


def warn_about_settings(app: Any) -> None:
    """Log :func:`settings_warnings` for a starting Flask app."""
    for warning in settings_warnings(app.config):
        app.logger.warning(warning)


@dataclass(frozen=True)
class VerifyOutcome:
    """The result of one authorization check. ``detail`` is for logs and never holds a secret."""

    code: str
    store_name: str | None = None
    participations: list[dict[str, Any]] = field(default_factory=list)
    missing_marketplaces: list[str] = field(default_factory=list)
    suspended_marketplaces: list[str] = field(default_factory=list)
    retry_after: int | None = None
    missing_settings: list[str] = field(default_factory=list)
    detail: str = ""
    attempts: int = 0
    # x-amzn-RequestId of the last answer Amazon gave during this check (for Amazon support).
    request_id: str | None = None
    # What Amazon answered, as "<status> <error code>" (e.g. "404 NotFound"), for REFUSED texts.
    amazon_code: str | None = None
    transient: bool = field(init=False)

    def __post_init__(self) -> None:
        if self.code not in ALL_CODES:
            raise ValueError(f"unknown outcome code {self.code!r}")
        object.__setattr__(self, "transient", self.code in TRANSIENT_CODES)

    @property
    def ok(self) -> bool:
        """True when Amazon confirmed the authorization for every selected marketplace."""
        return self.code == VERIFIED


class _Failed(Exception):
    """Internal: stops a check early with an outcome."""

    def __init__(self, code: str, detail: str, retry_after: int | None = None,
                 amazon_code: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after
        self.amazon_code = amazon_code


class AccessTokenCache:
    """Thread-safe cache of LWA access tokens.

    Keyed by ``(auth_key, sha256(refresh_token))``: one seller's token is never served for another,
    and a replaced refresh token never reuses the old access token. A per-key lock makes concurrent
    checks of one authorization share a single LWA call without blocking other keys.
    """

    def __init__(self, *, safety_margin: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._margin = safety_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}

    @staticmethod
    def _key(auth_key: str, refresh_token: str) -> tuple[str, str]:
        return str(auth_key), hashlib.sha256(refresh_token.encode()).hexdigest()

    def _valid(self, key: tuple[str, str]) -> str | None:
        entry = self._tokens.get(key)
        if entry is not None and entry[1] > self._clock():
            return entry[0]
        return None

    def get(self, auth_key: str, refresh_token: str) -> str | None:
        """Return a still-valid cached access token, or None."""
        with self._lock:
            return self._valid(self._key(auth_key, refresh_token))

    def get_or_fetch(self, auth_key: str, refresh_token: str,
                     fetch: Callable[[], tuple[str, float]]) -> tuple[str, bool]:
        """Return ``(access_token, from_cache)``; call ``fetch() -> (token, expires_in)`` if needed.

        Exceptions from ``fetch`` propagate and nothing is cached.
        """
        key = self._key(auth_key, refresh_token)
        with self._lock:
            token = self._valid(key)
            if token is not None:
                return token, True
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                token = self._valid(key)
            if token is not None:
                return token, True
            token, expires_in = fetch()
            self._store(key, token, expires_in)
            return token, False

    def _store(self, key: tuple[str, str], token: str, expires_in: float) -> None:
        now = self._clock()
        with self._lock:
            for other in [k for k, (_, exp) in self._tokens.items()
                          if exp <= now or (k[0] == key[0] and k != key)]:
                del self._tokens[other]
            for other in [k for k in self._key_locks if k[0] == key[0] and k != key]:
                del self._key_locks[other]
            lifetime = expires_in - self._margin
            if lifetime > 0:
                self._tokens[key] = (token, now + lifetime)

    def invalidate(self, auth_key: str, refresh_token: str, token: str | None = None) -> None:
        """Drop the cached token (only if it is still ``token``, when given)."""
        key = self._key(auth_key, refresh_token)
        with self._lock:
            entry = self._tokens.get(key)
            if entry is not None and (token is None or entry[0] == token):
                del self._tokens[key]

    def clear(self) -> None:
        """Forget every cached token."""
        with self._lock:
            self._tokens.clear()
            self._key_locks.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


default_token_cache = AccessTokenCache()


class _Budget:
    """Per-check accounting: HTTP requests made, back-off slept, overall deadline."""

    def __init__(self, settings: AmazonSettings, clock: Callable[[], float]) -> None:
        self.attempts = 0
        self.slept = 0.0
        self.request_id: str | None = None  # of the last response received
        self._clock = clock
        self._deadline = clock() + settings.max_total_time

    def remaining(self) -> float:
        return self._deadline - self._clock()


class _NoCookies(CookieJar):
    """LWA and the SP-API use no cookies: none are stored or sent (and none are parsed, which
    is a good part of httpx's CPU per request)."""

    def add_cookie_header(self, request: Any) -> None:
        pass

    def extract_cookies(self, response: Any, request: Any) -> None:
        pass


class SpApiClient:
    """Calls LWA and the Sellers API. Thread-safe; share one instance per app.

    When ``http`` is not given the client owns an ``httpx.Client``: call :meth:`close` (or use it
    as a context manager) when done.
    """

    def __init__(self, settings: AmazonSettings, http: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 token_cache: AccessTokenCache | None = None, *,
                 rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(cookies=_NoCookies())
        self._urls: dict[str, httpx.URL] = {}  # parsed once: httpx's URL parsing is costly
        self._sleep = sleep
        self._cache = token_cache if token_cache is not None else default_token_cache
        self._rng = rng or random.Random()
        self._clock = clock

    def close(self) -> None:
        """Close the HTTP client if this instance created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> SpApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def check_authorization(self, *, auth_key: str, refresh_token: str, region: str,
                            marketplace_ids: Sequence[str]) -> VerifyOutcome:
        """Verify a seller authorization for the selected marketplaces of one region.

        ``auth_key`` identifies the stored authorization (e.g. the shop id) for the token cache.
        Never raises for Amazon-side problems; see :class:`VerifyOutcome` for the codes.
        """
        missing = self.settings.missing_settings()
        if missing:
            return VerifyOutcome(NOT_CONFIGURED, missing_settings=missing,
                                 detail="missing settings: " + ", ".join(missing))
        refresh_token = (refresh_token or "").strip()
        problem = self._request_problem(refresh_token, region, marketplace_ids)
        if problem:
            return VerifyOutcome(BAD_REQUEST, detail=problem)

        budget = _Budget(self.settings, self._clock)
        try:
            outcome = self._check(auth_key, refresh_token, region.upper(),
                                  list(marketplace_ids), budget)
        except _Failed as failure:
            outcome = VerifyOutcome(failure.code, detail=failure.detail,
                                    retry_after=failure.retry_after,
                                    amazon_code=failure.amazon_code)
        outcome = replace(outcome, attempts=budget.attempts, request_id=budget.request_id)
        log.info("amazon check %s: %s (%s; %d requests; x-amzn-RequestId %s)", auth_key,
                 outcome.code, outcome.detail, outcome.attempts, outcome.request_id or "-")
        return outcome

    def _request_problem(self, refresh_token: str, region: str,
                         marketplace_ids: Sequence[str]) -> str | None:
        region = (region or "").upper()
        if region not in self.settings.endpoints:
            return f"unknown region {region!r}"
        if not refresh_token:
            return "empty refresh token"
        if refresh_token.startswith("amzn.mws."):
            return "MWS auth token given; SP-API needs an LWA refresh token"
        if not marketplace_ids:
            return "no marketplace selected"
        for mid in marketplace_ids:
            mp = marketplace_by_id(mid)
            if mp is None or mp.region != region:
                return f"marketplace {mid!r} is not in region {region}"
        return None

    def _check(self, auth_key: str, refresh_token: str, region: str,
               marketplace_ids: list[str], budget: _Budget) -> VerifyOutcome:
        url = self.settings.endpoints[region].rstrip("/") + PARTICIPATIONS_PATH

        def fetch() -> tuple[str, float]:
            return self._fetch_access_token(refresh_token, budget)

        token, from_cache = self._cache.get_or_fetch(auth_key, refresh_token, fetch)
        response = self._get_participations(url, token, budget)
        if response.status_code == 403 and from_cache and _error_details(response) not in (
                _SECRET_EXPIRED_DETAILS, _TOKEN_MISSING_DETAILS):
            # A cached access token may have been revoked upstream: one retry with a fresh one.
            self._cache.invalidate(auth_key, refresh_token, token)
            token, _ = self._cache.get_or_fetch(auth_key, refresh_token, fetch)
            response = self._get_participations(url, token, budget)
        return _evaluate_participations(response, marketplace_ids)

    def _fetch_access_token(self, refresh_token: str, budget: _Budget) -> tuple[str, float]:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.settings.client_id or "",
            "client_secret": self.settings.client_secret or "",
        }
        response = self._send(budget, "LWA", "POST", self.settings.lwa_token_url, data=form)
        status = response.status_code
        body = _json_body(response)
        error = _safe_code(body.get("error")) if isinstance(body, dict) else None
        if isinstance(body, dict) and budget.request_id is None:
            budget.request_id = _safe_request_id(body.get("request_id"))
        if status == 200:
            if not isinstance(body, dict):
                raise _Failed(BAD_RESPONSE, f"LWA 200 not JSON ({_content_type(response)})")
            token, expires_in = body.get("access_token"), body.get("expires_in")
            if (not isinstance(token, str) or not token
                    or not isinstance(expires_in, (int, float)) or isinstance(expires_in, bool)):
                raise _Failed(BAD_RESPONSE, "LWA 200 without access_token/expires_in")
            return token, float(expires_in)
        label = f"LWA {status} {error or 'no error code'}"
        if status == 429:
            raise _Failed(THROTTLED, label, _retry_after_seconds(response))
        if status >= 500 or error in ("server_error", "temporarily_unavailable"):
            raise _Failed(UNAVAILABLE, label)
        if error == "invalid_client" or (status == 401 and error is None):
            raise _Failed(INVALID_CLIENT, label)
        if error == "invalid_grant":
            raise _Failed(INVALID_GRANT, label)
        if 400 <= status < 500:
            # unauthorized_client, invalid_request, ...: nothing the shop's input caused.
            raise _Failed(REFUSED, label, amazon_code=f"{status} {error}" if error else str(status))
        raise _Failed(BAD_RESPONSE, f"LWA unexpected status {status}")

    def _get_participations(self, url: str, token: str, budget: _Budget) -> httpx.Response:
        return self._send(budget, "SP-API", "GET", url, headers={
            "x-amz-access-token": token, "Accept": "application/json"})

    def _send(self, budget: _Budget, label: str, method: str, url: str,
              headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """One HTTP call with bounded retries; returns the last response, raises _Failed when
        no response could be obtained."""
        s = self.settings
        headers = {"User-Agent": USER_AGENT, **(headers or {})}
        parsed = self._urls.get(url)
        if parsed is None:
            try:
                parsed = httpx.URL(url)
            except httpx.InvalidURL:
                raise _Failed(UNAVAILABLE, f"{label} InvalidURL") from None
            self._urls[url] = parsed
        failure, tries = "not attempted", 0
        response: httpx.Response | None = None
        for attempt in range(1, s.max_tries + 1):
            remaining = budget.remaining()
            if remaining <= 0.05:
                failure = "out of time"
                break
            timeout = httpx.Timeout(min(s.read_timeout, remaining),
                                    connect=min(s.connect_timeout, remaining))
            budget.attempts += 1
            tries += 1
            response = None
            try:
                response = self._http.request(method, parsed, headers=headers, timeout=timeout,
                                              **kwargs)
                budget.request_id = (_safe_request_id(response.headers.get("x-amzn-requestid"))
                                     or budget.request_id)
            except httpx.TimeoutException:
                failure = "timeout"
            except (httpx.NetworkError, httpx.RemoteProtocolError):
                failure = "connection error"
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise _Failed(UNAVAILABLE, f"{label} {type(exc).__name__}") from None
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                if response.status_code == 429 and _retry_after_header(response) is None:
                    return response  # no Retry-After: a blind retry would only be throttled again
                failure = f"status {response.status_code}"
            if attempt == s.max_tries:
                break
            delay = self._delay(attempt, response, budget)
            if delay is None:
                break
            log.debug("%s %s: %s, retry %d in %.2fs", label, method, failure, attempt + 1, delay)
            self._sleep(delay)
            budget.slept += delay
        if response is not None:
            return response
        raise _Failed(UNAVAILABLE, f"{label} {failure} after {tries} tries")

    def _delay(self, attempt: int, response: httpx.Response | None,
               budget: _Budget) -> float | None:
        """Seconds to sleep before the next try, or None when the budget does not allow one."""
        s = self.settings
        allowed = min(s.max_total_wait - budget.slept, budget.remaining() - 0.1)
        retry_after = _retry_after_header(response) if response is not None else None
        if retry_after is not None:
            return retry_after if retry_after <= allowed else None
        if allowed <= 0:
            return None
        return min(self._rng.uniform(0, s.backoff_base * 2 ** (attempt - 1)), allowed)


    def exchange_authorization_code(self, *, code: str, redirect_uri: str) -> CodeExchange:
        """Exchange an ``spapi_oauth_code`` from the website authorization workflow for the
        seller's refresh token (LWA ``grant_type=authorization_code``). The code lives five minutes
        and works once: Amazon answers ``invalid_grant`` otherwise. Never retried on a 4xx; never
        raises for an Amazon-side problem; the code and tokens are never logged."""
        missing = self.settings.missing_settings()
        if missing:
            return CodeExchange(NOT_CONFIGURED, detail="missing settings: " + ", ".join(missing))
        form = {"grant_type": "authorization_code", "code": code or "", "redirect_uri": redirect_uri,
                "client_id": self.settings.client_id or "", "client_secret": self.settings.client_secret or ""}
        budget = _Budget(self.settings, self._clock)
        try:
            response = self._send(budget, "LWA", "POST", self.settings.lwa_token_url, data=form)
        except _Failed as failure:
            return CodeExchange(failure.code, detail=failure.detail)
        status, body = response.status_code, _json_body(response)
        error = _safe_code(body.get("error")) if isinstance(body, dict) else None
        token = body.get("refresh_token") if isinstance(body, dict) else None
        if status == 200 and isinstance(token, str) and token.startswith("Atzr|"):
            log.info("amazon code exchange: ok")
            return CodeExchange(VERIFIED, refresh_token=token, detail="LWA 200")
        label = f"LWA {status} {error or 'no error code'}"
        log.info("amazon code exchange: %s", label)
        if status == 200:
            return CodeExchange(BAD_RESPONSE, detail="LWA 200 without refresh_token")
        if status == 429:
            return CodeExchange(THROTTLED, detail=label)
        if status >= 500 or error in ("server_error", "temporarily_unavailable"):
            return CodeExchange(UNAVAILABLE, detail=label)
        if error == "invalid_client" or (status == 401 and error is None):
            return CodeExchange(INVALID_CLIENT, detail=label)
        if error == "invalid_grant":
            return CodeExchange(INVALID_GRANT, detail=label)
        return CodeExchange(BAD_REQUEST, detail=label)


@dataclass(frozen=True)
class CodeExchange:
    """What exchanging an authorization code gave: ``code`` is VERIFIED with ``refresh_token``, or
    one of the failure codes (INVALID_GRANT: the code expired or was used). Its repr hides the token."""

    code: str
    refresh_token: str | None = field(default=None, repr=False)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.code == VERIFIED and bool(self.refresh_token)


def _evaluate_participations(response: httpx.Response,
                             marketplace_ids: list[str]) -> VerifyOutcome:
    status = response.status_code
    if status != 200:
        body = _json_body(response)
        code = _first_error_code(body)
        label = f"SP-API {status} {code or 'no error code'}"
        amazon_code = f"{status} {code}" if code else str(status)
        details = _error_details(response, body)
        if status == 403 and details == _SECRET_EXPIRED_DETAILS:
            return VerifyOutcome(SECRET_EXPIRED, detail=label + " (LWA secret expired)")
        if status == 403 and details == _TOKEN_MISSING_DETAILS:
            return VerifyOutcome(REFUSED, detail=label + " (access token missing)",
                                 amazon_code=amazon_code)
        if status == 403:
            return VerifyOutcome(FORBIDDEN, detail=label)
        if status == 401:  # the request was not authenticated: the portal's side, not the shop's
            return VerifyOutcome(INVALID_CLIENT, detail=label)
        if status == 429:
            return VerifyOutcome(THROTTLED, detail=label,
                                 retry_after=_retry_after_seconds(response))
        if status >= 500:
            return VerifyOutcome(UNAVAILABLE, detail=label)
        if status == 400:
            return VerifyOutcome(BAD_REQUEST, detail=label)
        if 400 < status < 500:  # 404, 413, 415 and unknown 4xx: nothing our input caused
            return VerifyOutcome(REFUSED, detail=label, amazon_code=amazon_code)
        return VerifyOutcome(BAD_RESPONSE, detail=f"SP-API unexpected status {status}")

    body = _json_body(response)
    if body is None:
        content_type = _content_type(response)
        what = "malformed JSON" if "json" in content_type else f"not JSON ({content_type})"
        return VerifyOutcome(BAD_RESPONSE, detail=f"SP-API 200 {what}")
    participations = _parse_participations(body)
    if participations is None:
        return VerifyOutcome(BAD_RESPONSE, detail="SP-API 200 JSON of unexpected shape")

    by_id = {p["marketplace_id"]: p for p in participations}
    selected = [by_id.get(mid) for mid in marketplace_ids]
    store_name = next((p["store_name"] for p in selected if p and p["store_name"]), None)
    missing = [mid for mid, p in zip(marketplace_ids, selected)
               if p is None or not p["is_participating"]]
    common = {"store_name": store_name, "participations": participations}
    if missing:
        return VerifyOutcome(NOT_PARTICIPATING, missing_marketplaces=missing,
                             detail="not participating: " + ", ".join(missing), **common)
    suspended = [mid for mid, p in zip(marketplace_ids, selected)
                 if p and p["has_suspended_listings"]]
    detail = "participating" + (" (suspended listings: " + ", ".join(suspended) + ")"
                                if suspended else "")
    return VerifyOutcome(VERIFIED, suspended_marketplaces=suspended, detail=detail, **common)


def _parse_participations(body: Any) -> list[dict[str, Any]] | None:
    """Validate a getMarketplaceParticipations body (sellers.json, MarketplaceParticipation)."""
    if not isinstance(body, dict) or not isinstance(body.get("payload"), list):
        return None
    result = []
    for entry in body["payload"]:
        if not isinstance(entry, dict):
            return None
        marketplace = entry.get("marketplace")
        if isinstance(marketplace, dict) and isinstance(marketplace.get("id"), str) \
                and marketplace_by_id(marketplace["id"]) is None:
            continue  # a marketplace the portal does not know (e.g. a non-retail one): ignored
        marketplace, participation = entry.get("marketplace"), entry.get("participation")
        if not isinstance(marketplace, dict) or not isinstance(participation, dict):
            return None
        mid = marketplace.get("id")
        participating = participation.get("isParticipating")
        suspended = participation.get("hasSuspendedListings", False)
        store_name = entry.get("storeName")
        if (not isinstance(mid, str) or not isinstance(participating, bool)
                or not isinstance(suspended, bool)
                or not isinstance(store_name, (str, type(None)))):
            return None
        result.append({
            "marketplace_id": mid,
            "country_code": _str_or_none(marketplace.get("countryCode")),
            "name": _str_or_none(marketplace.get("name")),
            "store_name": (store_name or "").strip() or None,
            "is_participating": participating,
            "has_suspended_listings": suspended,
        })
    return result


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _json_body(response: httpx.Response) -> Any:
    """The parsed JSON body, or None for an empty, non-JSON or malformed body."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "no content type").split(";")[0][:40]


def _safe_code(value: Any) -> str | None:
    return value if isinstance(value, str) and _SAFE_CODE.match(value) else None


def _safe_request_id(value: Any) -> str | None:
    return value if isinstance(value, str) and _SAFE_REQUEST_ID.match(value) else None


def _error_details(response: httpx.Response, body: Any = None) -> str | None:
    """``details`` of the first SP-API error (optional in Amazon's model), or None."""
    body = _json_body(response) if body is None else body
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        if isinstance(first, dict) and isinstance(first.get("details"), str):
            return first["details"].strip()
    return None


def _first_error_code(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        if isinstance(first, dict):
            return _safe_code(first.get("code"))
    return None


def _retry_after_header(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), if present."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _retry_after_seconds(response: httpx.Response) -> int:
    seconds = _retry_after_header(response)
    return DEFAULT_THROTTLE_SECONDS if seconds is None else max(1, math.ceil(seconds))


def outcome_for_marketplaces(outcome: VerifyOutcome, marketplace_ids: Sequence[str]) -> VerifyOutcome:
    """The same check seen from one shop: re-judge a participations answer for its marketplaces.

    One getMarketplaceParticipations call covers every shop of a seller authorization; each shop
    then gets VERIFIED or NOT_PARTICIPATING for its own marketplaces. Other outcomes apply as they are.
    """
    if outcome.code not in (VERIFIED, NOT_PARTICIPATING) or not outcome.participations:
        return outcome
    by_id = {p["marketplace_id"]: p for p in outcome.participations}
    selected = [by_id.get(mid) for mid in marketplace_ids]
    store_name = next((p["store_name"] for p in selected if p and p["store_name"]), None)
    missing = [mid for mid, p in zip(marketplace_ids, selected) if p is None or not p["is_participating"]]
    if missing:
        return replace(outcome, code=NOT_PARTICIPATING, missing_marketplaces=missing, suspended_marketplaces=[],
                       store_name=store_name)
    suspended = [mid for mid, p in zip(marketplace_ids, selected) if p and p["has_suspended_listings"]]
    return replace(outcome, code=VERIFIED, missing_marketplaces=[], suspended_marketplaces=suspended,
                   store_name=store_name)
