"""A stand-in Amazon on 127.0.0.1 for tests, demos and benchmarks.

It is a real HTTP server speaking the real wire protocol: the Login with Amazon token endpoint
(``POST /auth/o2/token``, refresh_token and authorization_code grants) and the Sellers API
(``GET /sellers/v1/marketplaceParticipations`` with ``x-amz-access-token``), plus the Seller Central
consent redirect of the website authorization workflow. Response bodies and the
``{"errors": [...]}`` envelope are copied from Amazon's Sellers API model,
shared/amazon-models/sellers.json (Apache-2.0): the getMarketplaceParticipations 200 example, the
Error/ErrorList definitions and the 400 ``InvalidInput`` sandbox example. LWA bodies follow
shared/PRODUCT.md ("The wire protocol").

It also serves the Orders API v2026-01-01 ``searchOrders`` (``GET /orders/2026-01-01/orders``) as
shared/amazon-models/orders_2026-01-01.json describes it: the parameter rules (exactly one of
createdAfter / lastUpdatedAfter, the families never mixed, a …Before at least two minutes before the
request, at most 50 marketplaceIds, maxResultsPerPage 1–100, includedData), pagination with
``nextToken`` tokens that are bound to the other parameters and expire after 24 hours, the datasets of
``includedData`` (proceeds and fulfillment only when asked for), the 400 ``InvalidInput`` body of the
model's sandbox example, and a per-seller bucket of 0.0056 requests/s, burst 20 (429 beyond it).
Orders are built from the model's first 200 example (:func:`make_order`); tests add and update them
between runs (:meth:`StandinAmazon.put_order`), make tokens expire
(:meth:`StandinAmazon.expire_pagination_tokens`) and queue failures
(:meth:`StandinAmazon.fail_orders`); the "forbidden" scenario answers 403.

Seller behaviour is chosen per refresh token: :meth:`StandinAmazon.register` it, or use a token of
the form ``Atzr|standin-<scenario>-<anything>`` (participating in all 23 marketplaces). Run
``python -m devtools.standin --port 8765`` to serve one until Ctrl-C.

Answers follow what Amazon really sends: every answer carries ``x-amzn-RequestId``; a 429 carries
``x-amzn-ErrorType: TooManyRequestsException`` and neither ``Retry-After`` nor
``x-amzn-RateLimit-Limit``; ``details`` appears in an error only where Amazon sends it; LWA errors
carry ``error_index`` and ``request_id``; a regional endpoint (``/na``, ``/eu``, ``/fe``) lists only
that region's marketplaces, plus one marketplace the portal does not know (Amazon lists non-retail
marketplaces too).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import html
import json
import logging
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from devtools.local_server import LocalServer
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from portal.amazon.marketplaces import MARKETPLACES, REGIONS, Marketplace, marketplace_by_id

log = logging.getLogger(__name__)

SCENARIOS: tuple[str, ...] = (
    "valid", "revoked", "bad_client", "forbidden", "throttled_once", "throttled", "slow",
    "error500", "html", "malformed", "suspended", "partial", "invalid_input", "wrong_shape",
    # Answers Amazon gives that say nothing about the seller's authorization:
    "lwa_secret_expired", "unauthorized_401", "not_found_404", "too_large_413", "unsupported_415",
    "html_503", "unauthorized_client", "invalid_request", "missing_token",
)
CONVENTION_PREFIX = "Atzr|standin-"
TOKEN_PATH = "/auth/o2/token"
PARTICIPATIONS_PATH = "/sellers/v1/marketplaceParticipations"
SEARCH_ORDERS_PATH = "/orders/2026-01-01/orders"
ORDERS_RATE_LIMIT = "0.0056"  # searchOrders usage plan, orders_2026-01-01.json (burst 20)
CONSENT_PATH = "/apps/authorize/consent"
RATE_LIMIT = "0.016"  # getMarketplaceParticipations usage plan, sellers.json

_ACCESS_DENIED = "Access to requested resource is denied."
_TOKEN_MISSING = "Access token is missing in the request header."
_SECRET_EXPIRED = "The LWA secret token you provided has expired."
# One marketplace per region that the portal's table does not list (Amazon's answers include
# non-retail marketplaces such as "Non-Amazon"); the client must ignore it.
UNKNOWN_MARKETPLACES: dict[str, dict[str, str]] = {
    "NA": {"id": "A2ZV50J4W1RKNI", "name": "Non-Amazon", "countryCode": "US",
           "defaultCurrencyCode": "USD", "defaultLanguageCode": "en_US",
           "domainName": "sim1.stores.amazon.com"},
    "EU": {"id": "A1STANDINEU0UNKNOWN", "name": "Non-Amazon", "countryCode": "GB",
           "defaultCurrencyCode": "GBP", "defaultLanguageCode": "en_GB",
           "domainName": "sim1.stores.amazon.co.uk"},
    "FE": {"id": "A1STANDINFE0UNKNOWN", "name": "Non-Amazon", "countryCode": "JP",
           "defaultCurrencyCode": "JPY", "defaultLanguageCode": "ja_JP",
           "domainName": "sim1.stores.amazon.co.jp"},
}
_INVALID_TOKEN = "The access token you provided is revoked, malformed or invalid."
_INVALID_GRANT = ("The request has an invalid grant parameter : {}. User may have revoked or "
                  "didn't grant the permission.")


@dataclass
class _Seller:
    seller_id: str
    scenario: str
    marketplaces: tuple[str, ...]
    store_name: str
    region: str | None


@dataclass
class _Issued:
    refresh_token: str
    expires_at: float
    revoked: bool = False
    used: bool = False


class _Handler(WSGIRequestHandler):
    # Set here so werkzeug does not switch the shared WSGIRequestHandler class to HTTP/1.1.
    protocol_version = "HTTP/1.1"

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 (werkzeug's name)
        level = logging.INFO if type == "info" else logging.WARNING
        log.log(level, "%s " + message, self.address_string(), *args)


class StandinAmazon(LocalServer):
    """LWA + Sellers API stand-in served from a daemon thread. Use as a context manager."""

    _thread_name = "standin-amazon"

    def __init__(self, latency: float = 0.0, client_id: str = "amzn1.application-oa2-client.standin",
                 client_secret: str = "standin-secret", *, slow_seconds: float = 10.0,
                 port: int = 0, access_token_ttl: int = 3600, auth_code_ttl: int = 300) -> None:
        self.latency = latency
        self.slow_seconds = slow_seconds
        # Retry-After sent by the 429 scenarios; None (the default) sends none, like Amazon. Set it
        # only to test a client's handling of the header.
        self.throttle_retry_after: int | None = None
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.auth_code_ttl = auth_code_ttl
        self.counts: Counter[str] = Counter()
        self.token_counts: dict[str, Counter[str]] = {}
        self.calls: list[tuple[str, str | None]] = []
        self.request_ids: list[str] = []  # x-amzn-RequestId of every answer, in order
        self.max_concurrent = 0
        self._port = port
        self._lock = threading.Lock()
        self._sellers: dict[str, _Seller] = {}
        self._access: dict[str, _Issued] = {}
        self._codes: dict[str, _Issued] = {}
        self._throttled: set[str] = set()
        self._in_flight = 0
        self._offset = 0.0
        self._stopping = threading.Event()
        # searchOrders: orders per seller ID, the queries received, the rate budget, issued tokens.
        self.orders_rate = float(ORDERS_RATE_LIMIT)
        self.orders_burst = 20
        self.order_queries: list[dict[str, str]] = []
        self._orders: dict[str, dict[str, dict[str, Any]]] = {}
        self._order_buckets: dict[str, tuple[float, float]] = {}
        self._page_tokens: dict[str, tuple[tuple[tuple[str, str], ...], int, float]] = {}
        self._order_faults: dict[str, list[int]] = {}
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> StandinAmazon:
        """Bind 127.0.0.1 (port 0 = any free port) and serve from a daemon thread."""
        return self._serve(self._port, _Handler)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("StandinAmazon is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def token_url(self) -> str:
        """The LWA token endpoint."""
        return self.url + TOKEN_PATH

    @property
    def endpoint(self) -> str:
        """SP-API base URL serving every region."""
        return self.url

    @property
    def endpoints(self) -> dict[str, str]:
        """Per-region SP-API base URLs; a seller registered for another region gets a 403 there."""
        return {code: f"{self.url}/{code.lower()}" for code in REGIONS}

    def portal_settings(self) -> dict[str, str]:
        """The portal's AMAZON_* settings that point it at this stand-in: LWA credentials and endpoints."""
        return {"AMAZON_LWA_CLIENT_ID": self.client_id, "AMAZON_LWA_CLIENT_SECRET": self.client_secret,
                "AMAZON_LWA_TOKEN_URL": self.token_url,
                **{f"AMAZON_SPAPI_ENDPOINT_{code}": url for code, url in self.endpoints.items()}}

    # -- test controls -----------------------------------------------------------------------

    def register(self, refresh_token: str, *, seller_id: str, scenario: str = "valid",
                 marketplaces: Iterable[str] = ("ATVPDKIKX0DER",),
                 store_name: str = "Standin Store", region: str | None = None) -> None:
        """Make ``refresh_token`` known (or change its behaviour) for one seller."""
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}")
        mids = tuple(marketplaces)
        for mid in mids:
            if marketplace_by_id(mid) is None:
                raise ValueError(f"unknown marketplace {mid!r}")
        with self._lock:
            self._sellers[refresh_token] = _Seller(seller_id, scenario, mids, store_name,
                                                   region.upper() if region else None)
            self._throttled.discard(refresh_token)

    def issue_auth_code(self, refresh_token: str) -> str:
        """An ``spapi_oauth_code`` exchangeable once, within ``auth_code_ttl``, for the token."""
        if self._seller(refresh_token) is None:
            raise ValueError("unknown refresh token")
        code = "ANstandin" + secrets.token_urlsafe(18)
        with self._lock:
            self._codes[code] = _Issued(refresh_token, self._now() + self.auth_code_ttl)
        return code

    def seller_id_for(self, refresh_token: str) -> str | None:
        """The seller ID a refresh token belongs to (None if unknown)."""
        seller = self._seller(refresh_token)
        return seller.seller_id if seller else None

    def revoke_access_tokens(self, refresh_token: str | None = None) -> None:
        """Revoke issued access tokens (of one refresh token, or all)."""
        with self._lock:
            for issued in self._access.values():
                if refresh_token is None or issued.refresh_token == refresh_token:
                    issued.revoked = True

    def advance(self, seconds: float) -> None:
        """Move the stand-in's clock forward (expires access tokens and auth codes)."""
        with self._lock:
            self._offset += seconds

    def counts_for(self, refresh_token: str) -> Counter[str]:
        """Per-refresh-token counts of "token" and "participations" calls."""
        with self._lock:
            return Counter(self.token_counts.get(refresh_token, Counter()))

    def put_order(self, seller_id: str, order: dict[str, Any]) -> None:
        """Add an order (a model ``Order``, e.g. from :func:`make_order`) or replace the one with its orderId."""
        with self._lock:
            self._orders.setdefault(seller_id, {})[order["orderId"]] = copy.deepcopy(order)

    def generate_orders(self, seller_id: str, count: int, *, start: datetime, step: timedelta = timedelta(minutes=1),
                        marketplace_id: str = "ATVPDKIKX0DER", prefix: str = "900") -> list[str]:
        """Add ``count`` orders created ``step`` apart from ``start`` (for benchmarks and demos); their ids."""
        ids = []
        for n in range(count):
            order_id = f"{prefix}-{n // 10_000_000:07d}-{n % 10_000_000:07d}"
            self.put_order(seller_id, make_order(order_id, created=start + n * step, marketplace_id=marketplace_id))
            ids.append(order_id)
        return ids

    def update_order(self, seller_id: str, order_id: str, *, last_updated: datetime,
                     status: str | None = None, amount: str | None = None) -> dict[str, Any]:
        """Change a stored order as Amazon would: a new lastUpdatedTime and, optionally, status or total."""
        with self._lock:
            order = self._orders[seller_id][order_id]
            order["lastUpdatedTime"] = _iso(last_updated)
            if status is not None:
                order["fulfillment"]["fulfillmentStatus"] = status
            if amount is not None:
                order["proceeds"]["grandTotal"]["amount"] = amount
            return copy.deepcopy(order)

    def orders_of(self, seller_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._orders.get(seller_id, {}).values()))

    def expire_pagination_tokens(self) -> None:
        """Every nextToken issued so far is now older than its 24 hours."""
        with self._lock:
            for token, (signature, offset, _issued) in self._page_tokens.items():
                self._page_tokens[token] = (signature, offset, self._now() - 86401)

    def fail_orders(self, seller_id: str, *statuses: int) -> None:
        """Answer this seller's next searchOrders calls with these statuses (500, 503 or 429), in order."""
        with self._lock:
            self._order_faults.setdefault(seller_id, []).extend(statuses)

    def wall_clock(self) -> datetime:
        """The stand-in's "now" for order times: real UTC time moved by :meth:`advance`."""
        return datetime.now(timezone.utc) + timedelta(seconds=self._offset)

    def reset_counts(self) -> None:
        """Zero every counter and forget recorded calls."""
        with self._lock:
            self.counts.clear()
            self.token_counts.clear()
            self.calls.clear()
            self.request_ids.clear()
            self.order_queries.clear()
            self.max_concurrent = 0

    # -- internals ---------------------------------------------------------------------------

    def _now(self) -> float:
        return time.monotonic() + self._offset

    def _seller(self, refresh_token: str) -> _Seller | None:
        with self._lock:
            seller = self._sellers.get(refresh_token)
            if seller is None and refresh_token.startswith(CONVENTION_PREFIX):
                scenario = refresh_token[len(CONVENTION_PREFIX):].split("-", 1)[0]
                if scenario in SCENARIOS:
                    digest = hashlib.sha256(refresh_token.encode()).hexdigest().upper()
                    seller = _Seller("A" + digest[:13], scenario,
                                     tuple(mp.marketplace_id for mp in MARKETPLACES),
                                     f"Standin {scenario} store", None)
                    self._sellers[refresh_token] = seller
            return seller

    def _count(self, kind: str, refresh_token: str | None = None) -> None:
        with self._lock:
            self.counts[kind] += 1
            if refresh_token is not None:
                self.token_counts.setdefault(refresh_token, Counter())[kind] += 1

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self._lock:
            self._in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self._in_flight)
        try:
            if self.latency > 0:
                self._stopping.wait(self.latency)
            response = self._dispatch(Request(environ))
        finally:
            with self._lock:
                self._in_flight -= 1
        if "x-amzn-RequestId" not in response.headers:  # every answer of Amazon carries one
            response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
        with self._lock:
            self.request_ids.append(response.headers["x-amzn-RequestId"])
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        path = request.path
        if path == TOKEN_PATH:
            return self._token(request)
        region = None
        head, _, rest = path.lstrip("/").partition("/")
        if head.upper() in REGIONS:
            region, path = head.upper(), "/" + rest
        if path == PARTICIPATIONS_PATH:
            return self._participations(request, region)
        if path == SEARCH_ORDERS_PATH:
            return self._search_orders(request, region)
        if path == CONSENT_PATH and region is None:
            return self._consent(request)
        return _sp_error(404, "NotFound", "The resource specified does not exist.")

    def _token(self, request: Request) -> Response:
        self._count("token", request.form.get("refresh_token") if request.method == "POST"
                    else None)
        if request.method != "POST":
            response = _lwa_error(405, "invalid_request", "Only POST is supported.")
            response.headers["Allow"] = "POST"
            return response
        if request.mimetype != "application/x-www-form-urlencoded":
            return _lwa_error(400, "invalid_request",
                              "Content-Type must be application/x-www-form-urlencoded.")
        form = request.form
        for name in ("grant_type", "client_id", "client_secret"):
            if not form.get(name):
                return _missing(name)
        grant_type = form["grant_type"]
        if grant_type not in ("refresh_token", "authorization_code"):
            return _lwa_error(400, "unsupported_grant_type",
                              f"The authorization grant type is not supported: {grant_type}")
        if not (hmac.compare_digest(form["client_id"], self.client_id)
                and hmac.compare_digest(form["client_secret"], self.client_secret)):
            return _invalid_client()

        if grant_type == "authorization_code":
            code = form.get("code")
            if not code:
                return _missing("code")
            expected_redirect = self.__dict__.get("_code_redirect_uris", {}).get(code)
            if expected_redirect is not None and not form.get("redirect_uri"):
                return _missing("redirect_uri")
            with self._lock:
                issued = self._codes.get(code)
                usable = issued is not None and not issued.used and issued.expires_at > self._now()
                if issued is not None:
                    issued.used = True
            if not usable or issued is None or (expected_redirect is not None
                                                and form.get("redirect_uri") != expected_redirect):
                return _lwa_error(400, "invalid_grant", _INVALID_GRANT.format("code"))
            refresh_token = issued.refresh_token
        else:
            refresh_token = form.get("refresh_token", "")
            if not refresh_token:
                return _missing("refresh_token")

        seller = self._seller(refresh_token)
        if seller is None or seller.scenario == "revoked":
            return _lwa_error(400, "invalid_grant", _INVALID_GRANT.format("refresh_token"))
        if seller.scenario == "bad_client":
            return _invalid_client()
        if seller.scenario == "unauthorized_client":
            return _lwa_error(400, "unauthorized_client", "Not authorized for requested operation")
        if seller.scenario == "invalid_request":
            return _lwa_error(400, "invalid_request",
                              "The request has an invalid parameter : refresh_token")

        access_token = "Atza|standin-" + secrets.token_urlsafe(24)
        with self._lock:
            self._access[access_token] = _Issued(refresh_token,
                                                 self._now() + self.access_token_ttl)
        # Both grants answer with the refresh token too (the refresh grant returns the same one).
        body: dict[str, Any] = {"access_token": access_token, "refresh_token": refresh_token,
                                "token_type": "bearer", "expires_in": self.access_token_ttl}
        return _json(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _caller(self, request: Request, region: str | None, kind: str,
                query_log: list | None = None) -> tuple[Any, Response | None]:
        """The seller behind the request's access token, or Amazon's 403 answer (counted as `kind`)."""
        self._count(kind)
        if request.method != "GET":
            return None, _sp_error(405, "MethodNotAllowed", "Only GET is supported.")
        access_token = request.headers.get("x-amz-access-token", "")
        with self._lock:
            issued = self._access.get(access_token) if access_token else None
            expired = issued is not None and issued.expires_at <= self._now()
            seller = (None if issued is None or issued.revoked or expired
                      else self._sellers.get(issued.refresh_token))
            self.calls.append((request.path, seller.seller_id if seller else None))
            if query_log is not None:
                query_log.append({k: v for k, v in request.args.items(multi=False)})
            if seller is not None and issued is not None:
                self.token_counts.setdefault(issued.refresh_token, Counter())[kind] += 1
        if not access_token:  # Amazon's documented example of this answer
            return None, _sp_error(403, "Unauthorized", _ACCESS_DENIED, _TOKEN_MISSING)
        if expired:
            return None, _sp_error(403, "Unauthorized", _ACCESS_DENIED, "The access token you provided has expired.")
        if seller is None or issued is None:
            return None, _sp_error(403, "Unauthorized", _ACCESS_DENIED, _INVALID_TOKEN)
        if region and seller.region and region != seller.region:
            return None, _sp_error(403, "Unauthorized", _ACCESS_DENIED, "")
        return (seller, issued), None

    def _participations(self, request: Request, region: str | None) -> Response:
        caller, refusal = self._caller(request, region, "participations")
        if refusal is not None:
            return refusal
        seller, issued = caller
        return self._scenario_response(issued.refresh_token, seller, region)

    def _search_orders(self, request: Request, region: str | None) -> Response:
        caller, refusal = self._caller(request, region, "orders", self.order_queries)
        if refusal is not None:
            return refusal
        seller, _issued = caller
        if seller.scenario == "forbidden":
            return _sp_error(403, "Unauthorized", _ACCESS_DENIED, "")
        if not self._take_order_token(seller.seller_id) or seller.scenario == "throttled":
            return self._quota_exceeded()
        with self._lock:
            faults = self._order_faults.get(seller.seller_id)
            fault = faults.pop(0) if faults else None
        if fault == 429:
            return self._quota_exceeded()
        if fault == 503 or seller.scenario == "html_503":
            return _sp_error(503, "ServiceUnavailable", "Service temporarily unavailable.")
        if fault is not None or seller.scenario == "error500":
            return _sp_error(500, "InternalFailure", "We encountered an internal error. Please try again.")
        if seller.scenario == "slow":
            self._stopping.wait(self.slow_seconds)
        query = _order_query(request, self.wall_clock())
        if query is None:
            return _invalid_input()
        return self._orders_page(seller.seller_id, query)

    def _take_order_token(self, seller_id: str) -> bool:
        now = self._now()
        with self._lock:
            level, at = self._order_buckets.get(seller_id, (float(self.orders_burst), now))
            level = min(float(self.orders_burst), level + max(0.0, now - at) * self.orders_rate)
            if level < 1:
                self._order_buckets[seller_id] = (level, now)
                return False
            self._order_buckets[seller_id] = (level - 1, now)
            return True

    def _orders_page(self, seller_id: str, query: dict[str, Any]) -> Response:
        signature = query["signature"]
        offset = 0
        with self._lock:
            if query["token"] is not None:
                entry = self._page_tokens.get(query["token"])
                if entry is None or entry[0] != signature or entry[2] <= self._now() - 86400:
                    entry = None
                if entry is None:
                    return _invalid_input()
                offset = entry[1]
            key = "createdTime" if query["family"] == "created" else "lastUpdatedTime"
            matching = sorted(
                (o for o in self._orders.get(seller_id, {}).values()
                 if o["salesChannel"].get("marketplaceId") in query["marketplaces"]
                 and query["after"] <= _parse_iso(o[key]) <= query["before"]),
                key=lambda o: (_parse_iso(o[key]), o["orderId"]))
            page = [_with_datasets(o, query["included"]) for o in matching[offset:offset + query["size"]]]
            body: dict[str, Any] = {"orders": page}
            if offset + query["size"] < len(matching):
                token = secrets.token_urlsafe(24)
                self._page_tokens[token] = (signature, offset + query["size"], self._now())
                body["pagination"] = {"nextToken": token}
        body["createdBefore" if query["family"] == "created" else "lastUpdatedBefore"] = _iso(query["before"])
        return _json(200, body, {"x-amzn-RateLimit-Limit": ORDERS_RATE_LIMIT})

    def _scenario_response(self, refresh_token: str, seller: _Seller,
                           region: str | None = None) -> Response:
        scenario = seller.scenario
        headers = {"x-amzn-RateLimit-Limit": RATE_LIMIT}
        if scenario == "forbidden":
            return _sp_error(403, "Unauthorized", _ACCESS_DENIED, "")
        if scenario == "lwa_secret_expired":
            return _sp_error(403, "Unauthorized", _ACCESS_DENIED, _SECRET_EXPIRED)
        if scenario == "missing_token":
            return _sp_error(403, "Unauthorized", _ACCESS_DENIED, _TOKEN_MISSING)
        if scenario == "unauthorized_401":
            return _sp_error(401, "Unauthorized", _ACCESS_DENIED)
        if scenario == "not_found_404":
            return _sp_error(404, "NotFound", "The resource specified does not exist.",
                             headers=headers)
        if scenario == "too_large_413":
            return _sp_error(413, "RequestEntityTooLarge", "The request size exceeded the limit.")
        if scenario == "unsupported_415":
            return _sp_error(415, "UnsupportedMediaType",
                             "The request's content type is not supported.")
        if scenario == "invalid_input":
            # sellers.json, getAccount 400 sandbox example.
            return _sp_error(400, "InvalidInput", "Invalid Input", headers=headers)
        if scenario == "throttled_once":
            with self._lock:
                first = refresh_token not in self._throttled
                self._throttled.add(refresh_token)
            if first:
                return self._quota_exceeded()
        if scenario == "throttled":
            return self._quota_exceeded()
        if scenario == "slow":
            self._stopping.wait(self.slow_seconds)
        if scenario == "error500":
            return _sp_error(500, "InternalFailure",
                             "We encountered an internal error. Please try again.")
        if scenario == "html_503":
            return Response("<html><head><title>503 Service Unavailable</title></head><body>"
                            "<h1>Service Unavailable</h1></body></html>",
                            503, mimetype="text/html")
        if scenario == "html":
            return Response("<html><head><title>Service Unavailable</title></head><body>"
                            "<h1>Service Unavailable</h1></body></html>",
                            200, mimetype="text/html")
        if scenario == "malformed":
            return Response('{"payload": [{"marketplace": {"id": "ATVPDKIKX0DER", ',
                            200, mimetype="application/json", headers=headers)
        if scenario == "wrong_shape":
            return _json(200, {"payload": {"marketplaceParticipationList": []}}, headers)

        payload = []
        for index, mid in enumerate(seller.marketplaces):
            mp = marketplace_by_id(mid)
            assert mp is not None  # checked in register()
            if region is not None and mp.region != region:
                continue  # a regional endpoint lists only its own region's marketplaces
            participating = scenario != "partial" or index == 0
            payload.append(_participation(mp, seller.store_name, participating,
                                          suspended=scenario == "suspended"))
        if region is not None:
            payload.append({"marketplace": dict(UNKNOWN_MARKETPLACES[region]),
                            "storeName": seller.store_name,
                            "participation": {"isParticipating": True,
                                              "hasSuspendedListings": False}})
        return _json(200, {"payload": payload}, headers)

    def _quota_exceeded(self) -> Response:
        # An observed 429 of the Sellers API: x-amzn-ErrorType, no Retry-After, no rate-limit header.
        headers = {"x-amzn-ErrorType": "TooManyRequestsException"}
        if self.throttle_retry_after is not None:
            headers["Retry-After"] = str(self.throttle_retry_after)
        return _sp_error(429, "QuotaExceeded",
                         "You exceeded your quota for the requested resource.", headers=headers)

    # The consent page's app, as registered with Amazon (tests change these per instance).
    app_id = "amzn1.sp.solution.standin"
    app_draft = False  # a draft app needs version=beta on the consent URL (else MD1000)
    redirect_uris: frozenset[str] = frozenset()  # registered OAuth redirect URIs; empty = accept any
    consent_seller_id: str | None = None  # the seller account "signed in" to Seller Central

    def _consent(self, request: Request) -> Response:
        """Seller Central's consent page of the website authorization workflow.

        GET shows the app and the signed-in seller account with Confirm and Cancel, a way to sign
        in as another seller account and an option to approve slowly (the code then expires). As on
        Amazon, errors (MD1000 draft app without version=beta, MD5101 unregistered redirect URI) are
        shown here and the browser is not sent back; Cancel does not go back either. Confirm
        redirects to the redirect URI with exactly ``state``, ``selling_partner_id`` and
        ``spapi_oauth_code`` (``mws_auth_token`` only for hybrid MWS apps, which this is not).
        ``standin_seller_id`` (not an Amazon parameter) picks the signed-in seller.
        """
        args = request.values
        problem = self._consent_problem(args)
        if problem:
            return _consent_html(f"<h1>There was a problem</h1><p id='error-code'>{problem[0]}</p><p>{problem[1]}</p>",
                                 400)
        redirect_uri = args.get("redirect_uri") or sorted(self.redirect_uris)[0]
        seller_id = (args.get("standin_seller_id") or self.consent_seller_id
                     or "A" + hashlib.sha256(args["state"].encode()).hexdigest().upper()[:13])
        action = args.get("action") if request.method == "POST" else None
        if action == "cancel":
            return _consent_html("<h1>Authorization cancelled</h1><p id='cancelled'>You did not authorize the "
                                 "application. You can close this page.</p>")
        if action == "confirm":
            code = self.issue_auth_code(self._consent_token(seller_id))
            self.__dict__.setdefault("_code_redirect_uris", {})[code] = redirect_uri
            if args.get("slow"):
                self.advance(self.auth_code_ttl + 1)  # the seller took longer than the code lives
            query = urlencode({"state": args["state"], "selling_partner_id": seller_id, "spapi_oauth_code": code})
            separator = "&" if "?" in redirect_uri else "?"
            return Response(status=302, headers={"Location": redirect_uri + separator + query})
        return _consent_html(self._consent_form(args, seller_id, redirect_uri))

    def _consent_problem(self, args: Any) -> tuple[str, str] | None:
        missing = [n for n in ("application_id", "state") if not args.get(n)]
        if missing:
            return "MD5000", "Missing parameter: " + ", ".join(missing)
        if args["application_id"] != self.app_id:
            return "MD5100", "The application was not found."
        if self.app_draft and args.get("version") != "beta":
            return "MD1000", "The application is in draft state; add version=beta to authorize it."
        redirect_uri = args.get("redirect_uri")
        if (redirect_uri and self.redirect_uris and redirect_uri not in self.redirect_uris) or (
                not redirect_uri and not self.redirect_uris):
            return "MD5101", "The redirect URI does not match one registered for the application."
        return None

    def _consent_token(self, seller_id: str) -> str:
        """A new refresh token for this seller, with the marketplaces it was registered with."""
        with self._lock:
            known = next((s for s in self._sellers.values() if s.seller_id == seller_id), None)
        token = f"Atzr|standin-consent-{secrets.token_urlsafe(24)}"
        self.register(token, seller_id=seller_id,
                      marketplaces=known.marketplaces if known else [mp.marketplace_id for mp in MARKETPLACES],
                      store_name=known.store_name if known else f"Standin store {seller_id}",
                      region=known.region if known else None)
        return token

    def _consent_form(self, args: Any, seller_id: str, redirect_uri: str) -> str:
        with self._lock:
            sellers = sorted({s.seller_id for s in self._sellers.values()} | {seller_id})
        keep = "".join(f"<input type='hidden' name='{html.escape(n)}' value='{html.escape(args[n])}'>"
                       for n in ("application_id", "state", "version") if args.get(n))
        keep += f"<input type='hidden' name='redirect_uri' value='{html.escape(redirect_uri)}'>"
        options = "".join(f"<option{' selected' if s == seller_id else ''}>{html.escape(s)}</option>"
                          for s in sellers)
        return (f"<h1>Authorize {html.escape(args['application_id'])}</h1>"
                f"<p>Signed in as seller <b id='seller'>{html.escape(seller_id)}</b></p>"
                f"<form method='post'>{keep}"
                f"<input type='hidden' name='standin_seller_id' value='{html.escape(seller_id)}'>"
                "<label><input type='checkbox' name='slow' value='1'> Approve slowly (the code expires)</label>"
                "<button name='action' value='confirm'>Confirm</button>"
                "<button name='action' value='cancel'>Cancel</button></form>"
                f"<form method='get'>{keep}<label>Sign in as another seller account "
                f"<select name='standin_seller_id'>{options}</select></label>"
                "<button>Switch account</button></form>")


def _consent_html(body: str, status: int = 200) -> Response:
    return Response(f"<!doctype html><html><head><title>Seller Central</title></head><body>{body}</body></html>",
                    status, mimetype="text/html")

def _participation(mp: Marketplace, store_name: str, participating: bool,
                   suspended: bool) -> dict[str, Any]:
    # Shape of the getMarketplaceParticipations 200 example in sellers.json.
    return {
        "marketplace": {
            "id": mp.marketplace_id,
            "name": "Amazon" + mp.domain_name.removeprefix("www.amazon"),
            "countryCode": mp.country_code,
            "defaultCurrencyCode": mp.currency,
            "defaultLanguageCode": mp.language_code,
            "domainName": mp.domain_name,
        },
        "storeName": store_name,
        "participation": {"isParticipating": participating, "hasSuspendedListings": suspended},
    }


def _json(status: int, body: Any, headers: dict[str, str] | None = None,
          request_id: str | None = None) -> Response:
    response = Response(json.dumps(body), status, mimetype="application/json", headers=headers)
    response.headers["x-amzn-RequestId"] = request_id or str(uuid.uuid4())
    return response


def _lwa_error(status: int, error: str, description: str) -> Response:
    # LWA's error body: error, error_description, and the error_index / request_id references.
    request_id = str(uuid.uuid4())
    return _json(status, {"error_description": description, "error": error,
                          "error_index": secrets.token_urlsafe(12), "request_id": request_id},
                 request_id=request_id)


def _missing(name: str) -> Response:
    return _lwa_error(400, "invalid_request",
                      f"The request is missing a required parameter : {name}")


def _invalid_client() -> Response:
    return _lwa_error(401, "invalid_client",
                      "Client authentication failed (unknown client, no client authentication "
                      "included, or unsupported authentication method).")


def _sp_error(status: int, code: str, message: str, details: str | None = None,
              headers: dict[str, str] | None = None) -> Response:
    # ErrorList envelope of sellers.json (definitions Error / ErrorList); `details` is optional
    # there and sent only where Amazon sends it.
    error = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return _json(status, {"errors": [error]}, headers)


# -- searchOrders (orders_2026-01-01.json) -------------------------------------------------------

_ORDER_PARAMS = {"createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore", "fulfillmentStatuses",
                 "marketplaceIds", "fulfilledBy", "maxResultsPerPage", "paginationToken", "includedData"}
_DATASETS = {"BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION", "FULFILLMENT",
             "PACKAGES", "TAX", "PAYMENT", "FULFILLMENT_ORDERS"}
# includedData dataset -> the Order fields (and OrderItem fields) it brings.
_ORDER_DATASET_FIELDS = {"BUYER": "buyer", "RECIPIENT": "recipient", "PROCEEDS": "proceeds", "TAX": "tax",
                         "PAYMENT": "payment", "FULFILLMENT": "fulfillment", "PACKAGES": "packages",
                         "FULFILLMENT_ORDERS": "fulfillmentOrders"}
_ITEM_DATASET_FIELDS = {"PROCEEDS": "proceeds", "EXPENSE": "expense", "PROMOTION": "promotion",
                        "CANCELLATION": "cancellation", "FULFILLMENT": "fulfillment", "TAX": "tax"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _invalid_input() -> Response:
    # orders_2026-01-01.json, searchOrders 400 sandbox example.
    return _sp_error(400, "InvalidInput", "Invalid Input", "Invalid Input",
                     headers={"x-amzn-RateLimit-Limit": ORDERS_RATE_LIMIT})


def _order_query(request: Request, now: datetime) -> dict[str, Any] | None:
    """The searchOrders parameters checked as the model states them, or None (answer 400)."""
    args = request.args
    if set(args) - _ORDER_PARAMS or any(len(args.getlist(name)) > 1 for name in args):
        return None
    created_after, updated_after = args.get("createdAfter"), args.get("lastUpdatedAfter")
    if (created_after is None) == (updated_after is None):
        return None  # exactly one of createdAfter and lastUpdatedAfter
    family = "created" if created_after is not None else "updated"
    other = ("lastUpdatedAfter", "lastUpdatedBefore") if family == "created" else ("createdAfter", "createdBefore")
    if any(name in args for name in other):
        return None  # the two families are never mixed
    try:
        after = _parse_iso(created_after or updated_after or "")
        raw_before = args.get("createdBefore" if family == "created" else "lastUpdatedBefore")
        before = _parse_iso(raw_before) if raw_before is not None else now - timedelta(minutes=2)
        size = int(args.get("maxResultsPerPage", "100"))
    except ValueError:
        return None
    if before < after or before > now - timedelta(minutes=2) or not 1 <= size <= 100:
        return None
    marketplaces = [m for m in args.get("marketplaceIds", "").split(",") if m]
    included = [d for d in args.get("includedData", "").split(",") if d]
    if len(marketplaces) > 50 or set(included) - _DATASETS:
        return None
    token = args.get("paginationToken")
    # All other parameters must repeat the values of the request that produced a token
    # (maxResultsPerPage and includedData may change).
    signature = tuple(sorted((k, v) for k, v in args.items()
                             if k not in ("paginationToken", "maxResultsPerPage", "includedData")))
    return {"family": family, "after": after, "before": before, "size": size, "token": token,
            "marketplaces": set(marketplaces) if marketplaces else {mp.marketplace_id for mp in MARKETPLACES},
            "included": set(included), "signature": signature}


def _with_datasets(order: dict[str, Any], included: set[str]) -> dict[str, Any]:
    """The order as searchOrders returns it: datasets not in includedData left out."""
    result = copy.deepcopy(order)
    for dataset, name in _ORDER_DATASET_FIELDS.items():
        if dataset not in included:
            result.pop(name, None)
    for item in result.get("orderItems", []):
        for dataset, name in _ITEM_DATASET_FIELDS.items():
            if dataset not in included:
                item.pop(name, None)
    return result


def make_order(order_id: str, *, created: datetime, last_updated: datetime | None = None,
               marketplace_id: str = "ATVPDKIKX0DER", status: str = "UNSHIPPED", fulfilled_by: str = "MERCHANT",
               amount: str | None = "154.99", currency: str = "USD",
               quantities: tuple[int, ...] = (2, 1)) -> dict[str, Any]:
    """An ``Order`` shaped like the first searchOrders 200 example of orders_2026-01-01.json (its
    buyer, proceeds, fulfillment and items), with the given identity, times, status and total.
    ``amount=None`` leaves out proceeds (as for an order still pending)."""
    mp = marketplace_by_id(marketplace_id)
    order: dict[str, Any] = {
        "orderId": order_id,
        "orderAliases": [{"aliasId": f"SELLER-{order_id}", "aliasType": "SELLER_ORDER_ID"}],
        "createdTime": _iso(created),
        "lastUpdatedTime": _iso(last_updated or created),
        "programs": ["PRIME", "AMAZON_BUSINESS"],
        "associatedOrders": [],
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": marketplace_id,
                         "marketplaceName": "Amazon" + (mp.domain_name.removeprefix("www.amazon") if mp else "")},
        "buyer": {"buyerName": "John Smith", "buyerEmail": "buyer-email@marketplace.amazon.com",
                  "buyerCompanyName": "Smith Industries LLC", "buyerPurchaseOrderNumber": "PO-2024-12345"},
        "fulfillment": {"fulfillmentStatus": status, "fulfilledBy": fulfilled_by,
                        "fulfillmentServiceLevel": "STANDARD",
                        "shipByWindow": {"earliestDateTime": "2024-12-26T00:00:00Z",
                                         "latestDateTime": "2024-12-27T23:59:59Z"}},
        "orderItems": [
            {"orderItemId": f"{index:014d}", "quantityOrdered": quantity, "programs": [],
             "product": {"asin": "B08N5WRWNW", "title": "Echo Dot (4th Gen) | Smart speaker with Alexa | Charcoal",
                         "sellerSku": "ECHO-DOT-4-CHARCOAL",
                         "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
                         "price": {"unitPrice": {"amount": "49.99", "currencyCode": currency}}},
             "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": quantity}}
            for index, quantity in enumerate(quantities, start=1)],
    }
    if amount is not None:
        order["proceeds"] = {"grandTotal": {"amount": amount, "currencyCode": currency},
                             "breakdowns": [{"type": "ITEM", "subtotal": {"amount": amount, "currencyCode": currency}}]}
    return order


def main(argv: list[str] | None = None) -> None:
    """CLI: serve a stand-in Amazon on 127.0.0.1 until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m devtools.standin",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept per request")
    parser.add_argument("--slow-seconds", type=float, default=10.0)
    parser.add_argument("--client-id", default="amzn1.application-oa2-client.standin")
    parser.add_argument("--client-secret", default="standin-secret")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    amazon = StandinAmazon(args.latency, args.client_id, args.client_secret,
                           slow_seconds=args.slow_seconds, port=args.port).start()
    try:
        print(f"Stand-in Amazon serving at {amazon.url} (Ctrl-C to stop)")
        for name, value in amazon.portal_settings().items():
            print(f"  {name}={value}")
        print(f"  refresh tokens: {CONVENTION_PREFIX}<scenario>-<anything>; scenarios: "
              + ", ".join(SCENARIOS), flush=True)
        print(f"  searchOrders: {amazon.url}/<na|eu|fe>{SEARCH_ORDERS_PATH} (no orders until a test adds some)",
              flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        amazon.stop()


if __name__ == "__main__":
    main()
