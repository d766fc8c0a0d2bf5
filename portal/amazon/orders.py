"""Orders API v2026-01-01 ``searchOrders``: one page per call, every failure a classified outcome.

Built to Amazon's model (shared/amazon-models/orders_2026-01-01.json):

- exactly one of ``createdAfter`` (backfill) or ``lastUpdatedAfter`` (incremental), never the two
  families mixed; the matching ``…Before`` is sent too and must be at least two minutes before the
  request (the caller picks it: :class:`SearchWindow`);
- ``marketplaceIds`` comma-separated, at most 50 per call (:func:`marketplace_chunks` splits more);
- ``maxResultsPerPage`` (1–100, we send 100 unless configured) and ``includedData`` with ``PROCEEDS``
  and ``FULFILLMENT``: without them the answer has no ``grandTotal`` and no ``fulfillmentStatus``;
- ``pagination.nextToken`` goes back as ``paginationToken`` with every other parameter repeated
  unchanged (the model allows only maxResultsPerPage and includedData to change); a token lives 24 h.
  The model documents a single 400 (``InvalidInput``, "missing or invalid parameters"), so a 400 to a
  call that carried a token is reported as :data:`TOKEN_REJECTED` (restart from the cursor) and any
  other 400 as ``bad_request`` (our bug: log it, do not retry).

Errors reuse the verify classification of :mod:`portal.amazon.client` (same codes). Each call is one
HTTP request (``max_tries`` 1): the sync service retries, because every request spends a token of the
seller's rate budget and only the service holds that budget. Nothing here logs a token.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from . import client as amazon
from .client import (_Budget, _Failed, _error_details, _first_error_code, _json_body,
                     _retry_after_header, _SECRET_EXPIRED_DETAILS, _TOKEN_MISSING_DETAILS)

log = logging.getLogger(__name__)

SEARCH_ORDERS_PATH = "/orders/2026-01-01/orders"
MAX_MARKETPLACES_PER_CALL = 50
MAX_RESULTS_PER_PAGE = 100
MIN_BEFORE_LAG = timedelta(minutes=2)  # a …Before must be at least this long before the request
INCLUDED_DATA = ("PROCEEDS", "FULFILLMENT")
CREATED, UPDATED = "created", "updated"  # the two parameter families
OK = "ok"
TOKEN_REJECTED = "token_rejected"  # 400 to a call with a paginationToken: expired or invalid
# searchOrders: 0.0056 requests/s, burst 20; a 429 waits at least this long.
THROTTLE_WAIT_SECONDS = 180


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, whole seconds (what the model's examples use)."""
    return moment.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 date-time from Amazon as an aware UTC datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class SearchWindow:
    """The parameters of one searchOrders run: every page of it repeats them.

    ``family`` is CREATED (createdAfter/createdBefore) or UPDATED (lastUpdatedAfter/…Before)."""

    family: str
    after: datetime
    before: datetime
    marketplace_ids: tuple[str, ...]
    page_size: int = MAX_RESULTS_PER_PAGE

    def __post_init__(self) -> None:
        if self.family not in (CREATED, UPDATED):
            raise ValueError(f"unknown family {self.family!r}")
        if self.before < self.after:
            raise ValueError("before must be equal to or after after")
        if not 1 <= len(self.marketplace_ids) <= MAX_MARKETPLACES_PER_CALL:
            raise ValueError(f"1 to {MAX_MARKETPLACES_PER_CALL} marketplace ids per call")
        if not 1 <= self.page_size <= MAX_RESULTS_PER_PAGE:
            raise ValueError("maxResultsPerPage must be between 1 and 100")

    def params(self, pagination_token: str | None = None) -> dict[str, str]:
        """The query string of one call (the token, when given, with every other parameter)."""
        prefix = "created" if self.family == CREATED else "lastUpdated"
        params = {f"{prefix}After": iso(self.after), f"{prefix}Before": iso(self.before),
                  "marketplaceIds": ",".join(self.marketplace_ids),
                  "maxResultsPerPage": str(self.page_size), "includedData": ",".join(INCLUDED_DATA)}
        if pagination_token:
            params["paginationToken"] = pagination_token
        return params


def marketplace_chunks(marketplace_ids: Sequence[str]) -> list[tuple[str, ...]]:
    """Marketplace ids in groups of at most 50 (one searchOrders call each), order kept."""
    ids = tuple(dict.fromkeys(marketplace_ids))
    return [ids[i:i + MAX_MARKETPLACES_PER_CALL] for i in range(0, len(ids), MAX_MARKETPLACES_PER_CALL)]


@dataclass(frozen=True)
class AmazonOrder:
    """What the portal keeps of one order of searchOrders (model definition ``Order``)."""

    amazon_order_id: str  # orderId
    marketplace_id: str  # salesChannel.marketplaceId
    status: str | None  # fulfillment.fulfillmentStatus (PENDING, UNSHIPPED, SHIPPED, ...)
    fulfillment_channel: str | None  # fulfillment.fulfilledBy: AMAZON or MERCHANT
    created_at: datetime  # createdTime
    last_updated_at: datetime  # lastUpdatedTime
    item_count: int  # sum of orderItems[].quantityOrdered
    total: Decimal | None  # proceeds.grandTotal.amount (a decimal string), absent while pending
    currency: str | None  # proceeds.grandTotal.currencyCode


def parse_order(raw: Any) -> AmazonOrder | None:
    """One ``Order`` of the model, or None when a required field is missing or malformed."""
    if not isinstance(raw, dict):
        return None
    order_id, channel = raw.get("orderId"), raw.get("salesChannel")
    created, updated = parse_time(raw.get("createdTime")), parse_time(raw.get("lastUpdatedTime"))
    items = raw.get("orderItems")
    if (not isinstance(order_id, str) or not order_id or len(order_id) > 64 or not isinstance(channel, dict)
            or not isinstance(channel.get("marketplaceId"), str) or created is None or updated is None
            or not isinstance(items, list)):
        return None
    fulfillment = raw.get("fulfillment") if isinstance(raw.get("fulfillment"), dict) else {}
    count = 0
    for item in items:
        quantity = item.get("quantityOrdered") if isinstance(item, dict) else None
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            return None
        count += quantity
    total, currency = None, None
    proceeds = raw.get("proceeds")
    grand = proceeds.get("grandTotal") if isinstance(proceeds, dict) else None
    if isinstance(grand, dict):
        try:
            total = Decimal(str(grand.get("amount")))
        except InvalidOperation:
            return None
        if not total.is_finite():
            return None
        currency = grand.get("currencyCode") if isinstance(grand.get("currencyCode"), str) else None
        if currency is None or len(currency) != 3:
            return None
    return AmazonOrder(
        amazon_order_id=order_id, marketplace_id=channel["marketplaceId"],
        status=_short(fulfillment.get("fulfillmentStatus")),
        fulfillment_channel=_short(fulfillment.get("fulfilledBy")),
        created_at=created, last_updated_at=updated, item_count=count, total=total, currency=currency)


def _short(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 32 else None


@dataclass(frozen=True)
class OrdersPage:
    """The answer to one searchOrders call. ``code`` is OK, TOKEN_REJECTED or a verify code of
    :mod:`portal.amazon.client` (bad_request, forbidden, invalid_grant, throttled, unavailable, ...)."""

    code: str
    orders: list[AmazonOrder] = field(default_factory=list)
    next_token: str | None = field(default=None, repr=False)
    # The response's lastUpdatedBefore / createdBefore: where the next incremental run starts.
    before: datetime | None = None
    retry_after: int | None = None
    detail: str = ""
    request_id: str | None = None
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.code == OK

    @property
    def transient(self) -> bool:
        """Amazon or the network failed: the same call may work a little later (with back-off)."""
        return self.code in (amazon.UNAVAILABLE, amazon.BAD_RESPONSE)


class OrdersClient:
    """searchOrders over the shared :class:`~portal.amazon.client.SpApiClient` machinery (LWA token
    cache, timeouts, x-amzn-RequestId). Thread-safe; one per app."""

    def __init__(self, settings: amazon.AmazonSettings, http: httpx.Client | None = None,
                 token_cache: amazon.AccessTokenCache | None = None) -> None:
        self._client = amazon.SpApiClient(replace(settings, max_tries=1), http=http,
                                          token_cache=token_cache or amazon.AccessTokenCache())
        self.settings = self._client.settings

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OrdersClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def search_orders(self, *, auth_key: str, refresh_token: str, region: str, window: SearchWindow,
                      pagination_token: str | None = None) -> OrdersPage:
        """One page of searchOrders for a seller authorization. Never raises for Amazon-side
        problems; one HTTP request to the SP-API (plus the LWA exchange when no token is cached)."""
        missing = self.settings.missing_settings()
        if missing:
            return OrdersPage(amazon.NOT_CONFIGURED, detail="missing settings: " + ", ".join(missing))
        region = (region or "").upper()
        if region not in self.settings.endpoints or not refresh_token:
            return OrdersPage(amazon.BAD_REQUEST, detail="unknown region or empty refresh token")
        budget = _Budget(self.settings, time.monotonic)
        try:
            page = self._search(auth_key, refresh_token, region, window, pagination_token, budget)
        except _Failed as failure:
            page = OrdersPage(failure.code, detail=failure.detail, retry_after=failure.retry_after)
        page = replace(page, attempts=budget.attempts, request_id=budget.request_id)
        level = logging.INFO if page.ok else logging.WARNING
        log.log(level, "amazon searchOrders %s: %s (%s; %d orders; x-amzn-RequestId %s)", auth_key, page.code,
                page.detail, len(page.orders), page.request_id or "-")
        return page

    def _search(self, auth_key: str, refresh_token: str, region: str, window: SearchWindow,
                pagination_token: str | None, budget: _Budget) -> OrdersPage:
        client = self._client
        url = self.settings.endpoints[region].rstrip("/") + SEARCH_ORDERS_PATH

        def fetch() -> tuple[str, float]:
            return client._fetch_access_token(refresh_token, budget)

        params = window.params(pagination_token)
        token, from_cache = client._cache.get_or_fetch(auth_key, refresh_token, fetch)
        response = self._get(url, token, params, budget)
        if response.status_code == 403 and from_cache and _error_details(response) not in (
                _SECRET_EXPIRED_DETAILS, _TOKEN_MISSING_DETAILS):
            # A cached access token may have been revoked upstream: one retry with a fresh one.
            client._cache.invalidate(auth_key, refresh_token, token)
            token, _ = client._cache.get_or_fetch(auth_key, refresh_token, fetch)
            response = self._get(url, token, params, budget)
        return evaluate(response, window, with_token=bool(pagination_token))

    def _get(self, url: str, token: str, params: dict[str, str], budget: _Budget) -> httpx.Response:
        return self._client._send(budget, "SP-API", "GET", url, params=params, headers={
            "x-amz-access-token": token, "Accept": "application/json"})


def evaluate(response: httpx.Response, window: SearchWindow, *, with_token: bool) -> OrdersPage:
    """Classify a searchOrders answer (same codes as verify) and parse a 200."""
    status = response.status_code
    body = _json_body(response)
    if status != 200:
        code = _first_error_code(body)
        label = f"SP-API {status} {code or 'no error code'}"
        details = _error_details(response, body)
        if status == 400 and with_token:
            return OrdersPage(TOKEN_REJECTED, detail=label + " (pagination token expired or invalid)")
        if status == 400:
            return OrdersPage(amazon.BAD_REQUEST, detail=label)
        if status == 403 and details == _SECRET_EXPIRED_DETAILS:
            return OrdersPage(amazon.SECRET_EXPIRED, detail=label + " (LWA secret expired)")
        if status == 403 and details == _TOKEN_MISSING_DETAILS:
            return OrdersPage(amazon.REFUSED, detail=label + " (access token missing)")
        if status == 403:
            return OrdersPage(amazon.FORBIDDEN, detail=label)
        if status == 401:
            return OrdersPage(amazon.INVALID_CLIENT, detail=label)
        if status == 429:
            header = _retry_after_header(response)
            wait = THROTTLE_WAIT_SECONDS if header is None else max(THROTTLE_WAIT_SECONDS, int(header + 0.999))
            return OrdersPage(amazon.THROTTLED, detail=label, retry_after=wait)
        if status >= 500:
            return OrdersPage(amazon.UNAVAILABLE, detail=label)
        if 400 < status < 500:
            return OrdersPage(amazon.REFUSED, detail=label)
        return OrdersPage(amazon.BAD_RESPONSE, detail=f"SP-API unexpected status {status}")
    if not isinstance(body, dict) or not isinstance(body.get("orders"), list):
        return OrdersPage(amazon.BAD_RESPONSE, detail="SP-API 200 not a SearchOrdersResponse")
    orders = []
    for raw in body["orders"]:
        order = parse_order(raw)
        if order is None:
            return OrdersPage(amazon.BAD_RESPONSE, detail="SP-API 200 with a malformed order")
        orders.append(order)
    pagination = body.get("pagination")
    next_token = pagination.get("nextToken") if isinstance(pagination, dict) else None
    if next_token is not None and (not isinstance(next_token, str) or not next_token or len(next_token) > 4000):
        return OrdersPage(amazon.BAD_RESPONSE, detail="SP-API 200 with a malformed nextToken")
    echoed = parse_time(body.get("createdBefore" if window.family == CREATED else "lastUpdatedBefore"))
    return OrdersPage(OK, orders=orders, next_token=next_token, before=echoed or window.before,
                      detail=f"SP-API 200 {len(orders)} orders" + (" (more)" if next_token else ""))


# Codes after which the seller's sync stops until the shop is re-authorized.
STOPPING_CODES = frozenset({amazon.FORBIDDEN, amazon.INVALID_GRANT})
