"""Wire-level checks of the stand-in Amazon, spoken to with plain httpx."""

import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from portal.amazon.marketplaces import MARKETPLACES, marketplace_by_id, marketplaces_in
from devtools.standin import PARTICIPATIONS_PATH, StandinAmazon

US, CA, DE = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9"
TOKEN = "Atzr|wire-test-refresh-token"
SELLER = "A1WIRESELLER01"
CLIENT = {"client_id": "amzn1.application-oa2-client.standin", "client_secret": "standin-secret"}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def amazon():
    with StandinAmazon() as server:
        server.register(TOKEN, seller_id=SELLER, marketplaces=(US, CA), store_name="Blue Kettle")
        yield server


@pytest.fixture
def http():
    with httpx.Client(timeout=5) as client:
        yield client


def grant(http, amazon, **fields) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": TOKEN, **CLIENT, **fields}
    return http.post(amazon.token_url, data={k: v for k, v in form.items() if v is not None})


def access_token(http, amazon, refresh_token: str = TOKEN) -> str:
    response = grant(http, amazon, refresh_token=refresh_token)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def participations(http, base: str, token: str | None) -> httpx.Response:
    headers = {"x-amz-access-token": token} if token is not None else {}
    return http.get(base + PARTICIPATIONS_PATH, headers=headers)


def assert_error_envelope(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-amzn-requestid"]
    errors = response.json()["errors"]
    # sellers.json: code and message are required, details optional.
    assert len(errors) == 1 and {"code", "message"} <= set(errors[0]) <= {"code", "message", "details"}
    assert errors[0]["code"] == code
    return errors[0]


def assert_lwa_error(response: httpx.Response, status: int, error: str) -> dict:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error", "error_description", "error_index", "request_id"}
    assert body["error"] == error
    assert body["request_id"] == response.headers["x-amzn-requestid"]
    return body


# -- LWA token endpoint ----------------------------------------------------------------------

def test_refresh_token_grant_issues_a_bearer_token(http, amazon):
    response = grant(http, amazon)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["refresh_token"] == TOKEN  # the refresh grant returns the refresh token too
    assert body["access_token"].startswith("Atza|standin-")
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert response.headers["cache-control"] == "no-store"
    assert amazon.counts["token"] == 1 and amazon.counts_for(TOKEN)["token"] == 1


def test_token_endpoint_requires_a_form_post(http, amazon):
    response = http.post(amazon.token_url, json={"grant_type": "refresh_token",
                                                 "refresh_token": TOKEN, **CLIENT})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    response = http.get(amazon.token_url)
    assert response.status_code == 405 and response.headers["allow"] == "POST"


@pytest.mark.parametrize("field", ["grant_type", "refresh_token", "client_id", "client_secret"])
def test_missing_grant_fields_are_invalid_requests(http, amazon, field):
    response = grant(http, amazon, **{field: None})
    body = assert_lwa_error(response, 400, "invalid_request")
    assert field in body["error_description"]


def test_unsupported_grant_type(http, amazon):
    response = grant(http, amazon, grant_type="password")
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("field", ["client_id", "client_secret"])
def test_wrong_client_credentials_are_invalid_client(http, amazon, field):
    response = grant(http, amazon, **{field: "wrong"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.json()


@pytest.mark.parametrize("refresh_token", ["Atzr|never-issued", "Atzr|standin-nosuch-1"])
def test_unknown_refresh_token_is_invalid_grant(http, amazon, refresh_token):
    response = grant(http, amazon, refresh_token=refresh_token)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_scenarios_at_the_token_endpoint(http, amazon):
    for scenario in ("revoked", "bad_client", "unauthorized_client", "invalid_request"):
        amazon.register(f"Atzr|{scenario}", seller_id=SELLER, scenario=scenario)
    assert_lwa_error(grant(http, amazon, refresh_token="Atzr|revoked"), 400, "invalid_grant")
    assert_lwa_error(grant(http, amazon, refresh_token="Atzr|bad_client"), 401, "invalid_client")
    assert_lwa_error(grant(http, amazon, refresh_token="Atzr|unauthorized_client"), 400,
                     "unauthorized_client")
    assert_lwa_error(grant(http, amazon, refresh_token="Atzr|invalid_request"), 400, "invalid_request")


def test_conventional_tokens_need_no_registration(http, amazon):
    refresh_token = "Atzr|standin-suspended-demo-shop"
    seller_id = amazon.seller_id_for(refresh_token)
    assert re.fullmatch(r"A[0-9A-Z]{12,14}", seller_id)
    assert amazon.seller_id_for(refresh_token) == seller_id  # stable
    response = participations(http, amazon.url, access_token(http, amazon, refresh_token))
    payload = response.json()["payload"]
    assert [p["marketplace"]["id"] for p in payload] == [mp.marketplace_id for mp in MARKETPLACES]
    assert all(p["participation"]["hasSuspendedListings"] for p in payload)
    assert amazon.calls == [(PARTICIPATIONS_PATH, seller_id)]


# -- Sellers API -------------------------------------------------------------------------------

def test_participations_payload_has_the_model_shape(http, amazon):
    response = participations(http, amazon.url, access_token(http, amazon))
    assert response.status_code == 200
    assert response.headers["x-amzn-ratelimit-limit"] == "0.016"  # sent on a 200, when available
    assert response.headers["x-amzn-requestid"]
    payload = response.json()["payload"]
    assert len(payload) == 2
    first = payload[0]
    assert set(first) == {"marketplace", "storeName", "participation"}
    assert first["marketplace"] == {
        "id": US, "name": "Amazon.com", "countryCode": "US", "defaultCurrencyCode": "USD",
        "defaultLanguageCode": "en_US", "domainName": "www.amazon.com",
    }
    assert first["storeName"] == "Blue Kettle"
    assert first["participation"] == {"isParticipating": True, "hasSuspendedListings": False}


def test_missing_access_token(http, amazon):
    # Amazon's documented example of this answer.
    error = assert_error_envelope(participations(http, amazon.url, None), 403, "Unauthorized")
    assert error == {"code": "Unauthorized", "message": "Access to requested resource is denied.",
                     "details": "Access token is missing in the request header."}
    assert amazon.calls == [(PARTICIPATIONS_PATH, None)]


def test_regional_endpoints_list_their_own_marketplaces_and_one_unknown(http, amazon):
    token = access_token(http, amazon, "Atzr|standin-valid-regions")
    for region in ("NA", "EU", "FE"):
        payload = participations(http, amazon.endpoints[region], token).json()["payload"]
        ids = [p["marketplace"]["id"] for p in payload]
        known = [mid for mid in ids if marketplace_by_id(mid)]
        assert known == [mp.marketplace_id for mp in marketplaces_in(region)]
        assert len(ids) == len(known) + 1  # one marketplace the portal does not know
    assert "A2ZV50J4W1RKNI" in [p["marketplace"]["id"] for p in participations(
        http, amazon.endpoints["NA"], token).json()["payload"]]


def test_foreign_access_token_is_refused(http, amazon):
    with StandinAmazon() as other:
        other.register(TOKEN, seller_id=SELLER)
        foreign = access_token(http, other)
    assert_error_envelope(participations(http, amazon.url, foreign), 403, "Unauthorized")
    assert_error_envelope(participations(http, amazon.url, "Atza|made-up"), 403, "Unauthorized")


def test_expired_access_token_is_refused(http, amazon):
    token = access_token(http, amazon)
    amazon.advance(3599)
    assert participations(http, amazon.url, token).status_code == 200
    amazon.advance(2)
    error = assert_error_envelope(participations(http, amazon.url, token), 403, "Unauthorized")
    assert "expired" in error["details"]


def test_revoked_access_token_is_refused(http, amazon):
    token = access_token(http, amazon)
    amazon.revoke_access_tokens(TOKEN)
    assert_error_envelope(participations(http, amazon.url, token), 403, "Unauthorized")


def test_each_call_is_recorded_with_the_seller_of_its_token(http, amazon):
    amazon.register("Atzr|second", seller_id="A2SECONDSELLER", marketplaces=(DE,))
    first, second = access_token(http, amazon), access_token(http, amazon, "Atzr|second")
    participations(http, amazon.url, second)
    participations(http, amazon.url, first)
    assert amazon.calls == [(PARTICIPATIONS_PATH, "A2SECONDSELLER"),
                            (PARTICIPATIONS_PATH, SELLER)]
    amazon.reset_counts()
    assert amazon.calls == [] and sum(amazon.counts.values()) == 0


def test_region_paths_refuse_a_seller_of_another_region(http, amazon):
    amazon.register("Atzr|eu-seller", seller_id=SELLER, marketplaces=(DE,), region="EU")
    token = access_token(http, amazon, "Atzr|eu-seller")
    assert_error_envelope(participations(http, amazon.endpoints["NA"], token), 403, "Unauthorized")
    assert participations(http, amazon.endpoints["EU"], token).status_code == 200
    assert participations(http, amazon.endpoint, token).status_code == 200


def test_throttled_answers_like_amazon_then_answers(http, amazon):
    amazon.register(TOKEN, seller_id=SELLER, scenario="throttled_once")
    token = access_token(http, amazon)
    first = participations(http, amazon.url, token)
    error = assert_error_envelope(first, 429, "QuotaExceeded")
    assert "details" not in error
    assert first.headers["x-amzn-errortype"] == "TooManyRequestsException"
    assert "retry-after" not in first.headers and "x-amzn-ratelimit-limit" not in first.headers
    assert participations(http, amazon.url, token).status_code == 200


def test_throttled_is_always_429(http, amazon):
    amazon.register(TOKEN, seller_id=SELLER, scenario="throttled")
    token = access_token(http, amazon)
    assert [participations(http, amazon.url, token).status_code for _ in range(3)] == [429] * 3


@pytest.mark.parametrize("scenario,status,content_type,code,details", [
    ("error500", 500, "application/json", "InternalFailure", None),
    ("html", 200, "text/html", None, None),
    ("html_503", 503, "text/html", None, None),
    ("malformed", 200, "application/json", None, None),
    ("invalid_input", 400, "application/json", "InvalidInput", None),
    ("forbidden", 403, "application/json", "Unauthorized", ""),
    ("lwa_secret_expired", 403, "application/json", "Unauthorized",
     "The LWA secret token you provided has expired."),
    ("missing_token", 403, "application/json", "Unauthorized",
     "Access token is missing in the request header."),
    ("unauthorized_401", 401, "application/json", "Unauthorized", None),
    ("not_found_404", 404, "application/json", "NotFound", None),
    ("too_large_413", 413, "application/json", "RequestEntityTooLarge", None),
    ("unsupported_415", 415, "application/json", "UnsupportedMediaType", None),
])
def test_failure_scenarios_on_the_wire(http, amazon, scenario, status, content_type, code, details):
    amazon.register(TOKEN, seller_id=SELLER, scenario=scenario)
    response = participations(http, amazon.url, access_token(http, amazon))
    assert response.status_code == status
    assert response.headers["content-type"].startswith(content_type)
    assert response.headers["x-amzn-requestid"] == amazon.request_ids[-1]
    if code:
        error = assert_error_envelope(response, status, code)
        assert error.get("details") == details
        if status == 403:
            assert error["message"] == "Access to requested resource is denied."
    if scenario == "malformed":
        with pytest.raises(ValueError):
            response.json()


def test_every_answer_carries_a_request_id(http, amazon):
    answers = [http.get(amazon.url + "/nowhere"), http.get(amazon.token_url), grant(http, amazon),
               http.get(amazon.url + "/apps/authorize/consent", params={"state": "s"})]
    ids = [answer.headers["x-amzn-requestid"] for answer in answers]
    assert len(set(ids)) == len(ids) and ids == amazon.request_ids


# -- authorization codes and the consent redirect ------------------------------------------------

def test_auth_code_is_single_use(http, amazon):
    code = amazon.issue_auth_code(TOKEN)
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": "https://portal.example/cb", **CLIENT}
    response = http.post(amazon.token_url, data=form)
    assert response.status_code == 200
    body = response.json()
    assert body["refresh_token"] == TOKEN
    assert participations(http, amazon.url, body["access_token"]).status_code == 200
    again = http.post(amazon.token_url, data=form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_auth_code_expires_after_five_minutes(http, amazon):
    form = {"grant_type": "authorization_code", **CLIENT}
    fresh = amazon.issue_auth_code(TOKEN)
    amazon.advance(299)
    assert http.post(amazon.token_url, data={**form, "code": fresh}).status_code == 200
    stale = amazon.issue_auth_code(TOKEN)
    amazon.advance(301)
    response = http.post(amazon.token_url, data={**form, "code": stale})
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    unknown = http.post(amazon.token_url, data={**form, "code": "ANnever"})
    assert unknown.json()["error"] == "invalid_grant"


def test_auth_code_survives_a_wrong_client_secret(http, amazon):
    code = amazon.issue_auth_code(TOKEN)
    form = {"grant_type": "authorization_code", "code": code, **CLIENT}
    assert http.post(amazon.token_url,
                     data={**form, "client_secret": "wrong"}).status_code == 401
    assert http.post(amazon.token_url, data=form).status_code == 200


def test_issue_auth_code_and_register_validate_input(amazon):
    with pytest.raises(ValueError):
        amazon.issue_auth_code("Atzr|unknown")
    with pytest.raises(ValueError):
        amazon.register("Atzr|x", seller_id=SELLER, scenario="nope")
    with pytest.raises(ValueError):
        amazon.register("Atzr|x", seller_id=SELLER, marketplaces=("NOTAMARKETPLACE",))


def test_consent_redirects_back_with_state_seller_and_code(http, amazon):
    params = {"application_id": amazon.app_id, "state": "one-time-state",
              "redirect_uri": "https://portal.example/amazon/callback", "standin_seller_id": "A3CONSENTSELLER"}
    page = http.get(amazon.url + "/apps/authorize/consent", params=params)
    assert page.status_code == 200 and "A3CONSENTSELLER" in page.text and "Confirm" in page.text
    response = http.post(amazon.url + "/apps/authorize/consent", data={**params, "action": "confirm"})
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert location.netloc == "portal.example" and location.path == "/amazon/callback"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert set(query) == {"state", "selling_partner_id", "spapi_oauth_code"}
    assert query["state"] == "one-time-state"
    assert query["selling_partner_id"] == "A3CONSENTSELLER"
    exchange = http.post(amazon.token_url, data={
        "grant_type": "authorization_code", "code": query["spapi_oauth_code"],
        "redirect_uri": params["redirect_uri"], **CLIENT})
    refresh_token = exchange.json()["refresh_token"]
    assert amazon.seller_id_for(refresh_token) == "A3CONSENTSELLER"
    missing = http.get(amazon.url + "/apps/authorize/consent", params={"state": "s"})
    assert missing.status_code == 400


def test_consent_errors_stay_on_seller_central(http, amazon):
    amazon.app_draft = True
    amazon.redirect_uris = frozenset({"https://portal.example/amazon/callback"})
    base = {"application_id": amazon.app_id, "state": "s1", "redirect_uri": "https://portal.example/amazon/callback"}
    draft = http.get(amazon.url + "/apps/authorize/consent", params=base)
    assert draft.status_code == 400 and "MD1000" in draft.text and "location" not in draft.headers
    wrong = http.get(amazon.url + "/apps/authorize/consent",
                     params={**base, "version": "beta", "redirect_uri": "https://evil.example/cb"})
    assert wrong.status_code == 400 and "MD5101" in wrong.text
    cancel = http.post(amazon.url + "/apps/authorize/consent", data={**base, "version": "beta", "action": "cancel"})
    assert cancel.status_code == 200 and "location" not in cancel.headers and "cancelled" in cancel.text
    slow = http.post(amazon.url + "/apps/authorize/consent",
                     data={**base, "version": "beta", "action": "confirm", "slow": "1"})
    code = parse_qs(urlsplit(slow.headers["location"]).query)["spapi_oauth_code"][0]
    expired = http.post(amazon.token_url, data={"grant_type": "authorization_code", "code": code,
                                                "redirect_uri": base["redirect_uri"], **CLIENT})
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


# -- server behaviour ----------------------------------------------------------------------------

def test_latency_is_applied_and_requests_run_concurrently(amazon):
    amazon.latency = 0.3
    started = time.monotonic()
    with httpx.Client(timeout=5) as client, ThreadPoolExecutor(max_workers=5) as pool:
        statuses = list(pool.map(lambda _: client.get(amazon.url + "/nowhere").status_code,
                                 range(5)))
    elapsed = time.monotonic() - started
    assert statuses == [404] * 5
    assert 0.3 <= elapsed < 1.2  # five 0.3 s requests in parallel, not 1.5 s in series
    assert amazon.max_concurrent == 5


def test_stop_does_not_hang_on_a_slow_request(http):
    amazon = StandinAmazon(slow_seconds=30).start()
    amazon.register(TOKEN, seller_id=SELLER, scenario="slow")
    token = access_token(http, amazon)
    url = amazon.url
    results = []
    worker = threading.Thread(target=lambda: results.append(
        participations(http, url, token).status_code))
    worker.start()
    while amazon.counts["participations"] == 0:
        time.sleep(0.01)
    started = time.monotonic()
    amazon.stop()
    worker.join(timeout=5)
    assert time.monotonic() - started < 2
    assert results == [200]
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + PARTICIPATIONS_PATH, timeout=1)


def test_cli_serves_until_interrupted():
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.standin", "--port", "0", "--latency", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first_line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", first_line).group(0)
        response = httpx.post(url + "/auth/o2/token", timeout=5, data={
            "grant_type": "refresh_token", "refresh_token": "Atzr|standin-valid-cli", **CLIENT})
        assert response.status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
