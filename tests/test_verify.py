"""Verify against a stand-in Amazon over real HTTP: outcomes in the row, throttle, lifecycle, CLI."""
import re
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from portal.extensions import db
from portal.models import AuditEvent, Shop, utcnow
from tests.conftest import PASSWORD

HX = {"HX-Request": "true"}
US, CA, MX, DE, FR = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8", "A1PA6795UKMFR9", "A13V1IB3VIYZZH"


@pytest.fixture
def admin_client(amazon_app, people):
    client = amazon_app.test_client()
    client.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
    return client


def bind(people, standin, *, scenario="valid", token=None, seller="A1000000000001", region="NA", marketplaces=(US,),
         participating=None, name=None, store_name="Best Store", assign_member=False):
    from portal.models import ShopAssignment
    from portal.shops.services import create_shop

    admin, member = people
    token = token or f"Atzr|verify-{scenario}-{seller}-0123456789"
    standin.register(token, seller_id=seller, scenario=scenario, marketplaces=participating or marketplaces,
                     store_name=store_name, region=region)
    result = create_shop(admin, name=name or f"{scenario} shop {seller}", region=region,
                         mode="multi" if len(marketplaces) > 1 else "single", marketplace_ids=list(marketplaces),
                         seller_id=seller, token=token)
    if assign_member:
        result.shop.assignments.append(ShopAssignment(user_id=member.id))
    db.session.commit()
    return result.shop


def clock_after(moment, seconds: int) -> str:
    """HH:MM in Asia/Shanghai of `moment` + `seconds`, rounded up to the whole minute (the date in front
    when that is not today there)."""
    shanghai = ZoneInfo("Asia/Shanghai")
    local = (moment + timedelta(seconds=seconds)).astimezone(shanghai)
    if local.second or local.microsecond:
        local = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return local.strftime("%H:%M" if local.date() == utcnow().astimezone(shanghai).date() else "%Y-%m-%d %H:%M")


def verify(client, shop, view="all"):
    response = client.post(f"/shops/{shop.id}/verify", data={"view": view}, headers=HX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def fresh(shop):
    db.session.expire_all()
    return db.session.get(Shop, shop.id)


SCENARIO_TEXT = {
    "valid": ("verified", "Verified"),
    "revoked": ("failed", "Amazon refused this shop's authorization"),
    "forbidden": ("failed", "different region than the one chosen here"),
    "partial": ("failed", "does not sell in: Canada"),
    "suspended": ("verified", "suspended (inactive) listings in: United States"),
    "invalid_input": ("failed", "Amazon rejected the check as invalid"),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIO_TEXT))
def test_conclusive_outcomes_are_shown_in_the_row(admin_client, people, standin, scenario):
    marketplaces = (US, CA) if scenario == "partial" else (US,)
    shop = bind(people, standin, scenario=scenario, marketplaces=marketplaces)
    body = verify(admin_client, shop)
    status, text = SCENARIO_TEXT[scenario]
    assert body.lstrip().startswith(f'<tr id="shop-{shop.id}"') and "<html" not in body
    assert text in body.replace("&#39;", "'")
    assert fresh(shop).check_status == status


def test_verified_row_shows_store_name(admin_client, people, standin):
    shop = bind(people, standin, store_name="Sunny Gadgets")
    body = verify(admin_client, shop)
    assert "Amazon store: Sunny Gadgets" in body and "Verified" in body
    assert fresh(shop).last_good_at is not None
    event = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "shop.verified")).one()
    assert (event.object_id, event.outcome, event.detail, event.object_label) == (shop.id, "success", "verified",
                                                                                  shop.name)
    assert (event.user_id, event.user_label, event.company_id) == (people[0].id, "admin@example.com",
                                                                   shop.company_id)
    assert event.ip == "127.0.0.1"


@pytest.mark.parametrize("scenario,text", [
    ("throttled", "You can check again at"),
    ("error500", "could not be reached"),
    ("html_503", "could not be reached"),
    ("slow", "could not be reached"),
    ("html", "answered with something unexpected"),
    ("malformed", "answered with something unexpected"),
    ("bad_client", "the portal's own application credentials"),
    # The portal's own credentials, not the shop: an expired LWA secret (403) and any SP-API 401.
    ("lwa_secret_expired", "the portal's own LWA client secret has expired"),
    ("unauthorized_401", "the portal's own application credentials"),
    # Amazon refused for a reason the shop's input did not cause.
    ("not_found_404", "Amazon refused the request (code 404 NotFound)"),
    ("too_large_413", "Amazon refused the request (code 413 RequestEntityTooLarge)"),
    ("unsupported_415", "Amazon refused the request (code 415 UnsupportedMediaType)"),
    ("missing_token", "Amazon refused the request (code 403 Unauthorized)"),
    ("unauthorized_client", "Amazon refused the request (code 400 unauthorized_client)"),
    ("invalid_request", "Amazon refused the request (code 400 invalid_request)"),
])
def test_amazon_failures_never_overwrite_a_good_status(amazon_app, admin_client, people, standin, scenario, text):
    token = "Atzr|verify-flaky-0123456789abcdef"
    shop = bind(people, standin, token=token)
    verify(admin_client, shop)
    assert fresh(shop).check_status == "verified"
    db.session.execute(db.update(type(shop.authorization)).values(check_claimed_at=None))  # past the throttle
    db.session.commit()
    amazon_app.extensions["portal_amazon_client"]._cache.clear()  # the next check exchanges the token again
    standin.register(token, seller_id="A1000000000001", scenario=scenario)
    body = verify(admin_client, shop).replace("&#39;", "'")
    after = fresh(shop)
    assert after.check_status == "verified" and after.attempt_code != "verified"
    assert "Verified" in body and "Latest attempt" in body and text in body and "Last good check" in body


def test_throttled_is_not_retried_and_the_next_window_verifies(admin_client, people, standin):
    shop = bind(people, standin, scenario="throttled_once")
    body = verify(admin_client, shop).replace("&#39;", "'")
    after = fresh(shop)
    assert after.check_status == "never" and after.attempt_code == "throttled"
    # The clock time Amazon allows the next check (63 s after the attempt, rounded up to the minute, in
    # the portal's zone): a "try again in 63 seconds" would still be on the page hours later.
    assert f"You can check again at {clock_after(after.attempt_at, 63)}." in body
    assert standin.counts["participations"] == 1  # Amazon's 429 has no Retry-After: no blind retry
    db.session.execute(db.update(type(shop.authorization)).values(check_claimed_at=None))  # a window later
    db.session.commit()
    verify(admin_client, shop)
    assert fresh(shop).check_status == "verified"
    assert standin.counts["participations"] == 2


def test_an_old_amazon_throttle_says_the_check_is_possible_now(admin_client, people, standin):
    shop = bind(people, standin, scenario="throttled_once")
    verify(admin_client, shop)
    db.session.execute(db.update(Shop).where(Shop.id == shop.id).values(attempt_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()
    page = admin_client.get(f"/shops/{shop.id}").get_data(as_text=True)
    assert "You can check again now." in page and "You can check again at" not in page
    assert "Latest attempt 10 minutes ago did not get an answer" in page


def test_the_latest_attempts_request_id_is_stored_and_shown(admin_client, people, standin):
    shop = bind(people, standin, scenario="not_found_404")
    response = admin_client.post(f"/shops/{shop.id}/verify", data={"view": "detail"}, headers=HX)
    request_id = standin.request_ids[-1]
    assert fresh(shop).attempt_request_id == request_id
    assert request_id in response.get_data(as_text=True)
    page = admin_client.get(f"/shops/{shop.id}").get_data(as_text=True)
    assert "Amazon request ID of the latest attempt (for Amazon support):" in page and request_id in page


def test_the_default_throttle_is_63_seconds(amazon_app):
    from config import Config

    assert Config.VERIFY_THROTTLE_SECONDS == 63


def test_get_client_builds_one_client_under_threads(amazon_app):
    from portal.shops.verify import get_client

    amazon_app.extensions.pop("portal_amazon_client", None)
    barrier = threading.Barrier(16)
    clients = []

    def build():
        with amazon_app.app_context():
            barrier.wait()
            clients.append(get_client())

    workers = [threading.Thread(target=build) for _ in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(clients) == 16 and len({id(client) for client in clients}) == 1
    assert amazon_app.extensions["portal_amazon_client"] is clients[0]


def test_startup_warns_about_an_app_id_in_place_of_the_lwa_client_id(app_factory, caplog):
    app_factory(AMAZON_LWA_CLIENT_ID="amzn1.sp.solution.0a1b2c3d-aaaa-bbbb")
    assert "AMAZON_LWA_CLIENT_ID does not look like an LWA client ID" in caplog.text
    caplog.clear()
    app_factory(AMAZON_LWA_CLIENT_ID="amzn1.application-oa2-client.0a1b2c3d4e5f")
    assert "AMAZON_LWA_CLIENT_ID" not in caplog.text


def test_not_configured_names_the_settings_without_calling(app_factory, standin, make_user, login, make_shop):
    app = app_factory()
    with app.app_context():
        admin = make_user(role="admin")
        shop = make_shop(admin)
        client = app.test_client()
        login(client, admin)
        body = verify(client, shop)
        assert "settings are missing: AMAZON_LWA_CLIENT_ID, AMAZON_LWA_CLIENT_SECRET" in body
        assert fresh(shop).check_status == "never"
        assert standin.counts["token"] == 0


def test_ten_rapid_clicks_make_one_upstream_call(admin_client, people, standin):
    shop = bind(people, standin)
    bodies = [verify(admin_client, shop) for _ in range(10)]
    assert standin.counts["participations"] == 1 and standin.counts["token"] == 1
    claimed = fresh(shop).authorization.check_claimed_at
    assert (f"Already checked with Amazon just now; you can check again at {clock_after(claimed, 63)}."
            in bodies[-1])
    assert all("Verified" in body for body in bodies)


def test_concurrent_clicks_make_one_upstream_call(amazon_app, people, standin):
    from werkzeug.serving import make_server

    import httpx

    shop_id = bind(people, standin).id
    standin.latency = 0.2
    server = make_server("127.0.0.1", 0, amazon_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with httpx.Client(base_url=base) as http:
            page = http.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            http.post("/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf_token": token})
            token = re.search(r'"X-CSRFToken": "([^"]+)"', http.get("/shops").text).group(1)
            barrier = threading.Barrier(10)
            statuses = []

            def click():
                barrier.wait()
                statuses.append(http.post(f"/shops/{shop_id}/verify", data={"view": "all"},
                                          headers={**HX, "X-CSRFToken": token}).status_code)

            workers = [threading.Thread(target=click) for _ in range(10)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert statuses == [200] * 10
    assert standin.counts["participations"] == 1


def test_one_check_covers_every_shop_of_the_seller(admin_client, people, standin):
    token = "Atzr|verify-two-shops-0123456789"
    us = bind(people, standin, token=token, marketplaces=(US,), participating=(US, CA), name="US")
    from portal.shops.services import create_shop

    ca = create_shop(people[0], name="CA", region="NA", mode="single", marketplace_ids=[CA],
                     seller_id="A1000000000001", token=None).shop
    db.session.commit()
    verify(admin_client, us)
    assert fresh(us).check_status == "verified" and fresh(ca).check_status == "verified"
    assert standin.counts["participations"] == 1


def test_member_can_verify_assigned_shop_only(amazon_app, people, standin):
    mine = bind(people, standin, seller="A2000000000002", assign_member=True)
    other = bind(people, standin, seller="A3000000000003")
    client = amazon_app.test_client()
    client.post("/login", data={"email": "member@example.com", "password": PASSWORD})
    assert "Verified" in verify(client, mine, view="mine")
    response = client.post(f"/shops/{other.id}/verify", data={"view": "mine"}, headers=HX)
    assert response.status_code == 404
    assert fresh(other).check_status == "never" and standin.counts["participations"] == 1


def test_verify_without_htmx_redirects_to_the_shop(admin_client, people, standin):
    shop = bind(people, standin)
    response = admin_client.post(f"/shops/{shop.id}/verify")
    assert response.status_code == 303 and response.headers["Location"] == f"/shops/{shop.id}"
    assert fresh(shop).check_status == "verified"


def test_detail_page_verify_panel(admin_client, people, standin):
    shop = bind(people, standin, scenario="revoked")
    response = admin_client.post(f"/shops/{shop.id}/verify", data={"view": "detail"}, headers=HX)
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div class="status" id="status-panel">') and "Re-authorize" in body


def test_reauthorize_resets_dates_and_verifies_at_once(admin_client, people, standin):
    shop = bind(people, standin, scenario="revoked", token="Atzr|verify-old-token-0123456789")
    verify(admin_client, shop)
    assert fresh(shop).check_status == "failed"
    shop = fresh(shop)
    shop.authorization.authorized_at = utcnow() - timedelta(days=400)
    shop.authorization.check_claimed_at = None  # the throttle window of the Verify above has passed
    db.session.commit()
    standin.register("Atzr|verify-new-token-0123456789", seller_id="A1000000000001", scenario="valid")
    response = admin_client.post(f"/shops/{shop.id}/reauthorize",
                                 data={"token": "Atzr|verify-new-token-0123456789", "authorized": "y"}, headers=HX)
    assert response.headers["HX-Redirect"] == f"/shops/{shop.id}"
    after = fresh(shop)
    assert after.check_status == "verified"
    assert utcnow() - after.authorization.authorized_at < timedelta(minutes=1)


@pytest.mark.parametrize("age_days,state", [(0, "valid"), (334, "valid"), (336, "expiring"), (365, "expired"),
                                            (366, "expired")])
def test_lifecycle_with_a_fixed_clock(amazon_app, people, standin, age_days, state):
    from portal.shops.lifecycle import lifecycle

    shop = bind(people, standin)
    now = utcnow()
    shop.authorization.authorized_at = now - timedelta(days=age_days, minutes=1)
    assert lifecycle(shop.authorization, now=now).state == state


def test_attention_banner_and_filter(admin_client, people, standin):
    expired = bind(people, standin, seller="A4000000000004", name="Old shop")
    failing = bind(people, standin, seller="A5000000000005", scenario="revoked", name="Broken shop")
    bind(people, standin, seller="A6000000000006", name="Fine shop")
    expired.authorization.authorized_at = utcnow() - timedelta(days=370)
    db.session.commit()
    verify(admin_client, failing)
    page = admin_client.get("/shops").get_data(as_text=True)
    assert "Needs attention:" in page and "1 shop's authorization expired" in page and "1 failed its check" in page
    listed = admin_client.get("/shops", query_string={"status": "attention"}, headers=HX).get_data(as_text=True)
    assert "Old shop" in listed and "Broken shop" in listed and "Fine shop" not in listed


def test_member_banner_counts_only_their_shops(amazon_app, people, standin):
    other = bind(people, standin, seller="A7000000000007", name="Not mine")
    other.authorization.authorized_at = utcnow() - timedelta(days=370)
    db.session.commit()
    client = amazon_app.test_client()
    client.post("/login", data={"email": "member@example.com", "password": PASSWORD})
    page = client.get("/my-shops").get_data(as_text=True)
    assert "Needs attention:" not in page and "Not mine" not in page


def test_cli_verify_shops(amazon_app, people, standin):
    good = [bind(people, standin, seller=f"A80000000000{i}", name=f"Good {i}") for i in range(4)]
    bad = bind(people, standin, seller="A9000000000009", scenario="revoked", name="Bad")
    standin.latency = 0.05
    runner = amazon_app.test_cli_runner()
    result = runner.invoke(args=["verify-shops", "--workers", "2"])
    assert result.exit_code == 1, result.output
    assert "failed: invalid_grant" in result.output and re.search(r"verified\s+4", result.output)
    assert "[5/5]" in result.output
    assert standin.max_concurrent <= 2
    events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "shop.verified")).all()
    assert sorted((e.object_id, e.outcome, e.detail, e.ip) for e in events) == sorted(
        [(shop.id, "success", "verified", "cli") for shop in good] + [(bad.id, "failure", "invalid_grant", "cli")])
    again = runner.invoke(args=["verify-shops", "--shop", str(good[0].id)])
    assert again.exit_code == 0 and re.search(r"skipped\s+1", again.output)
    assert bad.id


def test_cli_verify_shops_clear_errors(amazon_app, people, app_factory):
    runner = amazon_app.test_cli_runner()
    result = runner.invoke(args=["verify-shops", "--company", "999"])
    assert result.exit_code == 2 and "No company with id 999" in result.output
    assert "No shops to verify." in runner.invoke(args=["verify-shops"]).output


def test_cli_refuses_when_amazon_not_configured(app):
    result = app.test_cli_runner().invoke(args=["verify-shops"])
    assert result.exit_code == 1 and "Amazon is not configured: set AMAZON_LWA_CLIENT_ID" in result.output
