"""The SP-API client against a real stand-in Amazon over loopback."""

import itertools
import logging
import re
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from flask import Flask
from flask_babel import Babel

from portal.amazon import client as c
from portal.amazon.client import AccessTokenCache, AmazonSettings, SpApiClient, VerifyOutcome
from portal.amazon.marketplaces import REGIONS, marketplaces_in
from portal.amazon.outcomes import describe
from devtools.standin import StandinAmazon

US, CA, MX, DE = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8", "A1PA6795UKMFR9"
SECRET = "standin-secret"
TOKEN = "Atzr|test-refresh-token-shop-one"
SELLER = "A1TESTSELLER01"


@pytest.fixture
def amazon():
    with StandinAmazon() as server:
        yield server


def make_settings(amazon: StandinAmazon, **overrides) -> AmazonSettings:
    values = dict(
        lwa_token_url=amazon.token_url,
        endpoints={code: amazon.endpoint for code in REGIONS},
        client_id="amzn1.application-oa2-client.standin", client_secret=SECRET,
        connect_timeout=1.0, read_timeout=2.0, backoff_base=0.01, max_total_wait=1.0,
    )
    values.update(overrides)
    return AmazonSettings(**values)


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def make_client(amazon, sleeps):
    clients = []

    def factory(cache: AccessTokenCache | None = None, **overrides) -> SpApiClient:
        client = SpApiClient(make_settings(amazon, **overrides), sleep=sleeps.append,
                             token_cache=cache or AccessTokenCache())
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


def check(client: SpApiClient, token: str = TOKEN, marketplaces=(US, CA), region: str = "NA",
          key: str = "shop-1") -> VerifyOutcome:
    return client.check_authorization(auth_key=key, refresh_token=token, region=region,
                                      marketplace_ids=list(marketplaces))


def assert_no_secrets(outcome: VerifyOutcome, *tokens: str) -> None:
    text = repr(outcome)
    assert SECRET not in text and "Atza|" not in text
    for token in tokens:
        assert token not in text


# scenario, code, transient, LWA calls, participations calls (default max_tries=3)
SCENARIOS = [
    ("valid", c.VERIFIED, False, 1, 1),
    ("revoked", c.INVALID_GRANT, False, 1, 0),
    ("bad_client", c.INVALID_CLIENT, False, 1, 0),
    ("forbidden", c.FORBIDDEN, False, 1, 1),
    # Amazon's 429 has no Retry-After: not retried (the Sellers API refills one request per 62.5 s).
    ("throttled_once", c.THROTTLED, True, 1, 1),
    ("throttled", c.THROTTLED, True, 1, 1),
    ("error500", c.UNAVAILABLE, True, 1, 3),
    ("html_503", c.UNAVAILABLE, True, 1, 3),
    # The portal's own credentials are at fault, not the shop's authorization.
    ("lwa_secret_expired", c.SECRET_EXPIRED, False, 1, 1),
    ("unauthorized_401", c.INVALID_CLIENT, False, 1, 1),
    # Amazon refused for a reason our input did not cause: not conclusive.
    ("not_found_404", c.REFUSED, False, 1, 1),
    ("too_large_413", c.REFUSED, False, 1, 1),
    ("unsupported_415", c.REFUSED, False, 1, 1),
    ("missing_token", c.REFUSED, False, 1, 1),
    ("unauthorized_client", c.REFUSED, False, 1, 0),
    ("invalid_request", c.REFUSED, False, 1, 0),
    ("html", c.BAD_RESPONSE, True, 1, 1),
    ("malformed", c.BAD_RESPONSE, True, 1, 1),
    ("wrong_shape", c.BAD_RESPONSE, True, 1, 1),
    ("invalid_input", c.BAD_REQUEST, False, 1, 1),
    ("suspended", c.VERIFIED, False, 1, 1),
    ("partial", c.NOT_PARTICIPATING, False, 1, 1),
]


@pytest.mark.parametrize("scenario,code,transient,lwa_calls,sp_calls", SCENARIOS)
def test_every_scenario_maps_to_its_outcome(amazon, make_client, scenario, code, transient,
                                            lwa_calls, sp_calls):
    amazon.register(TOKEN, seller_id=SELLER, scenario=scenario, marketplaces=(US, CA),
                    store_name="Blue Kettle")
    outcome = check(make_client())
    assert outcome.code == code
    assert outcome.transient is transient
    assert outcome.ok is (code == c.VERIFIED)
    assert amazon.counts["token"] == lwa_calls
    assert amazon.counts["participations"] == sp_calls
    assert outcome.attempts == lwa_calls + sp_calls
    assert outcome.detail
    # The x-amzn-RequestId of Amazon's last answer is kept, for Amazon support.
    assert outcome.request_id == amazon.request_ids[-1]
    assert_no_secrets(outcome, TOKEN)


@pytest.mark.parametrize("scenario,amazon_code", [
    ("not_found_404", "404 NotFound"), ("too_large_413", "413 RequestEntityTooLarge"),
    ("unsupported_415", "415 UnsupportedMediaType"), ("missing_token", "403 Unauthorized"),
    ("unauthorized_client", "400 unauthorized_client"), ("invalid_request", "400 invalid_request"),
])
def test_refused_outcomes_carry_amazons_code(amazon, make_client, babel_app, scenario, amazon_code):
    amazon.register(TOKEN, seller_id=SELLER, scenario=scenario, marketplaces=(US, CA))
    outcome = check(make_client())
    assert outcome.code == c.REFUSED and outcome.amazon_code == amazon_code
    with babel_app.test_request_context():
        message, next_step = describe(outcome)
    assert f"Amazon refused the request (code {amazon_code})" in message
    assert "unchanged" in next_step


def test_expired_lwa_secret_and_spapi_401_blame_the_portals_credentials(amazon, make_client, babel_app):
    amazon.register(TOKEN, seller_id=SELLER, scenario="lwa_secret_expired", marketplaces=(US, CA))
    client = make_client()
    assert check(client).ok is False
    expired = check(client)  # with a cached access token: no pointless second token exchange
    assert expired.code == c.SECRET_EXPIRED and expired.attempts == 1
    amazon.register(TOKEN, seller_id=SELLER, scenario="unauthorized_401", marketplaces=(US, CA))
    unauthorized = check(make_client())
    assert unauthorized.code == c.INVALID_CLIENT and "SP-API 401" in unauthorized.detail
    with babel_app.test_request_context():
        secret_text = " ".join(describe(expired))
        client_text = " ".join(describe(unauthorized))
    assert "LWA client secret has expired" in secret_text and "AMAZON_LWA_CLIENT_SECRET" in secret_text
    assert "not a problem with this shop's authorization" in secret_text
    assert "the portal's own application credentials" in client_text


def test_lwa_error_request_id_is_kept(amazon, make_client):
    amazon.register(TOKEN, seller_id=SELLER, scenario="revoked", marketplaces=(US, CA))
    outcome = check(make_client())
    assert outcome.code == c.INVALID_GRANT
    assert outcome.request_id == amazon.request_ids[-1]
    assert re.fullmatch(r"[0-9a-f-]{36}", outcome.request_id)


def test_unknown_marketplaces_in_the_answer_are_ignored(amazon, make_client):
    client = make_client(endpoints=amazon.endpoints)
    outcome = check(client, token="Atzr|standin-valid-unknown-marketplace")
    assert outcome.ok
    ids = [p["marketplace_id"] for p in outcome.participations]
    assert ids == [mp.marketplace_id for mp in marketplaces_in("NA")]  # the NA endpoint lists NA only
    assert "A2ZV50J4W1RKNI" not in ids


def test_valid_shop_reports_store_and_participations(amazon, make_client, sleeps):
    amazon.register(TOKEN, seller_id=SELLER, marketplaces=(US, CA, MX), store_name="Blue Kettle")
    outcome = check(make_client(), marketplaces=(US, MX))
    assert outcome.code == c.VERIFIED
    assert outcome.store_name == "Blue Kettle"
    assert outcome.missing_marketplaces == [] and outcome.suspended_marketplaces == []
    assert [p["marketplace_id"] for p in outcome.participations] == [US, CA, MX]
    assert outcome.participations[0] == {
        "marketplace_id": US, "country_code": "US", "name": "Amazon.com",
        "store_name": "Blue Kettle", "is_participating": True, "has_suspended_listings": False,
    }
    assert amazon.calls == [("/sellers/v1/marketplaceParticipations", SELLER)]
    assert sleeps == []


def test_suspended_listings_are_a_warning_on_a_verified_shop(amazon, make_client):
    amazon.register(TOKEN, seller_id=SELLER, scenario="suspended", marketplaces=(US, CA))
    outcome = check(make_client(), marketplaces=(CA,))
    assert outcome.ok
    assert outcome.suspended_marketplaces == [CA]


def test_partial_participation_names_the_missing_marketplaces(amazon, make_client):
    amazon.register(TOKEN, seller_id=SELLER, scenario="partial", marketplaces=(US, CA, MX),
                    store_name="Blue Kettle")
    outcome = check(make_client(), marketplaces=(US, CA, MX))
    assert outcome.code == c.NOT_PARTICIPATING
    assert outcome.missing_marketplaces == [CA, MX]
    assert outcome.store_name == "Blue Kettle"
    # Only the participating marketplace selected: fine.
    assert check(make_client(), marketplaces=(US,)).ok


def test_a_marketplace_absent_from_the_answer_is_missing(amazon, make_client):
    amazon.register(TOKEN, seller_id=SELLER, marketplaces=(US,))
    outcome = check(make_client(), marketplaces=(US, MX))
    assert outcome.code == c.NOT_PARTICIPATING
    assert outcome.missing_marketplaces == [MX]


def test_a_retry_after_that_fits_the_budget_is_honoured(amazon, make_client, sleeps):
    amazon.throttle_retry_after = 1  # Amazon rarely sends one; when it does, it is honoured
    amazon.register(TOKEN, seller_id=SELLER, scenario="throttled_once", marketplaces=(US, CA))
    outcome = check(make_client(max_total_wait=2.0))
    assert outcome.ok
    assert sleeps == [1.0]
    assert amazon.counts_for(TOKEN) == Counter(token=1, participations=2)
    assert outcome.attempts == 3


def test_429_without_retry_after_is_not_retried(amazon, make_client, sleeps):
    amazon.register(TOKEN, seller_id=SELLER, scenario="throttled", marketplaces=(US, CA))
    outcome = check(make_client(max_total_wait=6.0, backoff_base=0.5))
    assert outcome.code == c.THROTTLED and outcome.transient
    assert outcome.retry_after == 63  # no Retry-After: the Sellers API refills one request per 62.5 s
    assert amazon.counts["participations"] == 1
    assert sleeps == []


def test_retry_after_beyond_the_budget_stops_at_once(amazon, make_client, sleeps):
    amazon.register(TOKEN, seller_id=SELLER, scenario="throttled", marketplaces=(US, CA))
    amazon.throttle_retry_after = 30
    outcome = check(make_client(max_total_wait=6.0))
    assert outcome.code == c.THROTTLED
    assert outcome.retry_after == 30
    assert amazon.counts["participations"] == 1
    assert sleeps == []


def test_error500_is_retried_max_tries_times(amazon, make_client, sleeps):
    amazon.register(TOKEN, seller_id=SELLER, scenario="error500", marketplaces=(US, CA))
    outcome = check(make_client(max_tries=2))
    assert outcome.code == c.UNAVAILABLE
    assert amazon.counts["participations"] == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.01  # full jitter within backoff_base


@pytest.mark.parametrize("scenario", ["revoked", "bad_client", "forbidden", "invalid_input",
                                      "lwa_secret_expired", "unauthorized_401", "not_found_404",
                                      "unsupported_415", "unauthorized_client", "invalid_request",
                                      "missing_token"])
def test_client_errors_are_never_retried(amazon, make_client, sleeps, scenario):
    amazon.register(TOKEN, seller_id=SELLER, scenario=scenario, marketplaces=(US, CA))
    outcome = check(make_client())
    assert amazon.counts["token"] == 1
    assert amazon.counts["participations"] <= 1
    assert sleeps == []
    assert not outcome.transient


def test_not_configured_makes_no_http_call(amazon, make_client):
    outcome = check(make_client(client_id="", client_secret=None), token="Atzr|standin-valid-1")
    assert outcome.code == c.NOT_CONFIGURED
    assert outcome.missing_settings == ["AMAZON_LWA_CLIENT_ID", "AMAZON_LWA_CLIENT_SECRET"]
    assert outcome.attempts == 0
    assert sum(amazon.counts.values()) == 0


@pytest.mark.parametrize("region,marketplaces,token", [
    ("XX", (US,), TOKEN),
    ("NA", (), TOKEN),
    ("NA", (US, DE), TOKEN),  # DE is an EU marketplace
    ("NA", (US,), "amzn.mws.4ea38b7b-f563-7709-4bae-87aeaEXAMPLE"),
    ("NA", (US,), "   "),
])
def test_requests_that_cannot_be_right_are_refused_without_calling_amazon(
        amazon, make_client, region, marketplaces, token):
    outcome = check(make_client(), token=token, region=region, marketplaces=marketplaces)
    assert outcome.code == c.BAD_REQUEST
    assert outcome.attempts == 0
    assert sum(amazon.counts.values()) == 0


def test_slow_amazon_is_unavailable_within_bounded_time(amazon, make_client):
    amazon.register(TOKEN, seller_id=SELLER, scenario="slow", marketplaces=(US, CA))
    amazon.slow_seconds = 5
    started = time.monotonic()
    outcome = check(make_client(read_timeout=0.3, max_tries=2))
    elapsed = time.monotonic() - started
    assert outcome.code == c.UNAVAILABLE and outcome.transient
    assert "timeout" in outcome.detail
    assert amazon.counts["participations"] == 2
    assert outcome.attempts == 3
    assert elapsed < 2.0


def test_total_time_is_capped_even_with_generous_timeouts(amazon, make_client):
    amazon.register(TOKEN, seller_id=SELLER, scenario="slow", marketplaces=(US, CA))
    amazon.slow_seconds = 5
    started = time.monotonic()
    outcome = check(make_client(read_timeout=3.0, max_tries=3, max_total_time=0.8))
    assert outcome.code == c.UNAVAILABLE
    assert time.monotonic() - started < 1.5


def test_no_request_is_started_once_the_time_budget_is_spent(amazon):
    ticks = itertools.chain([0.0], itertools.repeat(100.0))
    amazon.register(TOKEN, seller_id=SELLER, marketplaces=(US, CA))
    with SpApiClient(make_settings(amazon), token_cache=AccessTokenCache(),
                     clock=lambda: next(ticks)) as client:
        outcome = check(client)
    assert outcome.code == c.UNAVAILABLE
    assert outcome.attempts == 0 and "out of time" in outcome.detail
    assert sum(amazon.counts.values()) == 0


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_connection_refused_is_retried_then_unavailable(amazon, make_client, sleeps):
    amazon.register(TOKEN, seller_id=SELLER, marketplaces=(US, CA))
    dead = _closed_port_url()
    outcome = check(make_client(endpoints={"NA": dead}))
    assert outcome.code == c.UNAVAILABLE
    assert outcome.attempts == 1 + 3
    assert len(sleeps) == 2

    outcome = check(make_client(lwa_token_url=dead + "/auth/o2/token"), key="other")
    assert outcome.code == c.UNAVAILABLE and outcome.attempts == 3
    assert "LWA" in outcome.detail


def test_wrong_region_authorization_is_forbidden(amazon, make_client):
    amazon.register(TOKEN, seller_id=SELLER, marketplaces=(DE,), region="EU")
    client = make_client(endpoints=amazon.endpoints)
    assert check(client, marketplaces=(US,), region="NA").code == c.FORBIDDEN
    assert check(client, marketplaces=(DE,), region="EU", key="shop-2").ok


def test_token_cache_makes_one_lwa_call_per_authorization(amazon, make_client):
    amazon.register(TOKEN, seller_id=SELLER, marketplaces=(US, CA))
    client = make_client()
    first, second = check(client), check(client)
    assert first.ok and second.ok
    assert second.attempts == 1
    assert amazon.counts == Counter(token=1, participations=2)

    # Re-authorized: a new refresh token for the same shop must not reuse the old access token.
    new_token = TOKEN + "-renewed"
    amazon.register(new_token, seller_id=SELLER, marketplaces=(US, CA))
    amazon.register(TOKEN, seller_id=SELLER, scenario="revoked", marketplaces=(US, CA))
    assert check(client, token=new_token).ok
    assert amazon.counts_for(new_token)["token"] == 1
    assert amazon.counts["token"] == 2

    # Same refresh token under another auth key: its own cache entry.
    assert check(client, key="shop-2").code == c.INVALID_GRANT


def test_revoked_cached_access_token_is_replaced_once(amazon, make_client):
    amazon.register(TOKEN, seller_id=SELLER, marketplaces=(US, CA))
    client = make_client()
    assert check(client).ok
    amazon.revoke_access_tokens(TOKEN)
    outcome = check(client)
    assert outcome.ok
    assert outcome.attempts == 3  # 403 with the cached token, LWA, SP-API
    assert amazon.counts == Counter(token=2, participations=3)


def test_forbidden_with_a_cached_token_retries_only_once(amazon, make_client):
    amazon.register(TOKEN, seller_id=SELLER, marketplaces=(US, CA))
    client = make_client()
    assert check(client).ok
    amazon.register(TOKEN, seller_id=SELLER, scenario="forbidden", marketplaces=(US, CA))
    outcome = check(client)
    assert outcome.code == c.FORBIDDEN
    assert outcome.attempts == 3
    assert amazon.counts == Counter(token=2, participations=3)


def test_concurrent_checks_each_carry_their_own_sellers_token(amazon, make_client):
    amazon.latency = 0.02
    sellers = {}
    for i in range(10):
        token = f"Atzr|concurrency-seller-{i}"
        sellers[token] = f"A{i:013d}"
        amazon.register(token, seller_id=sellers[token], marketplaces=(US,),
                        store_name=f"Store {i}")
    tokens = list(sellers)
    client = make_client()

    def run(i: int) -> tuple[int, VerifyOutcome]:
        return i, check(client, token=tokens[i], marketplaces=(US,), key=f"shop-{i}")

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(run, [n % 10 for n in range(50)]))

    for i, outcome in results:
        assert outcome.ok, outcome.detail
        assert outcome.store_name == f"Store {i}"  # the answer came from this seller's token
    assert amazon.counts["token"] == 10  # per-key lock: one LWA call per authorization
    assert Counter(seller for _, seller in amazon.calls) == {s: 5 for s in sellers.values()}
    for token in tokens:
        assert amazon.counts_for(token) == Counter(token=1, participations=5)
    assert amazon.max_concurrent > 1


def test_no_token_or_secret_reaches_the_logs_at_debug(amazon, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    amazon.throttle_retry_after = 1
    amazon.register(TOKEN, seller_id=SELLER, scenario="throttled_once", marketplaces=(US, CA))
    client = make_client(max_total_wait=2.0)
    assert check(client).ok
    amazon.revoke_access_tokens()
    assert check(client).ok
    amazon.register(TOKEN, seller_id=SELLER, scenario="revoked", marketplaces=(US, CA))
    assert check(client, key="shop-2").code == c.INVALID_GRANT
    assert "amazon check shop-1: verified" in caplog.text
    assert f"x-amzn-RequestId {amazon.request_ids[-1]}" in caplog.text  # logged, for Amazon support
    assert "HTTP Request: POST" in caplog.text  # httpx itself was logging too
    for secret in (TOKEN, SECRET, "Atza|", "Atzr%7C", "Atza%7C"):
        assert secret not in caplog.text


# -- AccessTokenCache on its own ---------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_honours_expiry_minus_safety_margin():
    clock = FakeClock()
    cache = AccessTokenCache(clock=clock)
    fetched = []

    def fetch():
        fetched.append(1)
        return f"token-{len(fetched)}", 3600

    assert cache.get_or_fetch("k", "r", fetch) == ("token-1", False)
    clock.now += 3539
    assert cache.get_or_fetch("k", "r", fetch) == ("token-1", True)
    clock.now += 2
    assert cache.get_or_fetch("k", "r", fetch) == ("token-2", False)
    assert cache.get_or_fetch("k", "r", lambda: ("short", 30)) == ("token-2", True)
    cache.invalidate("k", "r", "some-other-token")
    assert cache.get("k", "r") == "token-2"
    cache.invalidate("k", "r", "token-2")
    assert cache.get("k", "r") is None
    assert cache.get_or_fetch("k", "r", lambda: ("short", 30)) == ("short", False)
    assert cache.get("k", "r") is None  # shorter-lived than the margin: not cached


def test_cache_drops_the_old_token_when_the_refresh_token_changes():
    cache = AccessTokenCache()
    cache.get_or_fetch("shop", "old", lambda: ("a", 3600))
    cache.get_or_fetch("shop", "new", lambda: ("b", 3600))
    assert cache.get("shop", "old") is None
    assert cache.get("shop", "new") == "b"
    assert len(cache) == 1


def test_cache_failures_propagate_and_cache_nothing():
    cache = AccessTokenCache()

    def fail():
        raise RuntimeError("lwa down")

    with pytest.raises(RuntimeError):
        cache.get_or_fetch("k", "r", fail)
    assert len(cache) == 0


def test_cache_serialises_per_key_but_not_across_keys():
    cache = AccessTokenCache()
    release_a = threading.Event()
    calls = Counter()

    def fetch_a():
        calls["a"] += 1
        assert release_a.wait(5)
        return "token-a", 3600

    with ThreadPoolExecutor(max_workers=11) as pool:
        waiting = [pool.submit(cache.get_or_fetch, "a", "ra", fetch_a) for _ in range(10)]
        # Key "b" is served while all ten "a" callers are still blocked.
        assert pool.submit(cache.get_or_fetch, "b", "rb",
                           lambda: ("token-b", 3600)).result(timeout=2) == ("token-b", False)
        release_a.set()
        results = [f.result(timeout=5) for f in waiting]
    assert calls["a"] == 1
    assert sorted(results) == [("token-a", False)] + [("token-a", True)] * 9


# -- LWA edge cases that the stand-in has no scenario for (Amazon mocked at transport level) -----

def _check_with_transport(handler, sleeps: list[float]) -> VerifyOutcome:
    settings = AmazonSettings(client_id="id", client_secret=SECRET, backoff_base=0.01)
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = SpApiClient(settings, http=http, sleep=sleeps.append,
                             token_cache=AccessTokenCache())
        return check(client)


@pytest.mark.parametrize("replies,code", [
    ([(503, {"error": "temporarily_unavailable"})] * 3, c.UNAVAILABLE),
    ([(429, {"error": "rate_limited"})], c.THROTTLED),  # no Retry-After: no retry
    ([(200, "<html>login</html>")], c.BAD_RESPONSE),
    ([(200, {"token_type": "bearer"})], c.BAD_RESPONSE),
    ([(400, {"error": "invalid_request"})], c.REFUSED),
    ([(400, {"error": "unauthorized_client"})], c.REFUSED),
    ([(400, {"error": "unsupported_grant_type"})], c.REFUSED),
    ([(401, "")], c.INVALID_CLIENT),
    ([(400, {"error": "invalid_client"})], c.INVALID_CLIENT),
])
def test_lwa_answers_map_to_outcomes(replies, code):
    sleeps: list[float] = []
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = replies[len(seen) - 1]
        if isinstance(body, dict):
            return httpx.Response(status, json=body)
        return httpx.Response(status, text=body, headers={"content-type": "text/html"})

    outcome = _check_with_transport(handler, sleeps)
    assert outcome.code == code
    assert len(seen) == len(replies) == outcome.attempts
    form = seen[0].content.decode()
    assert seen[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert "grant_type=refresh_token" in form and "client_id=id" in form
    assert_no_secrets(outcome, TOKEN)


def test_lwa_503_then_success_is_retried():
    sleeps: list[float] = []
    answers = iter([httpx.Response(503, json={"error": "server_error"}),
                    httpx.Response(200, json={"access_token": "Atza|x", "expires_in": 3600}),
                    httpx.Response(200, json={"payload": []})])
    outcome = _check_with_transport(lambda request: next(answers), sleeps)
    assert outcome.code == c.NOT_PARTICIPATING  # empty payload: nothing participates
    assert outcome.attempts == 3 and len(sleeps) == 1


# -- settings ------------------------------------------------------------------------------------

def test_settings_from_config_defaults_and_overrides():
    defaults = AmazonSettings.from_config({})
    assert defaults.lwa_token_url == "https://api.amazon.com/auth/o2/token"
    assert defaults.endpoints["EU"] == "https://sellingpartnerapi-eu.amazon.com"
    assert (defaults.connect_timeout, defaults.read_timeout, defaults.max_tries) == (3.0, 8.0, 3)
    assert defaults.missing_settings() == ["AMAZON_LWA_CLIENT_ID", "AMAZON_LWA_CLIENT_SECRET"]

    settings = AmazonSettings.from_config({
        "AMAZON_LWA_TOKEN_URL": "http://127.0.0.1:9/auth/o2/token",
        "AMAZON_SPAPI_ENDPOINT_FE": "http://127.0.0.1:9/",
        "AMAZON_LWA_CLIENT_ID": "amzn1.application-oa2-client.x",
        "AMAZON_LWA_CLIENT_SECRET": "s3cret-value",
        "AMAZON_CONNECT_TIMEOUT": "1.5", "AMAZON_READ_TIMEOUT": 4, "AMAZON_MAX_TRIES": "2",
    })
    assert settings.endpoints["FE"] == "http://127.0.0.1:9"
    assert settings.endpoints["NA"] == "https://sellingpartnerapi-na.amazon.com"
    assert (settings.connect_timeout, settings.read_timeout, settings.max_tries) == (1.5, 4.0, 2)
    assert settings.missing_settings() == []
    assert "s3cret-value" not in repr(settings)

    assert c.settings_warnings({"AMAZON_LWA_CLIENT_ID": "amzn1.application-oa2-client.0a1b2c3d"}) == []
    assert c.settings_warnings({}) == []
    warnings = c.settings_warnings({"AMAZON_LWA_CLIENT_ID": "amzn1.sp.solution.1234-abcd"})
    assert len(warnings) == 1 and "amzn1.application-oa2-client." in warnings[0]
    assert "application ID" in warnings[0]

    blank = AmazonSettings.from_config({"AMAZON_LWA_CLIENT_ID": " ",
                                        "AMAZON_LWA_CLIENT_SECRET": ""})
    assert blank.client_id is None and blank.client_secret is None


# -- user-facing texts ---------------------------------------------------------------------------

@pytest.fixture
def babel_app():
    app = Flask(__name__)
    Babel(app, locale_selector=lambda: app.config.get("TEST_LOCALE", "en"))
    return app


@pytest.mark.parametrize("code", c.ALL_CODES)
def test_describe_gives_text_for_every_code(babel_app, code):
    outcome = VerifyOutcome(code, missing_marketplaces=[CA], retry_after=30,
                            missing_settings=["AMAZON_LWA_CLIENT_SECRET"])
    with babel_app.test_request_context():
        message, next_step = describe(outcome)
    assert message.strip() and next_step.strip()
    assert "%(" not in message + next_step


def test_describe_fills_in_the_specifics(babel_app):
    with babel_app.test_request_context():
        missing = describe(VerifyOutcome(c.NOT_PARTICIPATING, missing_marketplaces=[CA, MX]))
        throttled = describe(VerifyOutcome(c.THROTTLED, retry_after=42))
        config = describe(VerifyOutcome(c.NOT_CONFIGURED,
                                        missing_settings=["AMAZON_LWA_CLIENT_ID"]))
        suspended = describe(VerifyOutcome(c.VERIFIED, suspended_marketplaces=[US]))
        forbidden = describe(VerifyOutcome(c.FORBIDDEN))
        grant = describe(VerifyOutcome(c.INVALID_GRANT))
    assert "Canada, Mexico" in missing[0]
    assert "42 seconds" in throttled[1]
    assert "AMAZON_LWA_CLIENT_ID" in config[0]
    assert "United States" in suspended[0]
    assert "region" in forbidden[0] and "role" in forbidden[0]
    assert "365 days" in grant[0] and "Re-authorize" in grant[1]
    babel_app.config["TEST_LOCALE"] = "zh_CN"
    with babel_app.test_request_context():
        assert "加拿大、墨西哥" in describe(
            VerifyOutcome(c.NOT_PARTICIPATING, missing_marketplaces=[CA, MX]))[0]
