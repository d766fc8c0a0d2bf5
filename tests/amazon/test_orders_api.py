"""searchOrders v2026-01-01 against the stand-in Amazon over real HTTP: parameters as the model states
them, pagination, parsing, and every failure classified like verify."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from devtools.standin import StandinAmazon, make_order
from portal.amazon import client as amazon
from portal.amazon import orders as api

US, CA, JP = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1VC38T7YXB528"
SELLER, TOKEN = "A1ORDERS000001", "Atzr|orders-api-seller-0123456789"


@pytest.fixture
def amazon_server():
    server = StandinAmazon().start()
    server.register(TOKEN, seller_id=SELLER, marketplaces=(US, CA), region="NA")
    yield server
    server.stop()


@pytest.fixture
def orders_client(amazon_server):
    settings = amazon.AmazonSettings.from_config({**amazon_server.portal_settings(), "AMAZON_READ_TIMEOUT": 2,
                                                  "AMAZON_MAX_TOTAL_TIME": 5})
    client = api.OrdersClient(settings)
    yield client
    client.close()


def now():
    return datetime.now(timezone.utc)


def window(family=api.CREATED, days=30, marketplaces=(US, CA), page_size=100):
    end = now() - timedelta(minutes=3)
    return api.SearchWindow(family, end - timedelta(days=days), end, tuple(marketplaces), page_size=page_size)


def access_token(server):
    response = httpx.post(server.token_url, data={"grant_type": "refresh_token", "refresh_token": TOKEN,
                                                  "client_id": server.client_id, "client_secret": server.client_secret})
    return response.json()["access_token"]


def search(orders_client, w, token=None, refresh_token=TOKEN):
    return orders_client.search_orders(auth_key="test", refresh_token=refresh_token, region="NA", window=w,
                                       pagination_token=token)


def test_backfill_parameters_are_exactly_the_models(orders_client, amazon_server):
    w = window()
    page = search(orders_client, w)
    assert page.ok, page.detail
    (query,) = amazon_server.order_queries
    assert set(query) == {"createdAfter", "createdBefore", "marketplaceIds", "maxResultsPerPage", "includedData"}
    assert query["createdAfter"] == w.after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert query["createdBefore"] == w.before.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert query["marketplaceIds"] == f"{US},{CA}"
    assert query["maxResultsPerPage"] == "100"
    assert set(query["includedData"].split(",")) == {"PROCEEDS", "FULFILLMENT"}
    assert datetime.fromisoformat(query["createdBefore"]) <= now() - timedelta(minutes=2)


def test_incremental_parameters_never_mix_the_families(orders_client, amazon_server):
    page = search(orders_client, window(api.UPDATED, days=1))
    assert page.ok, page.detail
    (query,) = amazon_server.order_queries
    assert {"lastUpdatedAfter", "lastUpdatedBefore"} <= set(query)
    assert not {"createdAfter", "createdBefore"} & set(query)


def test_a_window_refuses_what_the_model_forbids():
    end = now()
    with pytest.raises(ValueError):
        api.SearchWindow(api.CREATED, end, end - timedelta(seconds=1), (US,))
    with pytest.raises(ValueError):
        api.SearchWindow(api.CREATED, end - timedelta(days=1), end, tuple(f"M{i}" for i in range(51)))
    with pytest.raises(ValueError):
        api.SearchWindow(api.CREATED, end - timedelta(days=1), end, (US,), page_size=101)
    ids = [f"M{i:03d}" for i in range(120)]
    chunks = api.marketplace_chunks(ids + ids[:3])
    assert [len(c) for c in chunks] == [50, 50, 20] and sum(chunks, ()) == tuple(ids)


def test_orders_are_parsed_with_the_models_field_names(orders_client, amazon_server):
    created = now() - timedelta(days=2)
    amazon_server.put_order(SELLER, make_order("111-0000001-0000001", created=created,
                                               last_updated=created + timedelta(hours=1), status="SHIPPED",
                                               fulfilled_by="AMAZON", amount="154.99", quantities=(2, 1)))
    amazon_server.put_order(SELLER, make_order("111-0000001-0000002", created=created, marketplace_id=CA,
                                               amount=None, status="PENDING", quantities=(1,)))
    page = search(orders_client, window())
    assert page.ok and page.next_token is None
    first, second = sorted(page.orders, key=lambda o: o.amazon_order_id)
    assert first == api.AmazonOrder(
        amazon_order_id="111-0000001-0000001", marketplace_id=US, status="SHIPPED", fulfillment_channel="AMAZON",
        created_at=created.replace(microsecond=0), last_updated_at=(created + timedelta(hours=1)).replace(microsecond=0),
        item_count=3, total=Decimal("154.99"), currency="USD")
    assert isinstance(first.total, Decimal)
    assert second.total is None and second.currency is None and second.status == "PENDING"
    assert page.before is not None and page.before <= now() - timedelta(minutes=2)


def test_the_models_example_parses():
    # The first 200 example of orders_2026-01-01.json, as the stand-in builds it, with a yen total.
    raw = make_order("250-1234567-8901234", created=datetime(2024, 12, 25, 2, 30, tzinfo=timezone.utc),
                     marketplace_id=JP, amount="19940", currency="JPY", quantities=(1, 2))
    order = api.parse_order(raw)
    assert order.total == Decimal("19940") and order.currency == "JPY" and order.item_count == 3
    assert api.parse_order({**raw, "orderItems": [{"quantityOrdered": "2"}]}) is None
    assert api.parse_order({k: v for k, v in raw.items() if k != "lastUpdatedTime"}) is None


def test_pagination_repeats_every_other_parameter(orders_client, amazon_server):
    base = now() - timedelta(days=3)
    for n in range(5):
        amazon_server.put_order(SELLER, make_order(f"111-0000002-{n:07d}", created=base + timedelta(minutes=n)))
    w = window(page_size=2)
    seen, token, pages = [], None, 0
    while True:
        page = search(orders_client, w, token)
        assert page.ok, page.detail
        seen += [o.amazon_order_id for o in page.orders]
        pages += 1
        token = page.next_token
        if token is None:
            break
    assert pages == 3 and sorted(seen) == [f"111-0000002-{n:07d}" for n in range(5)]
    first, *rest = amazon_server.order_queries
    assert "paginationToken" not in first
    for query in rest:
        assert query.pop("paginationToken")
        assert query == first


def test_changed_parameters_with_a_token_are_rejected_by_the_standin(orders_client, amazon_server):
    base = now() - timedelta(days=3)
    for n in range(3):
        amazon_server.put_order(SELLER, make_order(f"111-0000003-{n:07d}", created=base))
    page = search(orders_client, window(page_size=2))
    other = window(page_size=2, days=29)
    assert search(orders_client, other, page.next_token).code == api.TOKEN_REJECTED


def test_an_expired_pagination_token_is_reported_for_a_restart(orders_client, amazon_server):
    base = now() - timedelta(days=3)
    for n in range(3):
        amazon_server.put_order(SELLER, make_order(f"111-0000004-{n:07d}", created=base))
    w = window(page_size=2)
    page = search(orders_client, w)
    amazon_server.expire_pagination_tokens()
    rejected = search(orders_client, w, page.next_token)
    assert rejected.code == api.TOKEN_REJECTED and not rejected.transient


def test_a_400_without_a_token_is_our_bug(orders_client, amazon_server):
    end = now() - timedelta(seconds=30)  # closer than the two minutes the model requires
    w = api.SearchWindow(api.CREATED, end - timedelta(days=1), end, (US,))
    page = search(orders_client, w)
    assert page.code == amazon.BAD_REQUEST and "400 InvalidInput" in page.detail
    assert page.request_id


def test_the_standin_enforces_the_models_parameter_rules(amazon_server, orders_client):
    access = access_token(amazon_server)
    end = (now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    start = (now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    url = amazon_server.endpoints["NA"] + api.SEARCH_ORDERS_PATH
    bad = [{"createdAfter": start, "lastUpdatedBefore": end}, {"createdAfter": start, "lastUpdatedAfter": start},
           {}, {"createdAfter": start, "maxResultsPerPage": "101"},
           {"createdAfter": start, "marketplaceIds": ",".join(["ATVPDKIKX0DER"] * 51)},
           {"lastUpdatedAfter": end, "lastUpdatedBefore": start}]
    for params in bad:
        response = httpx.get(url, params=params, headers={"x-amz-access-token": access})
        assert response.status_code == 400, params
        assert response.json() == {"errors": [{"code": "InvalidInput", "message": "Invalid Input",
                                               "details": "Invalid Input"}]}
    ok = httpx.get(url, params={"createdAfter": start, "createdBefore": end}, headers={"x-amz-access-token": access})
    assert ok.status_code == 200 and ok.json() == {"orders": [], "createdBefore": end}


def test_proceeds_and_fulfillment_only_when_asked_for(amazon_server, orders_client):
    amazon_server.put_order(SELLER, make_order("111-0000005-0000001", created=now() - timedelta(days=1)))
    access = access_token(amazon_server)
    start = (now() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = httpx.get(amazon_server.endpoints["NA"] + api.SEARCH_ORDERS_PATH, params={"createdAfter": start},
                         headers={"x-amz-access-token": access})
    (order,) = response.json()["orders"]
    assert "proceeds" not in order and "fulfillment" not in order and "buyer" not in order
    assert api.parse_order(order).total is None


def test_forbidden_and_revoked(orders_client, amazon_server):
    amazon_server.register("Atzr|orders-forbidden-0123456789", seller_id="A1FORBIDDEN0001", scenario="forbidden")
    amazon_server.register("Atzr|orders-revoked-0123456789", seller_id="A1REVOKED00001", scenario="revoked")
    assert search(orders_client, window(), refresh_token="Atzr|orders-forbidden-0123456789").code == amazon.FORBIDDEN
    assert search(orders_client, window(), refresh_token="Atzr|orders-revoked-0123456789").code == amazon.INVALID_GRANT
    assert api.STOPPING_CODES == {amazon.FORBIDDEN, amazon.INVALID_GRANT}


def test_a_burst_beyond_the_plan_is_429_and_waits_at_least_180_seconds(orders_client, amazon_server):
    amazon_server.orders_burst = 3
    codes = [search(orders_client, window()).code for _ in range(4)]
    assert codes == [api.OK, api.OK, api.OK, amazon.THROTTLED]
    page = search(orders_client, window())
    assert page.retry_after >= 180 and not page.transient


def test_503_and_500_are_transient_and_tried_once_per_call(orders_client, amazon_server):
    amazon_server.fail_orders(SELLER, 503, 500)
    first, second, third = (search(orders_client, window()) for _ in range(3))
    assert (first.code, second.code, third.code) == (amazon.UNAVAILABLE, amazon.UNAVAILABLE, api.OK)
    assert first.transient and first.attempts == 2  # the LWA exchange and one searchOrders request
    assert amazon_server.counts["orders"] == 3


def test_a_timeout_is_transient(amazon_server):
    amazon_server.slow_seconds = 2
    amazon_server.register("Atzr|orders-slow-0123456789", seller_id="A1SLOW00000001", scenario="slow")
    settings = amazon.AmazonSettings.from_config({**amazon_server.portal_settings(), "AMAZON_READ_TIMEOUT": 0.3})
    with api.OrdersClient(settings) as client:
        page = search(client, window(), refresh_token="Atzr|orders-slow-0123456789")
    assert page.code == amazon.UNAVAILABLE and page.transient and "timeout" in page.detail
