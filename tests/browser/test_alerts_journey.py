"""Alerts in a real browser (issue 15): an admin adds a DingTalk channel with a signing secret and presses
Send test, and the platform's answer shows in the row; a shop whose authorization expires in 7 days gives
exactly one message on that robot (sent by a real huey consumer, signed, mentioning the assigned member),
and the member sees the alert in the portal, in Chinese."""
import base64
import hashlib
import hmac
import time
from datetime import timedelta

import pytest

from tests.consumers import consumer

from .conftest import PASSWORD, seed_company, sign_in
from .helpers import SameDocument, dialog

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
expect = sync_api.expect

US = "ATVPDKIKX0DER"
SECRET = "SECb7f3c0ffee1234567890abcdef1234567890abcdef1234567890abcdef12"
TOKEN = "dingtalk-browser-robot-0001"
MOBILE = "13800001111"


@pytest.fixture
def robots():
    from devtools.robots import StandinRobots

    server = StandinRobots().start()
    yield server
    server.stop()


@pytest.fixture
def server(live_server_factory, robots):
    from portal import queue

    live = live_server_factory(ALERT_ALLOWED_HOSTS=robots.origin, PORTAL_BASE_URL="https://portal.example.com")
    queue.huey.storage.flush_all()
    yield live


def _shop_expiring_in_7_days(live):
    """A shop authorized 358 days ago (7 days of its 365 left), assigned to the member Mia."""
    from portal.extensions import db
    from portal.models import ShopAssignment, User, utcnow
    from portal.shops.services import create_shop

    with live.app.app_context():
        admin = db.session.scalars(db.select(User).where(User.email == "ada@example.com")).one()
        member = db.session.scalars(db.select(User).where(User.email == "mia@example.com")).one()
        member.alert_mobile = MOBILE
        shop = create_shop(admin, name="华南旗舰店", region="NA", mode="single", marketplace_ids=[US],
                           seller_id="A1ALERTSELLER7", token="Atzr|alerts-browser-0001-0123456789",
                           authorized_at=utcnow() - timedelta(days=358, hours=1)).shop
        shop.assignments.append(ShopAssignment(user_id=member.id))
        db.session.commit()
        shop_id = shop.id
        db.session.remove()
    return shop_id


def _wait_for(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _signed_right(received) -> bool:
    """DingTalk's rule: sign = base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}"))."""
    timestamp = received.query["timestamp"]
    digest = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    return received.query["sign"] == base64.b64encode(digest).decode()


def test_dingtalk_channel_send_test_then_one_expiry_message_and_the_member_sees_it(server, robots, new_page):
    seed_company(server, members=[("Mia Member", "mia@example.com")])
    shop_id = _shop_expiring_in_7_days(server)
    webhook = robots.add("dingtalk", TOKEN, secret=SECRET)

    # The admin adds a DingTalk channel with its signing secret, in the dialog.
    page = new_page()
    sign_in(page, server, "ada@example.com")
    page.goto(server.url + "/notifications")
    expect(page.get_by_test_id("channels-empty")).to_be_visible()
    page.get_by_role("button", name="New channel").or_(page.get_by_role("link", name="New channel")).first.click()
    box = dialog(page)
    expect(box.get_by_role("heading", name="New channel")).to_be_visible()
    expect(box.get_by_label("Platform")).to_have_value("dingtalk")
    box.get_by_label("Channel name").fill("运营群")
    box.get_by_label("Webhook address").fill(webhook)
    box.get_by_label("Signing secret (optional)").fill(SECRET)
    box.get_by_role("button", name="Save").click()
    expect(box).to_be_hidden()
    row = page.get_by_test_id("channel-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("运营群")
    expect(row.get_by_test_id("signed-badge")).to_be_visible()
    html = page.content()
    assert SECRET not in html and TOKEN not in html  # write-only: never rendered back

    # Send test: the platform's own answer, inline, without a page load.
    same = SameDocument(page)
    row.get_by_test_id("send-test").click()
    expect(row.get_by_test_id("test-answer")).to_contain_text("DingTalk answered", timeout=15_000)
    expect(row.get_by_test_id("platform-answer")).to_contain_text("0 ok")
    assert same.holds()
    tests = robots.accepted("dingtalk")
    assert len(tests) == 1 and _signed_right(tests[0])
    assert tests[0].body["msgtype"] == "markdown"

    # The job queue's scan finds the shop 7 days from expiry: one message, sent by a real consumer.
    from portal import queue
    from portal.models import utcnow

    with server.app.app_context():
        found = queue.run_alert_scan(utcnow())
        assert found is not None and found.events == 1 and len(found.message_ids) == 1
    with consumer():
        assert _wait_for(lambda: len(robots.accepted("dingtalk")) == 2), robots.received
        with server.app.app_context():  # the next scan (a later slot) finds nothing new
            again = queue.run_alert_scan(utcnow() + timedelta(minutes=server.app.config["ALERTS_SCAN_MINUTES"]))
            assert again is not None and again.events == 0 and again.message_ids == []
        time.sleep(1.0)
    alerts = robots.accepted("dingtalk")[1:]
    assert len(alerts) == 1, [r.body for r in robots.received]
    alert = alerts[0]
    assert _signed_right(alert)
    text = alert.body["markdown"]["text"]
    assert "华南旗舰店" in text and "A1ALERTSELLER7" in text and "6 天后到期" in alert.body["markdown"]["title"]  # 6 days 23 h left; in the company language (zh by default)
    assert f"https://portal.example.com/shops/{shop_id}" in text
    assert alert.body["at"]["atMobiles"] == [MOBILE] and f"@{MOBILE}" in text

    # The assigned member sees the alert in the portal: the count in the header and the row on Alerts.
    member = new_page(locale="zh-CN")
    member.goto(server.url + "/login")
    member.get_by_label("邮箱").fill("mia@example.com")
    member.get_by_label("密码", exact=True).fill(PASSWORD)
    member.get_by_role("button", name="登录").click()
    expect(member).to_have_url(server.url + "/my-shops")
    count = member.get_by_test_id("alert-count")
    expect(count).to_have_text("1")
    member.goto(server.url + "/alerts")
    alert_row = member.locator(f'tr[data-testid="alert-row"][data-shop-id="{shop_id}"]')
    expect(alert_row).to_have_count(1)
    expect(alert_row).to_contain_text("华南旗舰店")
    expect(alert_row).to_contain_text("亚马逊授权将在 6 天后到期")
    alert_row.get_by_test_id("mark-seen").click()
    expect(alert_row).to_have_attribute("data-seen", "true")
    expect(member.get_by_test_id("alert-count")).to_be_hidden()
